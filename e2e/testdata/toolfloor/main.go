// Command toolfloor is a proxy-wasm test filter that makes exactly the
// host calls mcpgate's guard makes for an allowed tools/call on a
// resource with per-tool rules, with the default features, and decides
// nothing: the guard floor's (the whole request header map, Authorization
// removed, three identity headers, the decision, subject and client as
// filter state, one counter, the clock), then holding the request until
// its body is buffered, reading it (one host call), the tool's name as
// filter state and one audit line of the tool_call's size in the log. Its
// benchmark (e2e BenchmarkRatios/pertool/toolfloor) is the floor under
// mcpgate's per-tool body check on this host.
package main

import (
	"strings"
	"time"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var (
	counter proxywasm.MetricCounter
	clock   int64
	// auditLine is the size of mcpgate's tool_call audit line.
	auditLine = `{"audit":"mcpgate","time":"2026-12-07T01:00:00Z","event":"tool_call","sub":"alice","client_id":"client-1","resource":"https://mcp.example.com/tools/mcp","request_id":"` +
		strings.Repeat("0", 36) + `","method":"tools/call","tool":"admin_stats"}`
)

type plugin struct{ types.DefaultPluginContext }

func (*plugin) OnPluginStart(int) types.OnPluginStartStatus {
	counter = proxywasm.DefineCounterMetric("toolfloor.allowed")
	return types.OnPluginStartStatusOK
}

func (*plugin) NewHttpContext(uint32) types.HttpContext { return &toolFloor{} }

type toolFloor struct {
	types.DefaultHttpContext
	bytes int
}

func (*toolFloor) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	hs, _ := proxywasm.GetHttpRequestHeaders()
	token := ""
	for _, kv := range hs {
		if kv[0] == "authorization" {
			token = kv[1]
		}
	}
	if len(token) <= 7 || endOfStream {
		return types.ActionContinue
	}
	clock = time.Now().UnixNano()
	return types.ActionPause
}

func (f *toolFloor) OnHttpRequestBody(size int, endOfStream bool) types.Action {
	if !endOfStream {
		return types.ActionPause
	}
	if b, err := proxywasm.GetHttpRequestBody(0, size); err == nil {
		f.bytes += len(b)
	}
	proxywasm.LogInfo(auditLine)
	setProperty("mcpgate.tool", "admin_stats")
	counter.Increment(1)
	setProperty("mcpgate.decision", "allow")
	setProperty("mcpgate.subject", "alice")
	setProperty("mcpgate.client_id", "client")
	_ = proxywasm.RemoveHttpRequestHeader("authorization")
	_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-subject", "alice")
	_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-client-id", "client")
	_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-scope", "mcp:tools mcp:admin")
	return types.ActionContinue
}

//go:wasmimport env proxy_set_property
func proxySetProperty(pathData *byte, pathSize uint32, valueData *byte, valueSize uint32) uint32

// setProperty sets a one-element property as mcpgate does, without
// copies.
func setProperty(name, value string) {
	_ = proxySetProperty(unsafe.StringData(name), uint32(len(name)), unsafe.StringData(value), uint32(len(value)))
}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

func init() { proxywasm.SetVMContext(&vm{}) }

func main() {}
