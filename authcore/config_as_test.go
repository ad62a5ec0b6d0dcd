package authcore

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseASConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(asConfigJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.AS
	if !a.Enabled() || a.Identity.Mode != IdentityDev || a.Identity.DevSubject != "alice" {
		t.Errorf("identity = %+v", a.Identity)
	}
	if len(a.SealingKeys) != 1 || a.SealingKeys[0].ID != "s1" {
		t.Errorf("sealing keys = %+v", a.SealingKeys)
	}
	if !a.Registration.Enabled || a.Registration.RateLimit != 100 || a.Registration.initialTokenHash != nil {
		t.Errorf("registration = %+v", a.Registration)
	}
	if a.Refresh.Policy != RefreshGrantType || a.Refresh.Grace != 10*time.Second {
		t.Errorf("refresh defaults = %+v", a.Refresh)
	}
	if a.Consent.Remember != 720*time.Hour || !a.Cookies.Secure {
		t.Errorf("consent/cookies defaults = %+v %+v", a.Consent, a.Cookies)
	}
	pub, conf := a.clientsByID[publicClient], a.clientsByID[confidentialClient]
	if pub == nil || !pub.public() || pub.Name != "The IDE" || pub.Source != ClientPreRegistered ||
		len(pub.GrantTypes) != 1 || pub.GrantTypes[0] != GrantAuthorizationCode {
		t.Errorf("public client = %+v", pub)
	}
	if conf == nil || conf.TokenEndpointAuthMethod != AuthMethodSecretBasic || !conf.hasSecret || !conf.hasGrant(GrantRefreshToken) {
		t.Errorf("confidential client = %+v", conf)
	}
	if strings.Contains(strings.ToLower(string(conf.secretHash[:])), "horse") {
		t.Errorf("secret kept in clear")
	}

	// No authorization_server section: the AS is off.
	min := loadConfig(t, "minimal")
	if min.AS.Enabled() {
		t.Errorf("AS enabled without identity")
	}
}

