// Command guardfloor is a proxy-wasm test filter that makes exactly the
// host calls mcpgate's guard makes for an authorized request with a cached
// token, and decides nothing: read the whole request header map (one
// call), remove Authorization, set the three identity headers, record the
// decision, subject and client as filter state (three properties, the
// audit trail), increment one counter and read the clock. Its benchmark
// (e2e BenchmarkGuardFloor) is the floor under mcpgate's cached-token
// request on this host, with the features mcpgate has by default.
//
// The plugin configuration, if any, is a comma-separated list of the
// parts to leave out ("props", "metric", "clock", "map"), so that the
// benchmark can price each part; with "map" left out, Authorization is
// read alone as the floor filter does.
package main

import (
	"strings"
	"time"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var (
	skip    = map[string]bool{}
	counter proxywasm.MetricCounter
	clock   int64
)

type plugin struct{ types.DefaultPluginContext }

func (*plugin) OnPluginStart(int) types.OnPluginStartStatus {
	if cfg, err := proxywasm.GetPluginConfiguration(); err == nil {
		for _, p := range strings.Split(string(cfg), ",") {
			skip[strings.TrimSpace(p)] = true
		}
	}
	counter = proxywasm.DefineCounterMetric("guardfloor.allowed")
	return types.OnPluginStartStatusOK
}

func (*plugin) NewHttpContext(uint32) types.HttpContext { return &guardFloor{} }

type guardFloor struct{ types.DefaultHttpContext }

func (*guardFloor) OnHttpRequestHeaders(int, bool) types.Action {
	token := ""
	if skip["map"] {
		token, _ = proxywasm.GetHttpRequestHeader("authorization")
	} else {
		hs, _ := proxywasm.GetHttpRequestHeaders()
		for _, kv := range hs {
			if kv[0] == "authorization" {
				token = kv[1]
			}
		}
	}
	if len(token) <= 7 {
		return types.ActionContinue
	}
	if !skip["clock"] {
		clock = time.Now().UnixNano()
	}
	if !skip["metric"] {
		counter.Increment(1)
	}
	if !skip["props"] {
		setProperty("mcpgate.decision", "allow")
		setProperty("mcpgate.subject", "alice")
		setProperty("mcpgate.client_id", "client")
	}
	_ = proxywasm.RemoveHttpRequestHeader("authorization")
	_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-subject", "alice")
	_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-client-id", "client")
	_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-scope", "mcp:tools")
	return types.ActionContinue
}

//go:wasmimport env proxy_set_property
func proxySetProperty(pathData *byte, pathSize uint32, valueData *byte, valueSize uint32) uint32

// setProperty sets a one-element property as mcpgate does: the name and
// value handed to the host as they are, with no allocation (the SDK's
// SetProperty copies both).
func setProperty(name, value string) {
	_ = proxySetProperty(unsafe.StringData(name), uint32(len(name)), unsafe.StringData(value), uint32(len(value)))
}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

func init() { proxywasm.SetVMContext(&vm{}) }

func main() {}
