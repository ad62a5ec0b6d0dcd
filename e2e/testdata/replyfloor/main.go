// Command replyfloor is a proxy-wasm test filter that does the least any
// filter answering a request itself must do: read the request path (one
// host call) and send a local reply prebuilt at start, the size and shape
// of mcpgate's protected-resource metadata (status 200, three headers, a
// 400-byte JSON body). Its benchmark (e2e BenchmarkReplyFloor) is the
// floor under mcpgate's discovery replies on this host.
package main

import (
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

var (
	body    = []byte(`{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://mcp.example.com"],"scopes_supported":["mcp:tools"],"bearer_methods_supported":["header"],"resource_name":"` + strings.Repeat("x", 220) + `"}` + "\n")
	headers = [][2]string{{"content-type", "application/json"}, {"cache-control", "public, max-age=3600"}, {"access-control-allow-origin", "*"}}
)

type replyFloor struct{ types.DefaultHttpContext }

func (*replyFloor) OnHttpRequestHeaders(int, bool) types.Action {
	if p, err := proxywasm.GetHttpRequestHeader(":path"); err == nil && strings.HasPrefix(p, "/.well-known/") {
		_ = proxywasm.SendHttpResponse(200, headers, body, -1)
		return types.ActionPause
	}
	return types.ActionContinue
}

func init() {
	proxywasm.SetHttpContext(func(uint32) types.HttpContext { return &replyFloor{} })
}

func main() {}
