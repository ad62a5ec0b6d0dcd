// Command floor is a proxy-wasm test filter that does the least any bearer
// token filter must do on an authorized request, and nothing more: read
// the Authorization header (one host call, which the SDK returns without a
// copy), remove it before the upstream and set one identity header. It
// decides nothing (no parsing, no cache, no clock). Its benchmark (e2e
// BenchmarkFloor) is the floor under which a Go proxy-wasm filter on this
// host cannot go.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

type floor struct{ types.DefaultHttpContext }

func (*floor) OnHttpRequestHeaders(int, bool) types.Action {
	if v, err := proxywasm.GetHttpRequestHeader("authorization"); err == nil && len(v) > 7 {
		_ = proxywasm.RemoveHttpRequestHeader("authorization")
		_ = proxywasm.ReplaceHttpRequestHeader("x-mcpgate-subject", "alice")
	}
	return types.ActionContinue
}

func init() {
	proxywasm.SetHttpContext(func(uint32) types.HttpContext { return &floor{} })
}

func main() {}
