package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
)

// mixedConfig: mcpgate's own authorization server (dev identity) for
// /mcp, the external provider for /team-b/mcp, both at once.
const mixedConfig = `{
  "issuer": "{{BASE}}",
  "keys": [{"kid": "mixed-es", "jwk": {"kty":"EC","crv":"P-256","x":"2UDUP4_PWg3XQl7qK4QqYu_vnwBSipXGy6qWrKtcdsE","y":"QgNmchNyYt7X74L7lTU3VMc_-G-n6ZqWi9YD2aFquH8","d":"ne1GtvpqXlb4YFz4XEKQ1ksW1deyZFVCmx4TcH5zBdE"}}],
  "resources": [
    {"resource": "{{BASE}}/mcp", "scopes": ["mcp:tools"], "authorization_servers": ["{{BASE}}"]},
    {"resource": "{{BASE}}/team-b/mcp", "scopes": ["mcp:tools"], "authorization_servers": ["{{OP_ISSUER}}"]}
  ],
  "authorization_server": {
    "identity": {"mode": "dev", "dev": {"subject": "alice"}},
    "sealing_keys": [{"id": "mixed-1", "secret": "fj-irY0_r90mTz9lZqgqo7GZLPxqBiR7EOsqACYETEA"}],
    "cookies": {"secure": false}
  },
  "trusted_issuers": [{"issuer": "{{OP_ISSUER}}", "cluster": "idp"}]
}`

// TestExternalIssuerMixed: each resource accepts only its own issuer's
// tokens, and its PRM names that issuer; mcpgate's AS metadata is served
// for its own.
func TestExternalIssuerMixed(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg, idp, store := startExternalWith(t, kind, true, mixedConfig, "/team-b/mcp", targetOptions{})
		now := time.Now()
		own, err := tg.engine.MintAccessToken(authcore.AccessTokenClaims{Issuer: tg.base, Subject: "alice", ClientID: "c",
			Audience: []string{tg.base + "/mcp", tg.base + "/team-b/mcp"}, Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(time.Hour), JTI: "mixed"})
		if err != nil {
			t.Fatal(err)
		}
		ext := store.mint(t, idp.issuer, "mcp:tools")
		call := func(path, tok string) int {
			req, _ := http.NewRequest("POST", tg.base+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			for k, v := range mcpHeaders(tok) {
				req.Header[k] = v
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}
		for _, c := range []struct {
			path, who, tok string
			want           int
		}{
			{"/mcp", "own", own, 200}, {"/team-b/mcp", "own", own, 401},
			{"/team-b/mcp", "external", ext, 200}, {"/mcp", "external", ext, 401},
		} {
			if got := call(c.path, c.tok); got != c.want {
				t.Errorf("%s token at %s: %d, want %d", c.who, c.path, got, c.want)
			}
		}
		for path, want := range map[string]string{"/mcp": tg.base, "/team-b/mcp": idp.issuer} {
			res, err := http.Get(tg.base + "/.well-known/oauth-protected-resource" + path)
			if err != nil {
				t.Fatal(err)
			}
			var prm struct {
				AuthorizationServers []string `json:"authorization_servers"`
			}
			if err := json.NewDecoder(res.Body).Decode(&prm); err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != want {
				t.Errorf("PRM of %s lists %q, want %q", path, prm.AuthorizationServers, want)
			}
		}
		if res, err := http.Get(tg.base + "/.well-known/oauth-authorization-server"); err != nil || res.StatusCode != 200 {
			t.Errorf("mcpgate's AS metadata: %v %v", err, res)
		}
	})
}
