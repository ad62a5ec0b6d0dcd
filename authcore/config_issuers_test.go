package authcore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const pureRSConfig = `{
  "resources": [{"resource": "https://mcp.example.com/mcp", "scopes": ["mcp:tools"]}],
  "trusted_issuers": [{"issuer": "https://kc.example.com/realms/demo", "cluster": "keycloak"}]
}`

// TestTrustedIssuersConfig: the accepted forms and each refusal, named by
// its JSON path.
func TestTrustedIssuersConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(pureRSConfig))
	if err != nil {
		t.Fatal(err)
	}
	ti := cfg.TrustedIssuers[0]
	if cfg.Issuer != "" || len(cfg.Keys) != 0 || ti.JWKSURI != "" ||
		strings.Join(ti.ScopeClaims, ",") != "scope,scp" || len(ti.Algorithms) != 7 || len(ti.TokenTypes) != 3 {
		t.Errorf("defaults: %+v %+v", cfg, ti)
	}
	if got := cfg.Resources[0].AuthorizationServers; len(got) != 1 || got[0] != ti.Issuer {
		t.Errorf("default authorization_servers %q", got)
	}

	own := `"issuer": "https://mcp.example.com", "keys": [{"kid": "k1", "jwk": {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}]`
	cases := []struct {
		name, cfg, wantErr string
	}{
		{"no issuer at all", `{"resources": [{"resource": "https://mcp.example.com/mcp"}]}`, "issuer: required"},
		{"issuer without keys", `{"issuer": "https://mcp.example.com", "resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a"}]}`, "keys: required with issuer"},
		{"AS without issuer", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "authorization_server": {}, "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a"}]}`, "issuer: required with authorization_server"},
		{"empty list", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": []}`, "trusted_issuers: must list at least one issuer"},
		{"no cluster", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com"}]}`, "trusted_issuers[0].cluster: required"},
		{"http issuer", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "http://a.example.com", "cluster": "a"}]}`, "trusted_issuers[0].issuer: must use https"},
		{"HS256", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a", "algorithms": ["RS256", "HS256"]}]}`, "trusted_issuers[0].algorithms[1]: must be one of"},
		{"none", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a", "algorithms": ["none"]}]}`, "never none or HMAC"},
		{"bad typ", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a", "token_types": ["id_token"]}]}`, "trusted_issuers[0].token_types[0]"},
		{"duplicate", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a"}, {"issuer": "https://a.example.com", "cluster": "b"}]}`, "trusted_issuers[1].issuer: duplicate"},
		{"own issuer again", `{` + own + `, "resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://mcp.example.com", "cluster": "a"}]}`, "is mcpgate's own issuer"},
		{"unknown authorization server", `{"resources": [{"resource": "https://mcp.example.com/mcp", "authorization_servers": ["https://b.example.com"]}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a"}]}`, "resources[0].authorization_servers[0]: \"https://b.example.com\" is neither"},
		{"introspection without secret", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a", "introspection": {"endpoint": "https://a.example.com/i", "client_id": "x"}}]}`, "introspection.client_secret: required"},
		{"scope claim path", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a", "scope_claims": ["realm_access.roles"]}]}`, "scope_claims[0]: must be a plain claim name"},
		{"unknown key", `{"resources": [{"resource": "https://mcp.example.com/mcp"}], "trusted_issuers": [{"issuer": "https://a.example.com", "cluster": "a", "jwks": {}}]}`, "trusted_issuers[0].jwks: unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.cfg))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %v, want %q", err, c.wantErr)
			}
		})
	}
}

