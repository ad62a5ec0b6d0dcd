package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestGuardRefusesAmbiguousBodies reproduces the per-tool scope bypass:
// with a token holding only mcp:tools, a body repeating "name", "method"
// or "params" (alone, escaped, in a batch, or with Mcp-Method/Mcp-Name
// headers agreeing with the first spelling) used to reach the MCP server,
// which keeps the last occurrence and ran admin_stats. Now each is a 400
// JSON-RPC error and the MCP server sees nothing.
func TestGuardRefusesAmbiguousBodies(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		tools := tg.mint(t, tg.base+"/mcp", "mcp:tools")
		for _, tc := range []struct {
			name, body string
			extra      []string
		}{
			{"repeated name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`, nil},
			{"escaped repeated name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"admin_stats","arguments":{}}}`, nil},
			{"repeated method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"admin_stats","arguments":{}},"method":"tools/call"}`, nil},
			{"repeated params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"admin_stats","arguments":{}}}`, nil},
			{"in a batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}]`, nil},
			{"name differing only by case", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"admin_stats","arguments":{}}}`, nil},
			{"headers agree with the first", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`,
				[]string{"Mcp-Method", "tools/call", "Mcp-Name", "echo"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tg.demo.Main.ResetSeen()
				st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(tc.body), mcpHeaders(tools, tc.extra...))
				var rpc struct {
					Error struct {
						Code int `json:"code"`
					} `json:"error"`
				}
				if st != http.StatusBadRequest || json.Unmarshal(body, &rpc) != nil || rpc.Error.Code != -32600 {
					t.Fatalf("status %d body %s, want 400 with JSON-RPC error -32600", st, body)
				}
				if seen := tg.demo.Main.Seen(); len(seen) != 0 {
					t.Fatalf("the MCP server received %d request(s)", len(seen))
				}
			})
		}
	})
}
