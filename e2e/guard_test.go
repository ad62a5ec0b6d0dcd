package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/e2e/demomcp"
)

// mint signs an access token the target accepts.
func (tg *target) mint(t testing.TB, aud string, scopes ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := tg.engine.MintAccessToken(authcore.AccessTokenClaims{
		Issuer: tg.base, Subject: "alice", Audience: []string{aud}, ClientID: "test-client",
		Scope: scopes, IssuedAt: now, Expiry: now.Add(5 * time.Minute), JTI: "jti-" + now.Format(time.RFC3339Nano),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func mcpHeaders(token string, extra ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Add(extra[i], extra[i+1])
	}
	return h
}

// TestGuardConformance runs the resource-server rules (RFC 6750 §3, RFC 9068 §4, MCP 2026-07-28 "Token Handling") over HTTP against the
// native engine and the compiled wasm, with golden WWW-Authenticate values.
func TestGuardConformance(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		b := tg.base
		prm := `resource_metadata="` + b + `/.well-known/oauth-protected-resource/mcp"`
		tools := tg.mint(t, b+"/mcp", "mcp:tools")
		admin := tg.mint(t, b+"/mcp", "mcp:tools", "mcp:admin")
		teamB := tg.mint(t, b+"/team-b/mcp", "mcp:tools")
		callAdmin := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{}}}`
		cases := []struct {
			name, path, body string
			header           http.Header
			status           int
			www              string
		}{
			{"no token: 401 without error", "/mcp", initializeBody, mcpHeaders(""), 401, `Bearer scope="mcp:tools", ` + prm},
			{"garbage token: invalid_token", "/mcp", initializeBody, mcpHeaders("a.b.c"), 401,
				`Bearer error="invalid_token", scope="mcp:tools", ` + prm + `, error_description="the access token is invalid or expired"`},
			{"token in query: 400", "/mcp?access_token=" + tools, initializeBody, mcpHeaders(""), 400,
				`Bearer error="invalid_request", ` + prm + `, error_description="access tokens must not be sent in the query string"`},
			{"token for another resource", "/mcp", initializeBody, mcpHeaders(teamB), 401, ""},
			{"team-b token works at team-b", "/team-b/mcp", initializeBody, mcpHeaders(teamB), 200, ""},
			{"valid token reaches the MCP server", "/mcp", initializeBody, mcpHeaders(tools), 200, ""},
			{"tool needing admin: 403 with accumulated scope", "/mcp", callAdmin, mcpHeaders(tools), 403,
				`Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", ` + prm + `, error_description="the access token lacks a scope this request needs"`},
			{"Mcp-Method header mismatch", "/mcp", callAdmin, mcpHeaders(admin, "Mcp-Method", "tools/list"), 400, ""},
			{"unparsable body", "/mcp", `{"jsonrpc"`, mcpHeaders(tools), 400, ""},
			{"encoded path still guarded", "/%6Dcp", initializeBody, mcpHeaders(""), 401, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st, h, body := do(t, "POST", b+tc.path, strings.NewReader(tc.body), tc.header)
				if st != tc.status {
					t.Fatalf("status %d, want %d: %s", st, tc.status, body)
				}
				if tc.www != "" && h.Get("WWW-Authenticate") != tc.www {
					t.Errorf("WWW-Authenticate\n got %s\nwant %s", h.Get("WWW-Authenticate"), tc.www)
				}
				if st == 401 || st == 403 {
					if !strings.Contains(h.Get("Access-Control-Expose-Headers"), "www-authenticate") {
						t.Errorf("WWW-Authenticate not exposed to browsers: %v", h)
					}
				}
			})
		}
		// upstream sends an initialize with headers and returns what the MCP
		// server received.
		upstream := func(t *testing.T, headers http.Header) []demomcp.SeenRequest {
			t.Helper()
			tg.demo.Main.ResetSeen()
			st, _, body := do(t, "POST", b+"/mcp", strings.NewReader(initializeBody), headers)
			if st != 200 {
				t.Fatalf("%d %s", st, body)
			}
			seen := tg.demo.Main.Seen()
			if len(seen) == 0 {
				t.Fatal("request did not reach the MCP server")
			}
			return seen
		}
		t.Run("upstream never sees the token or forged identity", func(t *testing.T) {
			for _, r := range upstream(t, mcpHeaders(tools, "X-Mcpgate-Subject", "mallory", "X-Mcpgate-Client-Id", "forged")) {
				if r.Header.Get("Authorization") != "" {
					t.Errorf("MCP server received Authorization: %q", r.Header.Get("Authorization"))
				}
				if got := r.Header.Values("X-Mcpgate-Subject"); len(got) != 1 || got[0] != "alice" {
					t.Errorf("identity header = %q, want [alice]", got)
				}
				if got := r.Header.Values("X-Mcpgate-Client-Id"); len(got) != 1 || got[0] != "test-client" {
					t.Errorf("client id header = %q", got)
				}
			}
		})
		t.Run("a token without client_id sets the identity header empty over a forged one", func(t *testing.T) {
			// In wasm the filter hands the host an empty value through its
			// own proxy_replace_header_map_value import.
			now := time.Now()
			tok, err := tg.engine.MintAccessToken(authcore.AccessTokenClaims{Issuer: tg.base, Subject: "alice", Audience: []string{b + "/mcp"},
				Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(5 * time.Minute), JTI: "jti-noclient-" + now.Format(time.RFC3339Nano)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range upstream(t, mcpHeaders(tok, "X-Mcpgate-Client-Id", "forged")) {
				if got := r.Header.Values("X-Mcpgate-Client-Id"); len(got) != 1 || got[0] != "" {
					t.Errorf("client id header = %q, want one empty value", got)
				}
				if got := r.Header.Values("X-Mcpgate-Subject"); len(got) != 1 || got[0] != "alice" {
					t.Errorf("identity header = %q, want [alice]", got)
				}
			}
		})
		t.Run("pass-through path: forged identity removed, credentials kept", func(t *testing.T) {
			st, _, body := do(t, "GET", b+demomcp.PathEcho, nil, http.Header{
				"Authorization": {"Bearer upstream-own-credential"}, "X-Mcpgate-Subject": {"mallory"},
				"X-Mcpgate-Client-Id": {"forged"}, "X-Mcpgate-Scope": {"mcp:admin"}})
			if st != 200 {
				t.Fatalf("%d %s", st, body)
			}
			var got http.Header
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			for _, name := range []string{"X-Mcpgate-Subject", "X-Mcpgate-Client-Id", "X-Mcpgate-Scope"} {
				if v := got.Values(name); len(v) != 0 {
					t.Errorf("upstream received %s: %q", name, v)
				}
			}
			if v := got.Get("Authorization"); v != "Bearer upstream-own-credential" {
				t.Errorf("pass-through Authorization = %q, want it untouched", v)
			}
		})
		if kind == wasm {
			t.Run("metrics count allowed and denied", func(t *testing.T) {
				if n, ok := tg.host.Metric("mcpgate.guard.allowed"); !ok || n == 0 {
					t.Errorf("allowed counter = %d, %v", n, ok)
				}
				if n, ok := tg.host.Metric("mcpgate.guard.denied.no_token"); !ok || n == 0 {
					t.Errorf("no_token counter = %d, %v", n, ok)
				}
				if n, ok := tg.host.Metric("mcpgate.guard.denied.insufficient_scope"); !ok || n == 0 {
					t.Errorf("insufficient_scope counter = %d, %v", n, ok)
				}
			})
		}
	})
}