// TestPureResourceServer: with trusted issuers only, the PRM lists them,
// no AS metadata or JWKS is served, and the 401 challenge is unchanged.
func TestPureResourceServer(t *testing.T) {
	e, err := New(mustParse(t, pureRSConfig), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := mustReply(t, e.Handle(get(WellKnownPRM+"/mcp")))
	var prm ProtectedResourceMetadata
	if err := json.Unmarshal(r.Body, &prm); err != nil || r.Status != 200 {
		t.Fatalf("PRM %d %s", r.Status, r.Body)
	}
	if strings.Join(prm.AuthorizationServers, " ") != "https://kc.example.com/realms/demo" || prm.Resource != "https://mcp.example.com/mcp" {
		t.Errorf("PRM %+v", prm)
	}
	for _, p := range []string{WellKnownAS, WellKnownAS + "/realms/demo", "/.well-known/openid-configuration"} {
		if st := mustReply(t, e.Handle(get(p))); st.Status != 404 {
			t.Errorf("%s: %d, want 404", p, st.Status)
		}
	}
	for _, p := range []string{"/oauth/jwks", "/oauth/token", "/oauth/authorize", "/oauth/register"} {
		if e.Classify(get(p)) != RoutePass {
			t.Errorf("%s is served", p)
		}
	}
	ch := mustReply(t, e.Handle(get("/mcp")))
	if ch.Status != 401 || ch.Headers.Get("www-authenticate") != `Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"` {
		t.Errorf("challenge %d %q", ch.Status, ch.Headers.Get("www-authenticate"))
	}
}

func mustParse(t testing.TB, s string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMixedIssuers: mcpgate's own AS on one resource, an external issuer
// on another, both at once; each token is accepted only where its issuer
// is trusted, and each PRM lists its own issuers.
func TestMixedIssuers(t *testing.T) {
	k := newTestKey(t, "ext-1", "RS256")
	idp := newTestIdP(t, k)
	cfg := `{
  "issuer": "https://mcp.example.com",
  "keys": [{"kid": "own-1", "jwk": {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}],
  "resources": [
    {"resource": "https://mcp.example.com/own", "authorization_servers": ["https://mcp.example.com"]},
    {"resource": "https://mcp.example.com/ext", "authorization_servers": ["https://idp.example.com"]},
    {"resource": "https://mcp.example.com/both"}
  ],
  "trusted_issuers": [{"issuer": "https://idp.example.com", "cluster": "idp", "jwks_uri": "https://idp.example.com/jwks"}]
}`
	h := newIssuerHarness(t, cfg, map[string]*testIdP{"idp": idp})
	now := h.clk.Now()
	ownTok := func(aud string) string {
		tok, err := h.e.MintAccessToken(AccessTokenClaims{Issuer: "https://mcp.example.com", Subject: "alice", Audience: []string{aud}, ClientID: "c", IssuedAt: now, Expiry: now.Add(time.Hour), JTI: "j" + aud})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	extTok := func(aud string) string {
		return signToken(t, k, map[string]any{"typ": "JWT"}, stdClaims(now, "https://idp.example.com", "bob", aud, map[string]any{"azp": "c"}))
	}
	for _, c := range []struct {
		path, token, reason string
	}{
		{"/own", ownTok("https://mcp.example.com/own"), ""},
		{"/both", ownTok("https://mcp.example.com/both"), ""},
		{"/ext", ownTok("https://mcp.example.com/ext"), denyUntrustedIssuer},
		{"/ext", extTok("https://mcp.example.com/ext"), ""},
		{"/both", extTok("https://mcp.example.com/both"), ""},
		{"/own", extTok("https://mcp.example.com/own"), denyUntrustedIssuer},
		{"/both", extTok("https://mcp.example.com/own"), denyWrongAudience},
	} {
		before := h.denials()[c.reason]
		o := h.access(h.e, c.path, c.token)
		if c.reason == "" {
			mustForward(t, c.path, o)
			continue
		}
		mustStatus(t, c.path+" "+c.reason, o, 401)
		if h.denials()[c.reason] != before+1 {
			t.Errorf("%s: denials %v, want %s", c.path, h.denials(), c.reason)
		}
	}
	for path, want := range map[string]string{"/own": "https://mcp.example.com", "/ext": "https://idp.example.com", "/both": "https://mcp.example.com https://idp.example.com"} {
		var prm ProtectedResourceMetadata
		r := mustReply(t, h.e.Handle(get(WellKnownPRM+path)))
		if err := json.Unmarshal(r.Body, &prm); err != nil || strings.Join(prm.AuthorizationServers, " ") != want {
			t.Errorf("PRM of %s lists %q, want %q", path, prm.AuthorizationServers, want)
		}
	}
	// mcpgate's AS metadata is still served.
	if r := mustReply(t, h.e.Handle(get(WellKnownAS))); r.Status != 200 {
		t.Errorf("AS metadata %d", r.Status)
	}
}
