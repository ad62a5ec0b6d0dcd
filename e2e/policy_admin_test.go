package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
	"golang.org/x/oauth2"
)

const adminCredential = "e2e-admin-credential-0123456789"

// policyConfig is conformance.json with identity claims for the dev user,
// a policy that keeps mcp:admin for the mcp-admins group, and the admin
// API.
func policyConfig(t *testing.T, groups string) string {
	h := sha256.Sum256([]byte(adminCredential))
	var cfg map[string]any
	if err := json.Unmarshal([]byte(readConfig(t, "conformance.json")), &cfg); err != nil {
		t.Fatal(err)
	}
	as := cfg["authorization_server"].(map[string]any)
	as["claims"] = map[string]any{"names": []string{"groups"}, "dev": map[string]any{"groups": json.RawMessage(groups)},
		"access_token": []string{"groups"}}
	as["policy"] = map[string]any{"scopes": []any{map[string]any{"scopes": []string{"mcp:admin"}, "when": map[string]any{"claim": "groups", "any_of": []string{"mcp-admins"}}}}}
	cfg["admin"] = map[string]any{"path": "/mcpgate/admin", "token_sha256": hex.EncodeToString(h[:])}
	b, _ := json.Marshal(cfg)
	return string(b)
}

var linkRE = regexp.MustCompile(`<a href="([^"]*)">Return to`)

// TestPolicyTable: the dev user's groups decide what x/oauth2's
// authorization gets, native and in the compiled wasm.
func TestPolicyTable(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		for _, tc := range []struct {
			groups, scope string
			granted       string // "" = access_denied
		}{
			{`["dev"]`, "mcp:tools mcp:admin", ""}, // a step-up the user may not have
			{`["dev"]`, "mcp:tools mcp:read mcp:admin", "mcp:tools mcp:read"},
			{`["dev"]`, "mcp:admin", ""},
			{`["dev","mcp-admins"]`, "mcp:tools mcp:admin", "mcp:tools mcp:admin"},
			{`"mcp-admins"`, "mcp:admin", "mcp:admin"},
			{`[]`, "mcp:tools", "mcp:tools"},
		} {
			tg := startTarget(t, kind, policyConfig(t, tc.groups), targetOptions{})
			cfg := &oauth2.Config{ClientID: "test-client", Endpoint: oauth2.Endpoint{AuthURL: tg.base + "/oauth/authorize", TokenURL: tg.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: "http://127.0.0.1:50123/callback", Scopes: strings.Fields(tc.scope)}
			verifier := oauth2.GenerateVerifier()
			u := cfg.AuthCodeURL("st-p", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
			if tc.granted == "" {
				st, hdr, body := do(t, "GET", u, nil, nil)
				m := linkRE.FindSubmatch(body)
				if st != 403 || hdr.Get("Location") != "" || m == nil {
					t.Fatalf("%s asking %q: %d %v, want the 403 page with a link", tc.groups, tc.scope, st, hdr)
				}
				link, _ := url.Parse(html.UnescapeString(string(m[1])))
				if q := link.Query(); q.Get("error") != "access_denied" || q.Get("iss") != tg.base || q.Get("state") != "st-p" {
					t.Errorf("link %s", link)
				}
				if !strings.Contains(string(body), "mcp-admins") {
					t.Errorf("the page does not say which group is needed")
				}
				continue
			}
			loc, err := newFormBrowser(t).authorize(context.Background(), u)
			if err != nil {
				t.Fatalf("%s asking %q: %v", tc.groups, tc.scope, err)
			}
			tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Extra("scope"); got != tc.granted {
				t.Errorf("%s asking %q: granted %q, want %q", tc.groups, tc.scope, got, tc.granted)
			}
		}
	})
}

func adminCall(t *testing.T, tg *target, body string) int {
	st, _, _ := do(t, "POST", tg.base+"/mcpgate/admin", strings.NewReader(body),
		http.Header{"Authorization": {"Bearer " + adminCredential}, "Content-Type": {"application/json"}})
	return st
}