func TestParseASConfigModes(t *testing.T) {
	header := withAS(map[string]string{"identity": `{"mode":"header","header":{"name":"x-user","trusted":["10.0.0.0/8","2001:db8::/32"]}}`})
	cfg, err := ParseConfig([]byte(asConfigJSON(header)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AS.Identity.Header != "x-user" || len(cfg.AS.Identity.HeaderTrusted) != 2 {
		t.Errorf("header identity = %+v", cfg.AS.Identity)
	}
	oidc := withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{"issuer":"https://idp.example.com","cluster":"idp",
		"authorization_endpoint":"https://idp.example.com/authorize","token_endpoint":"https://idp.example.com/token",
		"jwks_uri":"https://idp.example.com/jwks","client_id":"mcpgate","client_secret":"s3cret-s3cret-s3cret","subject_claim":"email"}}`})
	cfg, err = ParseConfig([]byte(asConfigJSON(oidc)))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.AS.Identity.OIDC
	if o == nil || o.TokenEndpointAuthMethod != AuthMethodSecretBasic || o.SubjectClaim != "email" ||
		len(o.Scopes) != 1 || o.Scopes[0] != "openid" || o.Timeout != 5*time.Second || o.tokenURL.Host != "idp.example.com" {
		t.Errorf("oidc = %+v", o)
	}
}

// TestParseASConfigRejects: every problem is reported at its JSON path.
func TestParseASConfigRejects(t *testing.T) {
	const as = "authorization_server"
	oidcBase := `"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/a","token_endpoint":"https://idp.example.com/t","jwks_uri":"https://idp.example.com/j","client_id":"c"`
	cases := []struct {
		name, json, path, msg string
	}{
		{"unknown key", asConfigJSON(withAS(map[string]string{"colour": `"red"`})), as + ".colour", "unknown key"},
		{"mode missing", asConfigJSON(withAS(map[string]string{"identity": `{}`})), as + ".identity.mode", "required"},
		{"mode unknown", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"saml"}`})), as + ".identity.mode", `must be "dev"`},
		{"object of another mode", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"dev","header":{"name":"x"}}`})), as + ".identity.header", "mode is"},
		{"header without name", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"header","header":{}}`})), as + ".identity.header.name", "required"},
		{"header authorization", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"header","header":{"name":"authorization"}}`})), as + ".identity.header.name", "other than"},
		{"header bad trusted", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"header","header":{"name":"x-user","trusted":["10.0.0.1"]}}`})), as + ".identity.header.trusted[0]", "prefix"},
		{"oidc without cluster", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{` + oidcBase + `}}`})), as + ".identity.oidc.cluster", "required"},
		{"oidc http issuer", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{` + strings.Replace(oidcBase, "https://idp.example.com\"", "http://idp.example.com\"", 1) + `,"cluster":"c"}}`})), as + ".identity.oidc.issuer", "https"},
		{"oidc scopes without openid", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{` + oidcBase + `,"cluster":"c","scopes":["email"]}}`})), as + ".identity.oidc.scopes", "openid"},
		{"oidc secret with none", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{` + oidcBase + `,"cluster":"c","client_secret":"x","token_endpoint_auth_method":"none"}}`})), as + ".identity.oidc.client_secret", "none"},
		{"oidc basic without secret", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{` + oidcBase + `,"cluster":"c","token_endpoint_auth_method":"client_secret_post"}}`})), as + ".identity.oidc.client_secret", "required"},
		{"oidc is own issuer", asConfigJSON(withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{` + strings.Replace(oidcBase, `"issuer":"https://idp.example.com"`, `"issuer":"https://mcp.example.com"`, 1) + `,"cluster":"c"}}`})), as + ".identity.oidc.issuer", "own issuer"},
		{"no sealing keys", asConfigJSON(withAS(map[string]string{"sealing_keys": ""})), as + ".sealing_keys", "required"},
		{"empty sealing keys", asConfigJSON(withAS(map[string]string{"sealing_keys": `[]`})), as + ".sealing_keys", "at least one"},
		{"short sealing secret", asConfigJSON(withAS(map[string]string{"sealing_keys": `[{"id":"a","secret":"c2hvcnQ"}]`})), as + ".sealing_keys[0].secret", "32 random bytes"},
		{"sealing key id", asConfigJSON(withAS(map[string]string{"sealing_keys": `[{"id":"a b","secret":"` + sealSecretA + `"}]`})), as + ".sealing_keys[0].id", "1 to 32"},
		{"duplicate sealing id", asConfigJSON(withAS(map[string]string{"sealing_keys": `[{"id":"a","secret":"` + sealSecretA + `"},{"id":"a","secret":"` + sealSecretB + `"}]`})), as + ".sealing_keys[1].id", "duplicate"},
		{"registration without identity", asConfigJSON(withAS(map[string]string{"identity": "", "clients": ""})), as + ".registration.enabled", "needs authorization_server.identity"},
		{"clients without identity", asConfigJSON(withAS(map[string]string{"identity": "", "registration": ""})), as + ".clients", "need authorization_server.identity"},
		{"rate limit zero", asConfigJSON(withAS(map[string]string{"registration": `{"enabled":true,"rate_limit":0}`})), as + ".registration.rate_limit", "between"},
		{"short initial token", asConfigJSON(withAS(map[string]string{"registration": `{"enabled":true,"initial_access_token":"abc"}`})), as + ".registration.initial_access_token", "16"},
		{"refresh policy", asConfigJSON(withAS(map[string]string{"refresh_tokens": `{"policy":"sometimes"}`})), as + ".refresh_tokens.policy", "must be one of"},
		{"grace too long", asConfigJSON(withAS(map[string]string{"refresh_tokens": `{"grace":"1h"}`})), as + ".refresh_tokens.grace", "between"},
		{"insecure cookies on https", asConfigJSON(withAS(map[string]string{"cookies": `{"secure":false}`})), as + ".cookies.secure", "http loopback"},
		{"client without id", asConfigJSON(withAS(map[string]string{"clients": `[{"redirect_uris":["https://a.example/cb"]}]`})), as + ".clients[0].client_id", "required"},
		{"client with dcr prefix", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"dcr.x","redirect_uris":["https://a.example/cb"]}]`})), as + ".clients[0].client_id", "prefix"},
		{"duplicate client", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"]},{"client_id":"a","redirect_uris":["https://a.example/cb"]}]`})), as + ".clients[1].client_id", "duplicate"},
		{"client without redirect", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a"}]`})), as + ".clients[0].redirect_uris", "required"},
		{"client http redirect", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["http://a.example/cb"]}]`})), as + ".clients[0].redirect_uris[0]", "loopback"},
		{"client fragment redirect", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb#x"]}]`})), as + ".clients[0].redirect_uris[0]", "fragment"},
		{"client secret with none", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"client_secret":"0123456789abcdef","token_endpoint_auth_method":"none"}]`})), as + ".clients[0].client_secret", "public client"},
		{"client post without secret", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_post"}]`})), as + ".clients[0].client_secret", "required"},
		{"client short secret", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"client_secret":"short"}]`})), as + ".clients[0].client_secret", "16"},
		{"client implicit grant", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}]`})), as + ".clients[0].grant_types", "not supported"},
		{"client unserved grant", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","client_credentials"]}]`})), as + ".clients[0].grant_types", "not served"},
		{"client without code grant", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}]`})), as + ".clients[0].grant_types", "authorization_code"},
		{"client bad scope", asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"a","redirect_uris":["https://a.example/cb"],"scope":"a  b"}]`})), as + ".clients[0].scope", "scope tokens"},
		{"consent remember type", asConfigJSON(withAS(map[string]string{"consent": `{"remember":30}`})), as + ".consent.remember", "duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.json)
			}
			found := false
			for _, e := range unwrapAll(err) {
				var ce *ConfigError
				if errors.As(e, &ce) && ce.Path == tc.path && strings.Contains(ce.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: ...%s...; got:\n%v", tc.path, tc.msg, err)
			}
		})
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestASConfigHTTPLoopbackCookies(t *testing.T) {
	cfg, err := ParseConfig([]byte(asConfigJSON(map[string]string{
		"issuer":    `"http://localhost:8080"`,
		"resources": `[{"resource":"http://localhost:8080/mcp","scopes":["mcp:tools"]}]`,
	})))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.cookieName(browserCookie); got != "mcpgate-browser" {
		t.Errorf("cookie name on http loopback = %q", got)
	}
	if sc := cfg.setCookie(browserCookie, "v", 0); !strings.Contains(sc, "; Secure") {
		t.Errorf("secure defaults to true: %q", sc)
	}
	cfg, err = ParseConfig([]byte(asConfigJSON(map[string]string{
		"issuer":               `"http://localhost:8080"`,
		"resources":            `[{"resource":"http://localhost:8080/mcp","scopes":["mcp:tools"]}]`,
		"authorization_server": withAS(map[string]string{"cookies": `{"secure":false}`})["authorization_server"],
	})))
	if err != nil {
		t.Fatal(err)
	}
	if sc := cfg.setCookie(browserCookie, "v", 0); strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Errorf("insecure loopback cookie = %q", sc)
	}
	https, _ := ParseConfig([]byte(asConfigJSON(nil)))
	if sc := https.setCookie(browserCookie, "v", 0); !strings.HasPrefix(sc, "__Host-mcpgate-browser=v; Path=/; HttpOnly; SameSite=Lax; Secure") {
		t.Errorf("https cookie = %q", sc)
	}
}
