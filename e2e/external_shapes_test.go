package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// shapesE2EConfig trusts the provider with the audiences the vendors use.
const shapesE2EConfig = `{
  "resources": [{"resource": "{{BASE}}/mcp", "scopes": ["mcp:tools"]}],
  "trusted_issuers": [{"issuer": "{{OP_ISSUER}}", "cluster": "idp",
    "audiences": ["{{BASE}}/mcp", "api://default", "api://mcp-gateway", "6e74172b-be56-4843-9ff4-e66a39bb12e3"]}]
}`

// TestExternalTokenShapes: access tokens shaped as Keycloak, Okta, Auth0
// and Entra ID (v1, v2) issue them, signed with the provider's published
// key (its iss), through the native engine and the compiled wasm: the
// accepted ones reach the MCP server with the identity their claims carry,
// the refused ones get 401 invalid_token, counted (in wasm) under their
// reason.
func TestExternalTokenShapes(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg, idp, store := startExternalWith(t, kind, true, shapesE2EConfig, "/mcp", targetOptions{})
		store.mu.Lock()
		key := store.signing
		store.mu.Unlock()
		now := time.Now()
		sign := func(typ string, claims map[string]any) string {
			opts := (&jose.SignerOptions{}).WithHeader("kid", key.id)
			if typ != "" {
				opts = opts.WithType(jose.ContentType(typ))
			}
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.key}, opts)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(claims)
			jws, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := jws.CompactSerialize()
			return out
		}
		claims := func(sub string, aud any, extra map[string]any) map[string]any {
			m := map[string]any{"iss": idp.issuer, "sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
			for k, v := range extra {
				if v == nil {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			return m
		}
		res := tg.base + "/mcp"
		cases := []struct {
			name, typ string
			claims    map[string]any
			reason    string // "" accepted
			subject   string
		}{
			{"keycloak", "JWT", claims("kc-user", []string{res, "account"}, map[string]any{"azp": "mcp-client", "scope": "openid mcp:tools", "typ": "Bearer"}), "", "kc-user"},
			{"okta", "", claims("alice@example.com", "api://default", map[string]any{"cid": "0oa1", "scp": []string{"mcp:tools"}, "ver": 1}), "", "alice@example.com"},
			{"auth0 RFC 9068", "at+jwt", claims("auth0|1", []string{res, "https://tenant.auth0.com/userinfo"}, map[string]any{"client_id": "c", "azp": "c", "scope": "mcp:tools"}), "", "auth0|1"},
			{"entra v1", "JWT", claims("entra-v1", "api://mcp-gateway", map[string]any{"appid": "a1", "scp": "mcp:tools", "ver": "1.0"}), "", "entra-v1"},
			{"entra v2", "JWT", claims("entra-v2", "6e74172b-be56-4843-9ff4-e66a39bb12e3", map[string]any{"azp": "a2", "scp": "mcp:tools", "ver": "2.0"}), "", "entra-v2"},
			{"wrong aud", "JWT", claims("u", "account", map[string]any{"scope": "mcp:tools"}), "wrong_audience", ""},
			{"wrong iss", "JWT", claims("u", res, map[string]any{"iss": idp.issuer + "/", "scope": "mcp:tools"}), "unknown_issuer", ""},
			{"no sub", "JWT", claims("u", res, map[string]any{"sub": nil, "scope": "mcp:tools"}), "bad_claims", ""},
			{"expired", "JWT", claims("u", res, map[string]any{"exp": now.Add(-time.Hour).Unix(), "scope": "mcp:tools"}), "expired", ""},
			{"scp array with a space", "", claims("u", "api://default", map[string]any{"scp": []string{"mcp:tools x"}}), "bad_claims", ""},
		}
		for _, c := range cases {
			tg.demo.Main.ResetSeen()
			req, _ := http.NewRequest("POST", res, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			for k, v := range mcpHeaders(sign(c.typ, c.claims)) {
				req.Header[k] = v
			}
			var before uint64
			if tg.host != nil {
				before, _ = tg.host.Metric("mcpgate.guard.denied." + c.reason)
			}
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if c.reason == "" {
				seen := tg.demo.Main.Seen()
				if r.StatusCode != 200 || len(seen) == 0 || seen[0].Header.Get("X-Mcpgate-Subject") != c.subject {
					t.Errorf("%s: %d, want accepted with subject %q", c.name, r.StatusCode, c.subject)
				}
				continue
			}
			if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: %d %q, want 401 invalid_token", c.name, r.StatusCode, r.Header.Get("WWW-Authenticate"))
			}
			if tg.host != nil {
				if after, _ := tg.host.Metric("mcpgate.guard.denied." + c.reason); after != before+1 {
					t.Errorf("%s: mcpgate.guard.denied.%s %d -> %d", c.name, c.reason, before, after)
				}
			}
		}
	})
}
