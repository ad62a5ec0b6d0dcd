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