// TestAdminAPI: an operator revokes a user's grants and blocks a client
// through the filter; every VM refuses within the documented bound. In the
// wasm, each guarded request's decision is filter state an access log can
// print, and each security event one JSON audit line without secrets.
func TestAdminAPI(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		var mu sync.Mutex
		var logs []string
		var entries []harness.AccessLogEntry
		tg := startTarget(t, kind, policyConfig(t, `["mcp-admins"]`), targetOptions{
			log:       func(msg string) { mu.Lock(); logs = append(logs, msg); mu.Unlock() },
			accessLog: func(e harness.AccessLogEntry) { mu.Lock(); entries = append(entries, e); mu.Unlock() },
		})
		code, verifier, cfg := pkceCode(t, tg, "mcp:tools", "mcp:admin")
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil {
			t.Fatal(err)
		}
		call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{}}}`
		hdr := mcpHeaders(tok.AccessToken)
		hdr.Set("X-Request-Id", "rid-allowed")
		if st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(call), hdr); st != 200 {
			t.Fatalf("admin tool call: %d %s", st, body)
		}
		// The access token carries the groups claim from the grant.
		if g, _ := jwtClaims(t, tok.AccessToken)["groups"].([]any); len(g) != 1 || g[0] != "mcp-admins" {
			t.Errorf("access token groups %v", g)
		}

		if st, _, _ := do(t, "POST", tg.base+"/mcpgate/admin", strings.NewReader(`{"action":"revoke_user","sub":"alice"}`),
			http.Header{"Authorization": {"Bearer wrong"}, "Content-Type": {"application/json"}}); st != 401 {
			t.Fatalf("wrong admin credential: %d", st)
		}
		if st := adminCall(t, tg, `{"action":"revoke_user","sub":"alice"}`); st != 200 {
			t.Fatalf("revoke_user: %d", st)
		}
		wantRefusedSoon(t, tg, tok.AccessToken, "a revoked user's token")
		if _, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: "x." + strings.Repeat("a", 43)}).Token(); err == nil {
			t.Error("bogus refresh accepted")
		}

		// A grant made after the revocation (in a later second: times are
		// whole seconds, and "at or before" includes the revocation's own)
		// works, until the client is blocked.
		time.Sleep(time.Second)
		code, verifier, cfg = pkceCode(t, tg, "mcp:tools")
		tok2, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil {
			t.Fatal(err)
		}
		if st, _, _ := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok2.AccessToken)); st != 200 {
			t.Fatalf("new grant after revocation: %d", st)
		}
		if st := adminCall(t, tg, `{"action":"block_client","client_id":"test-client"}`); st != 200 {
			t.Fatalf("block_client: %d", st)
		}
		wantRefusedSoon(t, tg, tok2.AccessToken, "a blocked client's token")
		time.Sleep(1100 * time.Millisecond) // every VM's admin view is older than its 1 s bound
		for i := 0; i < 2; i++ {            // both VMs (round robin)
			st, _, _ := do(t, "GET", cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil, nil)
			if st != 400 {
				t.Errorf("blocked client at /authorize: %d, want the 400 error page", st)
			}
		}

		if kind != wasm {
			return
		}
		// Filter state of the allowed tool call.
		deadline := time.Now().Add(5 * time.Second)
		var allowed, denied *harness.AccessLogEntry
		for time.Now().Before(deadline) && (allowed == nil || denied == nil) {
			mu.Lock()
			for i := range entries {
				e := &entries[i]
				if e.RequestID == "rid-allowed" {
					allowed = e
				}
				if strings.HasPrefix(e.FilterState["wasm.mcpgate.decision"], "deny:revoked") {
					denied = e
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		if allowed == nil || denied == nil {
			t.Fatalf("access log entries: allowed %v denied %v", allowed, denied)
		}
		want := map[string]string{"wasm.mcpgate.decision": "allow", "wasm.mcpgate.subject": "alice", "wasm.mcpgate.client_id": "test-client", "wasm.mcpgate.tool": "admin_stats"}
		for k, v := range want {
			if allowed.FilterState[k] != v {
				t.Errorf("filter state %s = %q, want %q (all: %v)", k, allowed.FilterState[k], v, allowed.FilterState)
			}
		}
		// Audit lines: JSON, the events in order, no token anywhere.
		mu.Lock()
		defer mu.Unlock()
		var events []string
		for _, l := range logs {
			if strings.Contains(l, tok.AccessToken) || strings.Contains(l, tok2.AccessToken) || strings.Contains(l, adminCredential) {
				t.Errorf("secret in log line %s", l)
			}
			if !strings.HasPrefix(l, `{"audit":"mcpgate"`) {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("audit line is not JSON: %s", l)
			}
			events = append(events, ev["event"].(string))
			if ev["event"] == "tool_call" && (ev["tool"] != "admin_stats" || ev["method"] != "tools/call" || ev["sub"] != "alice" || ev["request_id"] != "rid-allowed") {
				t.Errorf("tool_call line %s", l)
			}
		}
		seq := strings.Join(events, ",")
		for _, want := range []string{"consent_given", "code_issued", "token_issued", "tool_call", "admin_action", "guard_denied"} {
			if !strings.Contains(seq, want) {
				t.Errorf("no %s audit line in %s", want, seq)
			}
		}
	})
}
