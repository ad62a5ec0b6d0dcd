package authcore

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func (h *harness) register(e *Engine, body string, extra ...[2]string) Reply {
	hd := Header{{"content-type", "application/json"}}
	hd = append(hd, extra...)
	req := &Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: "/oauth/register", Headers: hd, Source: "192.0.2.7:4000"}
	return h.run(e, req, []byte(body))
}

func registered(t testing.TB, r Reply) RegistrationResponse {
	t.Helper()
	if r.Status != 201 {
		t.Fatalf("registration status %d: %s", r.Status, r.Body)
	}
	if r.Headers.Get("cache-control") != "no-store" || r.Headers.Get("content-type") != "application/json" {
		t.Errorf("headers %v", r.Headers)
	}
	var rr RegistrationResponse
	if err := json.Unmarshal(r.Body, &rr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rr.ClientID, dcrPrefix) || strings.HasPrefix(rr.ClientID, "https://") {
		t.Errorf("client_id %q", rr.ClientID)
	}
	return rr
}

func TestRegisterDefaults(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	// An omitted auth method is client_secret_basic: a secret is issued with
	// client_secret_expires_at (RFC 7591 §3.2.1).
	r := h.register(h.e, `{"redirect_uris":["https://app.example.com/cb"],"client_name":"Fancy","scope":"mcp:tools bogus offline_access","client_uri":"https://app.example.com"}`)
	rr := registered(t, r)
	var raw map[string]any
	_ = json.Unmarshal(r.Body, &raw)
	if rr.TokenEndpointAuthMethod != AuthMethodSecretBasic || rr.ClientSecret == "" || raw["client_secret_expires_at"] != float64(0) {
		t.Errorf("secret not issued: %s", r.Body)
	}
	if rr.ClientIDIssuedAt != h.clk.Now().Unix() || rr.ApplicationType != AppTypeWeb || rr.ClientName != "Fancy" ||
		strings.Join(rr.GrantTypes, ",") != GrantAuthorizationCode || strings.Join(rr.ResponseTypes, ",") != "code" ||
		rr.Scope != "mcp:tools offline_access" {
		t.Errorf("registered %s", r.Body)
	}
	if _, ok := raw["client_uri"]; ok {
		t.Errorf("unregistered metadata echoed: %s", r.Body)
	}
	c, err := h.e.openClientID(rr.ClientID)
	if err != nil || c.Name != "Fancy" || c.Source != ClientDynamic || c.RedirectURIs[0] != "https://app.example.com/cb" || c.public() {
		t.Fatalf("client id does not open to the registration: %+v %v", c, err)
	}
	// The derived secret authenticates.
	if reason := h.e.checkClientSecret(c, rr.ClientSecret); reason != "" {
		t.Errorf("issued secret refused: %s", reason)
	}
	if reason := h.e.checkClientSecret(c, rr.ClientSecret+"x"); reason == "" {
		t.Errorf("wrong secret accepted")
	}
}

func TestRegisterNative(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	// No application_type with loopback (clients before 2025-11-25): accepted, registered as native.
	rr := registered(t, h.register(h.e, `{"redirect_uris":["http://127.0.0.1:33418/callback","http://localhost/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:jwt-bearer","client_credentials"]}`))
	if rr.ApplicationType != AppTypeNative || rr.ClientSecret != "" || rr.ClientSecretExpiresAt != nil ||
		strings.Join(rr.GrantTypes, ",") != "authorization_code,refresh_token" {
		t.Errorf("registered %+v", rr)
	}
	rr = registered(t, h.register(h.e, `{"redirect_uris":["com.example.app:/oauth"],"application_type":"native","token_endpoint_auth_method":"none"}`))
	if rr.ApplicationType != AppTypeNative {
		t.Errorf("registered %+v", rr)
	}
}