// TestStreamBuffersKeepRequestsApart: the filter reads a request's header
// map and body into buffers its stream context keeps for the next stream
// (plugin streamBuffers), so on one VM each request is written over the
// bytes of the one before. Served one after another, requests must never
// see each other's bytes: a token differing from a cached one in one
// signature byte, at the same length, is refused every time (were the
// token cache keyed by a view of a request buffer, the forged token's
// bytes would rewrite the cached key and match it); each request's
// identity reaches the MCP server as its own; tool calls are decided by
// their own body; and discovery and token-endpoint requests between them
// (the latter the engine may keep views of, so the filter copies them out)
// are answered as alone.
func TestStreamBuffersKeepRequestsApart(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{vms: 1})
		b := tg.base
		mint := func(sub string, scopes ...string) string {
			now := time.Now()
			tok, err := tg.engine.MintAccessToken(authcore.AccessTokenClaims{Issuer: b, Subject: sub, Audience: []string{b + "/mcp"},
				ClientID: "test-client", Scope: scopes, IssuedAt: now, Expiry: now.Add(5 * time.Minute), JTI: "jti-" + sub})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		alice := mint("alice", "mcp:tools", "mcp:admin")
		bob := mint("bob-whose-subject-is-longer", "mcp:tools")
		sig := strings.LastIndexByte(alice, '.') + 5
		flip := byte('A')
		if alice[sig] == 'A' {
			flip = 'B'
		}
		forged := alice[:sig] + string(flip) + alice[sig+1:]
		st, _, meta := do(t, "GET", b+"/.well-known/oauth-authorization-server", nil, nil)
		if st != 200 {
			t.Fatalf("metadata: %d", st)
		}
		var as struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if err := json.Unmarshal(meta, &as); err != nil || as.TokenEndpoint == "" {
			t.Fatalf("metadata %s: %v", meta, err)
		}
		callAdmin := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{}}}`
		// Every guarded request has the same header names and value
		// lengths, so a token's bytes land where the last request's were.
		headers := func(token string) http.Header { return mcpHeaders(token, "X-Request-Id", "0123456789abcdef") }
		initialize := func(token, wantSubject string) {
			t.Helper()
			tg.demo.Main.ResetSeen()
			st, _, body := do(t, "POST", b+"/mcp", strings.NewReader(initializeBody), headers(token))
			if st != 200 {
				t.Fatalf("%s: %d %s", wantSubject, st, body)
			}
			seen := tg.demo.Main.Seen()
			if len(seen) != 1 {
				t.Fatalf("%s: the MCP server saw %d requests", wantSubject, len(seen))
			}
			if got := seen[0].Header.Values("X-Mcpgate-Subject"); len(got) != 1 || got[0] != wantSubject {
				t.Fatalf("identity header %q, want [%s]", got, wantSubject)
			}
			if got := seen[0].Header.Get("Authorization"); got != "" {
				t.Fatalf("the MCP server received Authorization %q", got)
			}
		}
		for i := 0; i < 25; i++ {
			initialize(alice, "alice")
			if st, _, body := do(t, "POST", b+"/mcp", strings.NewReader(initializeBody), headers(forged)); st != 401 {
				t.Fatalf("round %d: a token one byte off a cached one: %d %s", i, st, body)
			}
			initialize(bob, "bob-whose-subject-is-longer")
			if st, _, body := do(t, "POST", b+"/mcp", strings.NewReader(callAdmin), headers(bob)); st != 403 {
				t.Fatalf("round %d: bob calling admin_stats: %d %s", i, st, body)
			}
			if st, _, body := do(t, "POST", b+"/mcp", strings.NewReader(callAdmin), headers(forged)); st != 401 {
				t.Fatalf("round %d: the forged token calling admin_stats: %d %s", i, st, body)
			}
			if st, _, body := do(t, "POST", as.TokenEndpoint, strings.NewReader("grant_type=authorization_code&code=not-a-code&client_id=test-client&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&code_verifier="+strings.Repeat("v", 43)),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); st != 400 || !strings.Contains(string(body), `"invalid_grant"`) {
				t.Fatalf("round %d: token endpoint: %d %s", i, st, body)
			}
			st, _, doc := do(t, "GET", b+"/.well-known/oauth-protected-resource/mcp", nil, nil)
			if st != 200 || !strings.Contains(string(doc), `"resource":"`+b+`/mcp"`) && !strings.Contains(string(doc), `"resource": "`+b+`/mcp"`) {
				t.Fatalf("round %d: protected resource metadata: %d %s", i, st, doc)
			}
		}
	})
}
