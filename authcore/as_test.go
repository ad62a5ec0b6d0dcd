package authcore

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestASMetadataGolden(t *testing.T) {
	for _, name := range []string{"as-dev", "as-oidc"} {
		t.Run(name, func(t *testing.T) {
			e := newTestEngine(t, name)
			r := mustReply(t, e.Handle(get(e.Config().asMetadataPath())))
			if r.Status != 200 {
				t.Fatalf("status %d", r.Status)
			}
			golden(t, name+"-as-metadata.json", r.Body)
			var m AuthorizationServerMetadata
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatal(err)
			}
			// Every endpoint listed is served (RFC 8414 §2).
			for _, ep := range []string{m.AuthorizationEndpoint, m.TokenEndpoint, m.RegistrationEndpoint, m.RevocationEndpoint} {
				if ep == "" {
					continue
				}
				path := strings.TrimPrefix(ep, e.cfg.issuerURL.Scheme+"://"+e.cfg.issuerURL.Host)
				if e.routes[path] == nil {
					t.Errorf("%s listed but not served", ep)
				}
			}
			if !m.AuthorizationResponseIssParameterSupported || len(m.CodeChallengeMethodsSupported) != 1 || m.CodeChallengeMethodsSupported[0] != "S256" {
				t.Errorf("metadata %s", r.Body)
			}
		})
	}
	// Without identity the AS is off: no endpoints, nothing served.
	e := newTestEngine(t, "minimal")
	for _, p := range []string{"/oauth/authorize", "/oauth/token", "/oauth/register", "/oauth/revoke", "/oauth/consent", "/oauth/callback"} {
		if e.routes[p] != nil {
			t.Errorf("%s served without identity", p)
		}
	}
}

func TestASMetadataSwitches(t *testing.T) {
	meta := func(over map[string]string) AuthorizationServerMetadata {
		h := newHarness(t, asConfigJSON(over))
		var m AuthorizationServerMetadata
		jsonUnmarshal(t, mustReply(t, h.e.Handle(get(WellKnownAS))).Body, &m)
		return m
	}
	m := meta(nil)
	if m.RegistrationEndpoint != "https://mcp.example.com/oauth/register" || strings.Join(m.GrantTypesSupported, " ") != "authorization_code refresh_token" ||
		strings.Join(m.ScopesSupported, " ") != "mcp:tools mcp:admin offline_access" ||
		strings.Join(m.TokenEndpointAuthMethodsSupported, " ") != "none client_secret_basic client_secret_post" {
		t.Errorf("default metadata %+v", m)
	}
	m = meta(withAS(map[string]string{"registration": "", "clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"]}]`, "refresh_tokens": `{"policy":"never"}`}))
	if m.RegistrationEndpoint != "" || strings.Join(m.GrantTypesSupported, " ") != "authorization_code" ||
		strings.Join(m.ScopesSupported, " ") != "mcp:tools mcp:admin" || strings.Join(m.TokenEndpointAuthMethodsSupported, " ") != "none" {
		t.Errorf("restricted metadata %+v", m)
	}
	m = meta(withAS(map[string]string{"refresh_tokens": `{"policy":"always"}`}))
	if strings.Contains(strings.Join(m.ScopesSupported, " "), ScopeOfflineAccess) {
		t.Errorf("offline_access listed though policy always ignores it")
	}
}

// TestASPagesGolden pins the HTML and JSON a client or user sees, with a
// deterministic random source and clock.
func TestASPagesGolden(t *testing.T) {
	cfg := loadConfig(t, "as-dev")
	clk := newFakeClock()
	e, err := New(cfg, Options{Now: clk.Now, Rand: rand.NewChaCha8([32]byte{7}), Store: NewMemoryStore(clk.Now)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, e: e, clk: clk}
	reg := h.run(e, &Request{Method: "POST", Path: "/oauth/register", Headers: Header{{"content-type", "application/json"}}, Source: "127.0.0.1:1"},
		[]byte(`{"client_name":"Claude Code","redirect_uris":["http://localhost/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`))
	golden(t, "as-dev-register.json", reg.Body)
	var rr RegistrationResponse
	jsonUnmarshal(t, reg.Body, &rr)
	ch := pkceS256("verifier-verifier-verifier-verifier-verifier")
	page := h.run(e, &Request{Method: "GET", Path: authzQueryFor(rr.ClientID, "http://localhost:33333/callback", ch, "http://127.0.0.1:8080/mcp")}, nil)
	golden(t, "as-dev-consent.html", page.Body)
	errPage := h.run(e, &Request{Method: "GET", Path: "/oauth/authorize?client_id=nobody"}, nil)
	golden(t, "as-dev-error-page.html", errPage.Body)
	tokErr := h.run(e, &Request{Method: "POST", Path: "/oauth/token", Headers: Header{{"content-type", "application/x-www-form-urlencoded"}}},
		[]byte("grant_type=authorization_code&code=x&code_verifier=verifier-verifier-verifier-verifier-verifier&client_id=nobody"))
	golden(t, "as-dev-token-invalid-client.json", tokErr.Body)
}

func authzQueryFor(client, redirect, challenge, resource string) string {
	return "/oauth/authorize?response_type=code&client_id=" + client + "&redirect_uri=" + urlEscape(redirect) +
		"&code_challenge=" + challenge + "&code_challenge_method=S256&state=xyz&resource=" + urlEscape(resource) + "&scope=mcp:tools"
}
