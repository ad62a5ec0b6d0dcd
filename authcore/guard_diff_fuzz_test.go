package authcore

import (
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// refOp is what a server runs for one message, given the method it
// decoded and its raw params, with decode decoding params' target field.
func refOp(method string, params json.RawMessage, field func(params json.RawMessage, name string) string) rpcOp {
	op := rpcOp{method: method}
	switch method {
	case "tools/call", "prompts/get":
		op.name = field(params, "name")
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		op.name = field(params, "uri")
	}
	return op
}

// splitBatch splits a body as the MCP Go SDK's readBatch does: an array
// is a batch of messages, anything else one message.
func splitBatch(body []byte) [][]byte {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err == nil {
		out := make([][]byte, len(raw))
		for i, r := range raw {
			out[i] = r
		}
		return out
	}
	return [][]byte{body}
}

// readLastWins reads a body with encoding/json into maps: exact names, the
// last of repeated names wins.
func readLastWins(body []byte) ([]rpcOp, bool) {
	field := func(params json.RawMessage, name string) string {
		var m map[string]json.RawMessage
		var s string
		if json.Unmarshal(params, &m) == nil {
			_ = json.Unmarshal(m[name], &s)
		}
		return s
	}
	var ops []rpcOp
	for _, msg := range splitBatch(body) {
		var m map[string]json.RawMessage
		if json.Unmarshal(msg, &m) != nil {
			return nil, false
		}
		var method string
		if raw, ok := m["method"]; ok && json.Unmarshal(raw, &method) != nil {
			return nil, false
		}
		ops = append(ops, refOp(method, m["params"], field))
	}
	return ops, true
}

// readStructs reads a body with encoding/json into structs: field names
// match case-insensitively and the last match wins, as in servers that
// decode JSON-RPC into Go structs.
func readStructs(body []byte) ([]rpcOp, bool) {
	field := func(params json.RawMessage, name string) string {
		var p struct {
			Name *string `json:"name"`
			URI  *string `json:"uri"`
		}
		if json.Unmarshal(params, &p) != nil {
			return ""
		}
		if name == "name" && p.Name != nil {
			return *p.Name
		}
		if name == "uri" && p.URI != nil {
			return *p.URI
		}
		return ""
	}
	var ops []rpcOp
	for _, msg := range splitBatch(body) {
		var m struct {
			Method *string         `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(msg, &m) != nil {
			return nil, false
		}
		method := ""
		if m.Method != nil {
			method = *m.Method
		}
		ops = append(ops, refOp(method, m.Params, field))
	}
	return ops, true
}

// readSDK reads a body with the MCP Go SDK's own JSON-RPC decoder
// (jsonrpc.DecodeMessage, per message of a batch as its transports do);
// ok is false when the SDK refuses the body (the server then runs nothing).
func readSDK(body []byte) ([]rpcOp, bool) {
	field := func(params json.RawMessage, name string) string {
		var m map[string]json.RawMessage
		var s string
		if json.Unmarshal(params, &m) == nil {
			_ = json.Unmarshal(m[name], &s)
		}
		return s
	}
	var ops []rpcOp
	for _, raw := range splitBatch(body) {
		msg, err := jsonrpc.DecodeMessage(raw)
		if err != nil {
			return nil, false
		}
		req, isReq := msg.(*jsonrpc.Request)
		if !isReq {
			ops = append(ops, rpcOp{})
			continue
		}
		ops = append(ops, refOp(req.Method, req.Params, field))
	}
	return ops, true
}

func sameOps(a, b []rpcOp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzGuardAgreesWithServers is the differential target of the guard's
// body reading: whenever the guard forwards a POST to a resource with
// rules, its reading of every method and params.name/params.uri (batches
// included) equals encoding/json's last-wins reading (into maps and into
// case-insensitive structs) and the MCP Go SDK's decoder's, and Mcp-Method
// and Mcp-Name headers it let through equal that same reading.
func FuzzGuardAgreesWithServers(f *testing.F) {
	e := newTestEngine(f, "guard")
	tok := mintFor(f, e, "https://mcp.example.com/mcp", "mcp:tools", "mcp:admin", "mcp:read")
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"admin_stats"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"admin_stats"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call","params":{"name":"admin_stats"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"admin_stats"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///a"}}]`,
		`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p\u00e9"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"\u212Aey":1,"name":"echo","nam\u212A":"x"}}`,
	} {
		f.Add([]byte(s), "tools/call", "echo", uint8(0))
		f.Add([]byte(s), "tools/call", "echo", uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, hMethod, hName string, hdrs uint8) {
		var extra [][2]string
		if hdrs&1 != 0 {
			extra = append(extra, [2]string{"mcp-method", hMethod})
		}
		if hdrs&2 != 0 {
			extra = append(extra, [2]string{"mcp-name", hName})
		}
		if _, forwarded := run(e, mcpPost("/mcp", tok, string(body), extra...)).(Forward); !forwarded {
			return
		}
		guard, _, bad := jsonRPCOperations(nil, body, e.cfg.Resources[0].MaxJSONDepth, nil)
		if bad != "" {
			t.Fatalf("forwarded a body the guard cannot read (%s): %q", bad, body)
		}
		if ops, ok := readLastWins(body); !ok || !sameOps(guard, ops) {
			t.Fatalf("guard read %+v, encoding/json (maps, last wins) %+v (ok %v): %q", guard, ops, ok, body)
		}
		if ops, ok := readStructs(body); !ok || !sameOps(guard, ops) {
			t.Fatalf("guard read %+v, encoding/json (structs) %+v (ok %v): %q", guard, ops, ok, body)
		}
		if ops, ok := readSDK(body); ok && !sameOps(guard, ops) {
			t.Fatalf("guard read %+v, MCP Go SDK %+v: %q", guard, ops, body)
		}
		if hdrs&1 != 0 && (len(guard) != 1 || hMethod != guard[0].method) {
			t.Fatalf("Mcp-Method %q let through for %+v: %q", hMethod, guard, body)
		}
		if hdrs&2 != 0 && (len(guard) != 1 || hName != guard[0].name) {
			t.Fatalf("Mcp-Name %q let through for %+v: %q", hName, guard, body)
		}
	})
}
