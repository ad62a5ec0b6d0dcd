package authcore

import (
	"strconv"
	"testing"
	"time"
)

// Native engine benchmarks. The same cases run against the compiled wasm
// under the harness in e2e/bench_test.go.

func BenchmarkDiscoveryPRM(b *testing.B) {
	e := newTestEngine(b, "guard")
	req := get(WellKnownPRM + "/mcp")
	b.ReportAllocs()
	for b.Loop() {
		if r := e.Handle(req).(Reply); r.Status != 200 {
			b.Fatal(r.Status)
		}
	}
}

func BenchmarkPassThrough(b *testing.B) {
	e := newTestEngine(b, "guard")
	b.ReportAllocs()
	for b.Loop() {
		if e.Intercepts("/static/app.js") {
			b.Fatal("intercepted")
		}
	}
}

func BenchmarkGuardCachedToken(b *testing.B) {
	e := newTestEngine(b, "guard")
	tok := mintFor(b, e, "https://mcp.example.com/other/mcp", "mcp:tools")
	req := mcpPost("/other/mcp", tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	b.ReportAllocs()
	for b.Loop() {
		req.routing = routing{} // a fresh request each time
		if _, ok := run(e, req).(Forward); !ok {
			b.Fatal("refused")
		}
	}
}

func benchFirstSeen(b *testing.B, kid string) {
	e := newTestEngine(b, "guard")
	k := e.keyByKid(kid)
	active := e.cfg.activeKey
	e.cfg.activeKey = k
	now := time.Now()
	toks := make([]string, 0, 1024)
	for i := 0; i < cap(toks); i++ {
		t, err := e.MintAccessToken(AccessTokenClaims{Issuer: e.cfg.Issuer, Subject: "alice", Audience: []string{"https://mcp.example.com/other/mcp"},
			ClientID: "c", Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(time.Hour), JTI: strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		toks = append(toks, t)
	}
	e.cfg.activeKey = active
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.tokens = tokenCache{max: tokenCacheSize} // every token is first seen
		req := mcpPost("/other/mcp", toks[i%len(toks)], `{}`)
		if _, ok := run(e, req).(Forward); !ok {
			b.Fatal("refused")
		}
		i++
	}
}

func BenchmarkGuardFirstSeenES256(b *testing.B) { benchFirstSeen(b, "es") }
func BenchmarkGuardFirstSeenEdDSA(b *testing.B) { benchFirstSeen(b, "ed") }

func BenchmarkGuardPerToolBody(b *testing.B) {
	e := newTestEngine(b, "guard")
	tok := mintFor(b, e, "https://mcp.example.com/mcp", "mcp:tools", "mcp:admin")
	req := mcpPost("/mcp", tok, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := run(e, req).(Forward); !ok {
			b.Fatal("refused")
		}
	}
}