func TestRegisterRejects(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	cases := []struct {
		name, body, code string
	}{
		{"web with localhost", `{"redirect_uris":["http://localhost/cb"],"application_type":"web"}`, ErrCodeInvalidRedirectURI},
		{"web with https localhost", `{"redirect_uris":["https://localhost/cb"],"application_type":"web"}`, ErrCodeInvalidRedirectURI},
		{"fragment", `{"redirect_uris":["https://app.example.com/cb#x"]}`, ErrCodeInvalidRedirectURI},
		{"http non-loopback", `{"redirect_uris":["http://app.example.com/cb"]}`, ErrCodeInvalidRedirectURI},
		{"web with private scheme", `{"redirect_uris":["com.example.app:/cb"],"application_type":"web"}`, ErrCodeInvalidRedirectURI},
		{"private scheme without dot", `{"redirect_uris":["myapp:/cb"],"application_type":"native"}`, ErrCodeInvalidRedirectURI},
		{"relative", `{"redirect_uris":["/cb"]}`, ErrCodeInvalidRedirectURI},
		{"missing redirect_uris", `{"client_name":"x"}`, ErrCodeInvalidRedirectURI},
		{"empty redirect_uris", `{"redirect_uris":[]}`, ErrCodeInvalidRedirectURI},
		{"redirect_uris not array", `{"redirect_uris":"https://app.example.com/cb"}`, ErrCodeInvalidRedirectURI},
		{"redirect_uri not string", `{"redirect_uris":[42]}`, ErrCodeInvalidRedirectURI},
		{"too many redirect_uris", `{"redirect_uris":["https://a.example/1","https://a.example/2","https://a.example/3","https://a.example/4","https://a.example/5","https://a.example/6","https://a.example/7","https://a.example/8","https://a.example/9","https://a.example/10","https://a.example/11"]}`, ErrCodeInvalidRedirectURI},
		{"implicit grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, ErrCodeInvalidClientMetadata},
		{"password grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","password"]}`, ErrCodeInvalidClientMetadata},
		{"no code grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}`, ErrCodeInvalidClientMetadata},
		{"empty grant types", `{"redirect_uris":["https://a.example/cb"],"grant_types":[]}`, ErrCodeInvalidClientMetadata},
		{"token response type", `{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, ErrCodeInvalidClientMetadata},
		{"code token response types", `{"redirect_uris":["https://a.example/cb"],"response_types":["code","token"]}`, ErrCodeInvalidClientMetadata},
		{"empty response types", `{"redirect_uris":["https://a.example/cb"],"response_types":[]}`, ErrCodeInvalidClientMetadata},
		{"private_key_jwt", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, ErrCodeInvalidClientMetadata},
		{"unknown auth method", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"tls_client_auth"}`, ErrCodeInvalidClientMetadata},
		{"bad application_type", `{"redirect_uris":["https://a.example/cb"],"application_type":"desktop"}`, ErrCodeInvalidClientMetadata},
		{"client_name type", `{"redirect_uris":["https://a.example/cb"],"client_name":7}`, ErrCodeInvalidClientMetadata},
		{"client_name control", `{"redirect_uris":["https://a.example/cb"],"client_name":"a\u0007b"}`, ErrCodeInvalidClientMetadata},
		{"client_name long", `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("n", 101) + `"}`, ErrCodeInvalidClientMetadata},
		{"scope syntax", `{"redirect_uris":["https://a.example/cb"],"scope":"a  b"}`, ErrCodeInvalidClientMetadata},
		{"duplicate member", `{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.example/cb"]}`, ErrCodeInvalidClientMetadata},
		{"not JSON", `{"redirect_uris":`, ErrCodeInvalidClientMetadata},
		{"not an object", `["https://a.example/cb"]`, ErrCodeInvalidClientMetadata},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oauthErr(t, h.register(h.e, tc.body), 400, tc.code)
		})
	}
	t.Run("content type", func(t *testing.T) {
		req := &Request{Method: "POST", Path: "/oauth/register", Headers: Header{{"content-type", "text/plain"}}}
		oauthErr(t, h.run(h.e, req, []byte(`{}`)), 400, ErrCodeInvalidClientMetadata)
	})
	t.Run("too large", func(t *testing.T) {
		r := h.register(h.e, `{"client_name":"`+strings.Repeat("x", maxRegistrationBody)+`"}`)
		if r.Status != 413 {
			t.Errorf("status %d", r.Status)
		}
	})
	t.Run("GET is 405", func(t *testing.T) {
		r := h.run(h.e, &Request{Method: "GET", Path: "/oauth/register"}, nil)
		if r.Status != 405 {
			t.Errorf("status %d", r.Status)
		}
	})
}

