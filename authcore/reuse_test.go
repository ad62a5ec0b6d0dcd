package authcore

import (
	"strings"
	"testing"
	"unsafe"
)

// One Request serves request after request through Reuse, as the filter's
// stream contexts do: each decision is the one a fresh Request gets
// (whatever the token, body or resource before it), Reuse leaves nothing
// of the last request visible, and the per-tool path, once warm,
// allocates nothing in the engine.
func TestRequestReuse(t *testing.T) {
	var lines []string
	keep, written := true, 0
	e, err := New(loadConfig(t, "guard"), Options{SingleThreaded: true, Audit: func(l []byte) {
		written++
		if keep {
			lines = append(lines, string(l))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	admin := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools", "mcp:admin")
	tools := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	call := func(name string) string {
		return `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + name + `","arguments":{}}}`
	}
	cases := []struct {
		token, body string
		status      int // -1: forwarded
	}{
		{admin, call("admin_stats"), -1},
		{tools, call("admin_stats"), 403},
		{admin, call("echo"), -1},
		{tools, call("echo"), -1},
		{admin, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","name":"admin_stats"}}`, 400},
		{"", call("echo"), 401},
		{admin, strings.Repeat(" ", 2<<20), 413},
		{tools, call("admin_stats"), 403},
		{admin, call("admin_stats"), -1},
	}
	req := new(Request)
	for i, c := range cases {
		fresh := mcpPost("/mcp", c.token, c.body)
		want := statusOf(run(e, fresh))
		req.Reuse()
		if req.Method != "" || req.Path != "" || req.Headers != nil || req.Body != nil || req.routing.path != "" {
			t.Fatalf("case %d: Reuse left %+v", i, req)
		}
		*req = Request{Method: fresh.Method, Scheme: fresh.Scheme, Authority: fresh.Authority, Path: fresh.Path,
			Headers: fresh.Headers, Body: fresh.Body, guardBody: req.guardBody}
		got := statusOf(run(e, req))
		if got != want || got != c.status {
			t.Errorf("case %d: status %d with a reused Request, %d with a fresh one, want %d", i, got, want, c.status)
		}
	}
	if n := strings.Count(strings.Join(lines, "\n"), `"tool":"admin_stats"`); n != 4 {
		t.Errorf("%d tool_call lines for admin_stats, want 4 (two allowed, each with a fresh and a reused Request)", n)
	}

	// Warm, the per-tool path allocates nothing in the engine: the body
	// step and its outcome are the Request's, the names interned, the
	// audit line the engine's buffer.
	body := []byte(call("admin_stats"))
	headers := mcpPost("/mcp", admin, "").Headers
	serve := func() {
		req.Reuse()
		req.Method, req.Scheme, req.Authority, req.Path, req.Headers, req.Body = "POST", "https", "mcp.example.com", "/mcp", headers, body
		if _, ok := run(e, req).(Forward); !ok {
			t.Fatal("refused")
		}
	}
	serve()
	keep, written = false, 0
	if n := testing.AllocsPerRun(200, serve); n != 0 {
		t.Errorf("%.1f allocations per allowed tool call, want 0", n)
	}
	if written != 201 {
		t.Errorf("%d tool_call lines for 201 allowed calls", written)
	}
}

func statusOf(o Outcome) int {
	switch o := o.(type) {
	case Reply:
		return o.Status
	case Forward:
		return -1
	}
	return 0
}

// The name table hands out copies: never the caller's bytes, equal to
// them, the same string for the same name while it holds its slot, and a
// fresh copy for a name that displaced it.
func TestNameTable(t *testing.T) {
	var tab nameTable
	buf := []byte("tools/call admin_stats")
	view := unsafe.String(&buf[0], len(buf))
	method, name := view[:10], view[11:]
	m1, n1 := tab.intern(method), tab.intern(name)
	if m1 != "tools/call" || n1 != "admin_stats" {
		t.Fatalf("interned %q %q", m1, n1)
	}
	for _, s := range []string{m1, n1} {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= uintptr(unsafe.Pointer(&buf[0])) && p < uintptr(unsafe.Pointer(&buf[0]))+uintptr(len(buf)) {
			t.Fatalf("%q is a view of the caller's buffer", s)
		}
	}
	copy(buf, "xxxxxxxxxxxxxxxxxxxxxx")
	if m1 != "tools/call" || n1 != "admin_stats" {
		t.Fatalf("interned names changed with the buffer: %q %q", m1, n1)
	}
	if m2 := tab.intern("tools/call"); unsafe.StringData(m2) != unsafe.StringData(m1) {
		t.Errorf("a second intern of the same name copied it again")
	}
	// Fill every slot with other names: whatever displaced "tools/call",
	// interning it again gives an equal string.
	for i := 0; i < 4*nameSlots; i++ {
		tab.intern("tool_" + itoa(i))
	}
	if m3 := tab.intern("tools/call"); m3 != "tools/call" {
		t.Errorf("after displacement: %q", m3)
	}
	long := strings.Repeat("n", maxInterned+1)
	if got := tab.intern(long); got != long || unsafe.StringData(got) == unsafe.StringData(long) {
		t.Errorf("a name over maxInterned is copied, not kept")
	}
	if tab.intern("") != "" {
		t.Error("empty name")
	}
}
