package authcore

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Audit lines are one JSON object each, whatever the values hold, with the
// documented names; empty fields are left out.
func TestAuditLineJSON(t *testing.T) {
	var got []byte
	e, err := New(loadConfig(t, "guard"), Options{Audit: func(l []byte) { got = l }})
	if err != nil {
		t.Fatal(err)
	}
	ev := auditEvent{Event: "tool_call", Subject: "a\"b\\c\n\x01é\u2028", ClientID: "https://app.example/c.json",
		Resource: "https://mcp.example.com/mcp", RequestID: "r1", Scopes: []string{"mcp:tools", "x\"y"}, Method: "tools/call",
		Tool: "</script>", Status: 403, Action: "block_host", Target: "h"}
	e.audit(ev)
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	want := map[string]any{"audit": "mcpgate", "event": "tool_call", "sub": ev.Subject, "client_id": ev.ClientID, "resource": ev.Resource,
		"request_id": "r1", "scopes": []any{"mcp:tools", "x\"y"}, "method": "tools/call", "tool": "</script>", "status": float64(403),
		"action": "block_host", "target": "h", "time": m["time"]}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %v\nwant %v", m, want)
	}
	e.audit(auditEvent{Event: "grant_revoked"})
	m = nil
	if err := json.Unmarshal(got, &m); err != nil || len(m) != 3 {
		t.Errorf("sparse line %s", got)
	}
}