// TestRegisterForeignIssuer: a client id from issuer A is invalid_client at
// issuer B, even with the same sealing key (MCP 2026-07-28 "Authorization Server Binding").
func TestRegisterForeignIssuer(t *testing.T) {
	a := newHarness(t, asConfigJSON(nil))
	rr := registered(t, a.register(a.e, `{"redirect_uris":["https://app.example.com/cb"]}`))
	b := newHarness(t, asConfigJSON(map[string]string{
		"issuer":    `"https://other.example.com"`,
		"resources": `[{"resource":"https://other.example.com/mcp","scopes":["mcp:tools"]}]`,
	}))
	_, ch := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {rr.ClientID}, "redirect_uri": {"https://app.example.com/cb"},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}, "state": {"s"}}
	errorPageOf(t, b.get(newBrowser(), "/oauth/authorize?"+q.Encode()), 400)
	r := b.tokenReq(b.e, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {strings.Repeat("v", 43)}}, rr.ClientID, rr.ClientSecret)
	oauthErr(t, r, 401, ErrCodeInvalidClient)
	if !strings.HasPrefix(r.Headers.Get("www-authenticate"), "Basic") {
		t.Errorf("no WWW-Authenticate after Basic: %v", r.Headers)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"registration": `{"enabled":true,"rate_limit":2}`})))
	body := `{"redirect_uris":["https://app.example.com/cb"]}`
	registered(t, h.register(h.e, body))
	registered(t, h.register(h.e, body))
	r := h.register(h.e, body)
	oauthErr(t, r, 429, ErrCodeSlowDown)
	if r.Headers.Get("retry-after") != "60" {
		t.Errorf("no retry-after: %v", r.Headers)
	}
	// Another source is not affected; the window ends after a minute.
	req := &Request{Method: "POST", Path: "/oauth/register", Headers: Header{{"content-type", "application/json"}}, Source: "198.51.100.1:1"}
	if r := h.run(h.e, req, []byte(body)); r.Status != 201 {
		t.Errorf("other source: %d", r.Status)
	}
	h.advance(61e9)
	registered(t, h.register(h.e, body))
}

func TestRegisterInitialAccessToken(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"registration": `{"enabled":true,"initial_access_token":"let-me-register-please"}`})))
	body := `{"redirect_uris":["https://app.example.com/cb"]}`
	r := h.register(h.e, body)
	oauthErr(t, r, 401, ErrCodeInvalidToken)
	if !strings.Contains(r.Headers.Get("www-authenticate"), "invalid_token") {
		t.Errorf("headers %v", r.Headers)
	}
	oauthErr(t, h.register(h.e, body, [2]string{"authorization", "Bearer let-me-register-PLEASE"}), 401, ErrCodeInvalidToken)
	registered(t, h.register(h.e, body, [2]string{"authorization", "Bearer let-me-register-please"}))
}

func TestRegisterDisabled(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"registration": ""})))
	if _, ok := h.e.Handle(&Request{Method: "POST", Path: "/oauth/register"}).(Forward); !ok {
		t.Errorf("registration served while disabled")
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5555":             "192.0.2.1",
		"[2001:db8::1]:443":          "2001:db8::/64",
		"[2001:db8::ffff:1]:1":       "2001:db8::/64",
		"[::ffff:192.0.2.1]:1":       "192.0.2.1",
		"192.0.2.9":                  "192.0.2.9",
		"":                           "",
		"unix:/var/run/envoy.socket": "unix:/var/run/envoy.socket",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}
