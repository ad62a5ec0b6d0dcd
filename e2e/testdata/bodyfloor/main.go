// Command bodyfloor is a proxy-wasm test filter that does the least any
// filter deciding on the request body must do: the floor filter's header
// work (read Authorization, remove it, set one identity header), then hold
// the request until the whole body is buffered and read it into the VM
// (one host call). It decides nothing. Its benchmark (e2e
// BenchmarkBodyFloor) is the floor under mcpgate's per-tool body check.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

type bodyFloor struct {
	types.DefaultHttpContext
	bytes int
}

func (*bodyFloor) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	if v, err := proxywasm.GetHttpRequestHeader("authorization"); err == nil && len(v) > 7 {
		_ = proxywasm.RemoveHttpRequestHeader("authorization")
		_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-subject", "alice")
	}
	if endOfStream {
		return types.ActionContinue
	}
	return types.ActionPause
}

func (f *bodyFloor) OnHttpRequestBody(size int, endOfStream bool) types.Action {
	if !endOfStream {
		return types.ActionPause
	}
	if b, err := proxywasm.GetHttpRequestBody(0, size); err == nil {
		f.bytes += len(b)
	}
	return types.ActionContinue
}

func init() {
	proxywasm.SetHttpContext(func(uint32) types.HttpContext { return &bodyFloor{} })
}

func main() {}
