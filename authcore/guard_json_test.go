package authcore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGuardRefusesAmbiguousBodies: a body that a first-wins reader and a
// last-wins MCP server would read differently is refused with a JSON-RPC
// error before any rule is evaluated (the per-tool scope bypass of a
// repeated "name", "method" or "params").
func TestGuardRefusesAmbiguousBodies(t *testing.T) {
	e := newTestEngine(t, "guard")
	tools := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	for _, tc := range []struct {
		name, body string
		headers    [][2]string
		code       string
	}{
		{"repeated params.name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`, nil, "-32600"},
		{"escaped repeated name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"admin_stats"}}`, nil, "-32600"},
		{"repeated method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"admin_stats"},"method":"tools/call"}`, nil, "-32600"},
		{"repeated params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"admin_stats"}}`, nil, "-32600"},
		{"in a batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","name":"admin_stats"}}]`, nil, "-32600"},
		{"headers agreeing with the first", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats"}}`,
			[][2]string{{"mcp-method", "tools/call"}, {"mcp-name", "echo"}}, "-32600"},
		{"name differing only by case", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"admin_stats"}}`, nil, "-32600"},
		{"method differing only by case", `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call","params":{"name":"admin_stats"}}`, nil, "-32600"},
		{"escaped case variant", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0041me":"admin_stats"}}`, nil, "-32600"},
		{"repeated name in arguments", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1,"a":2}}}`, nil, "-32600"},
		{"too deep", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}}`, nil, "-32600"},
		{"lone surrogate", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\ud800"}}`, nil, "-32700"},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\xff\"}}", nil, "-32700"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := run(e, mcpPost("/mcp", tools, tc.body, tc.headers...))
			r, ok := o.(Reply)
			if !ok || r.Status != 400 || !strings.Contains(string(r.Body), `"code":`+tc.code) {
				t.Fatalf("got %#v (%s), want 400 with JSON-RPC error %s", o, replyBody(o), tc.code)
			}
		})
	}
	// The same bodies without the ambiguity are read as before.
	o := run(e, mcpPost("/mcp", tools, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"admin_stats"}}`))
	if r, ok := o.(Reply); !ok || r.Status != 403 {
		t.Fatalf("escaped name read as admin_stats: got %#v", o)
	}
	if _, ok := run(e, mcpPost("/mcp", tools, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":{"a":1}}}}`)).(Forward); !ok {
		t.Fatal("a name repeated at different levels is not a duplicate")
	}
}

func replyBody(o Outcome) string {
	if r, ok := o.(Reply); ok {
		return string(r.Body)
	}
	return ""
}

func TestGuardMaxJSONDepthConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "config", "guard.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(bytes.Replace(data, []byte(`"max_body_bytes": 2048`), []byte(`"max_body_bytes": 2048, "max_json_depth": 4`), 1))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tools := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	ok := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":[1]}}}`
	if _, fwd := run(e, mcpPost("/mcp", tools, ok)).(Forward); !fwd {
		t.Fatal("depth 4 refused")
	}
	deep := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":[[1]]}}}`
	if r, isReply := run(e, mcpPost("/mcp", tools, deep)).(Reply); !isReply || r.Status != 400 {
		t.Fatal("depth 5 accepted")
	}
}
