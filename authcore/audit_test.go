package authcore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
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

// The audit time is the clock's second in UTC as RFC 3339, formatted once
// per second: lines of one second share the text, the next second and a
// clock set back are formatted anew, and the log copy of a line is not
// changed by the next line.
func TestAuditTimeFollowsTheClock(t *testing.T) {
	clock := time.Date(2026, 12, 6, 20, 59, 59, 900_000_000, time.FixedZone("CET", 3600))
	var lines []string
	e, err := New(loadConfig(t, "guard"), Options{Now: func() time.Time { return clock },
		Log: func(_ LogLevel, msg string) { lines = append(lines, msg) }})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, step := range []time.Duration{0, 50 * time.Millisecond, 60 * time.Millisecond, time.Hour, -2 * time.Hour} {
		clock = clock.Add(step)
		e.audit(auditEvent{Event: "tool_call", Tool: "t"})
		want = append(want, clock.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		var m struct{ Time string }
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Time != want[i] {
			t.Errorf("line %d: time %q (%v), want %q: %s", i, m.Time, err, want[i], l)
		}
	}
}

// A tool_call line carries the time the request was authorized at (its
// headers), as Envoy's access log carries a request's start: the body
// read after the clock moved on does not change it, nor cost another
// reading of the clock.
func TestToolCallAuditTimeIsTheRequests(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clock := start
	reads := 0
	var lines []string
	e, err := New(loadConfig(t, "guard"), Options{Now: func() time.Time { reads++; return clock },
		Log: func(_ LogLevel, msg string) { lines = append(lines, msg) }})
	if err != nil {
		t.Fatal(err)
	}
	req := mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools", "mcp:admin"),
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats"}}`)
	for i := 0; i < 2; i++ { // the first request verifies the token, the second finds it cached
		lines, reads = nil, 0
		rb, ok := e.Handle(req).(ReadBody)
		if !ok {
			t.Fatal("the guard did not ask for the body")
		}
		before := reads
		clock = clock.Add(3 * time.Second)
		if _, ok := rb.Resume(req.Body).(Forward); !ok {
			t.Fatal("refused")
		}
		if reads != before {
			t.Errorf("request %d: the clock was read %d times for the body", i, reads-before)
		}
		var tc []string
		for _, l := range lines {
			var m struct{ Event, Time string }
			if json.Unmarshal([]byte(l), &m) == nil && m.Event == "tool_call" {
				tc = append(tc, m.Time)
			}
		}
		if want := clock.Add(-3 * time.Second).UTC().Format(time.RFC3339); len(tc) != 1 || tc[0] != want {
			t.Errorf("request %d: tool_call times %q, want [%q]", i, tc, want)
		}
	}
}

// With SingleThreaded and an Audit sink, the engine writes every line in
// one buffer of its own (Options.Audit): each line the sink sees is whole
// and right, a copy taken in the sink is never changed by a later line, a
// long line grows the buffer, and a line costs no allocation. Without
// SingleThreaded each line is a buffer of its own, which a sink may keep.
func TestAuditBufferReuse(t *testing.T) {
	var kept []string
	var last []byte
	keep := true
	e, err := New(loadConfig(t, "guard"), Options{SingleThreaded: true, Audit: func(l []byte) {
		if keep {
			kept = append(kept, string(l))
		}
		last = l
	}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_765_000_000, 0)
	tools := []string{"a", strings.Repeat("long_tool_name_", 60), "b\"c", "d"}
	for _, tool := range tools {
		e.audit(auditEvent{Event: "tool_call", Subject: "alice", Tool: tool, at: at})
	}
	for i, tool := range tools {
		var m map[string]any
		if err := json.Unmarshal([]byte(kept[i]), &m); err != nil || m["tool"] != tool || m["sub"] != "alice" {
			t.Errorf("line %d: %v %s", i, err, kept[i])
		}
	}
	if string(last) != kept[len(kept)-1] {
		t.Errorf("the sink's last line %q is not the last line written %q", last, kept[len(kept)-1])
	}
	if cap(e.auditBuf) < len(kept[1]) {
		t.Errorf("the buffer did not keep its growth: cap %d, longest line %d", cap(e.auditBuf), len(kept[1]))
	}
	ev := auditEvent{Event: "tool_call", Subject: "alice", ClientID: "c", Resource: "https://mcp.example.com/mcp", Method: "tools/call", Tool: "t", at: at}
	keep = false
	if n := testing.AllocsPerRun(100, func() { e.audit(ev) }); n != 0 {
		t.Errorf("%v allocations per line with the buffer reused", n)
	}

	var lines [][]byte
	shared, err := New(loadConfig(t, "guard"), Options{Audit: func(l []byte) { lines = append(lines, l) }})
	if err != nil {
		t.Fatal(err)
	}
	shared.audit(auditEvent{Event: "one", at: at})
	shared.audit(auditEvent{Event: "two", at: at})
	if !strings.Contains(string(lines[0]), `"one"`) || !strings.Contains(string(lines[1]), `"two"`) {
		t.Errorf("lines kept by a sink of a concurrent engine changed: %s / %s", lines[0], lines[1])
	}
}

// A tool_call line written with its cached head is the line written
// field by field, for any subject, client, resource, request id, method
// and tool; the head follows the token and the resource it was made for,
// also when another token's claims take its slot.
func FuzzToolCallHead(f *testing.F) {
	f.Add("alice", "ide", "https://mcp.example.com/mcp", "5f1c0de2", "tools/call", "echo")
	f.Add("a\"b\\c\n\x01é\u2028", "https://app.example/c.json", "https://mcp.example.com/t?x=<>&", "", "tools/call", "</script>")
	f.Add("", "", "", "r\x7f", "", "\xff\xfe")
	var got []byte
	e, err := New(loadConfig(f, "guard"), Options{Audit: func(l []byte) { got = append(got[:0], l...) }})
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, sub, client, resource, reqID, method, tool string) {
		claims := &AccessTokenClaims{Subject: sub, ClientID: client}
		others := []*AccessTokenClaims{{Subject: sub + "x", ClientID: client}, {Subject: sub, ClientID: client + "y"}}
		r := &Resource{URI: resource}
		line := func(c *AccessTokenClaims, head bool) string {
			ev := auditEvent{Event: "tool_call", Subject: c.Subject, ClientID: c.ClientID, Resource: r.URI,
				RequestID: reqID, Method: method, Tool: tool, at: at}
			if head {
				ev.head = e.toolCallHead(c, r)
			}
			e.audit(ev)
			return string(got)
		}
		for i := 0; i < 2; i++ { // the second round finds the heads cached
			for _, c := range append([]*AccessTokenClaims{claims}, others...) {
				if with, without := line(c, true), line(c, false); with != without {
					t.Fatalf("with the cached head:\n%s\nfield by field:\n%s", with, without)
				}
			}
		}
	})
}
