package authcore

import (
	"strings"
	"testing"
	"time"
)

// Issuers as real deployments name them, one cluster each.
const (
	kcIssuer      = "https://kc.example.com/realms/demo"
	oktaIssuer    = "https://dev-1.okta.com/oauth2/default"
	auth0Issuer   = "https://tenant.auth0.com/"
	entraTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraV1Issuer = "https://sts.windows.net/" + entraTenant + "/"
	entraV2Issuer = "https://login.microsoftonline.com/" + entraTenant + "/v2.0"
	entraAPIID    = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	shapesMCP     = "https://mcp.example.com/mcp"
	shapesOktaMCP = "https://mcp.example.com/okta-only"
)

// shapesConfig trusts the four vendors: Keycloak and Auth0 and Okta
// through their discovery documents, Entra ID with explicit JWKS URIs and
// its audiences. /okta-only trusts only Okta.
const shapesConfig = `{
  "resources": [
    {"resource": "` + shapesMCP + `", "scopes": ["mcp:tools"]},
    {"resource": "` + shapesOktaMCP + `", "authorization_servers": ["` + oktaIssuer + `"]}
  ],
  "trusted_issuers": [
    {"issuer": "` + kcIssuer + `", "cluster": "keycloak"},
    {"issuer": "` + oktaIssuer + `", "cluster": "okta", "audiences": ["api://default"]},
    {"issuer": "` + auth0Issuer + `", "cluster": "auth0", "token_types": ["at+jwt"]},
    {"issuer": "` + entraV1Issuer + `", "cluster": "entra", "jwks_uri": "https://login.microsoftonline.com/` + entraTenant + `/discovery/keys", "audiences": ["api://mcp-gateway"]},
    {"issuer": "` + entraV2Issuer + `", "cluster": "entra2", "jwks_uri": "https://login.microsoftonline.com/` + entraTenant + `/discovery/v2.0/keys", "audiences": ["` + entraAPIID + `"]}
  ]
}`

// vendorIdPs builds the four providers: each publishes its metadata where
// the vendor does and one RS256 key (Okta's kid form, Entra's x5t-like kid).
func vendorIdPs(t testing.TB) (map[string]*testIdP, map[string]*testKey) {
	keys := map[string]*testKey{
		"keycloak": newTestKey(t, "Xq3Ll2c5n0qd8s-kc", "RS256"),
		"okta":     newTestKey(t, "okta-kid-1", "RS256"),
		"auth0":    newTestKey(t, "auth0-kid-1", "RS256"),
		"entra":    newTestKey(t, "kWbkaa6qs8wsTnBwiiNYOhHbnAw", "RS256"),
	}
	keys["entra"].jwkAlg = "" // Entra ID publishes no "alg"
	idps := map[string]*testIdP{}
	for n, k := range keys {
		idps[n] = newTestIdP(t, k)
	}
	idps["keycloak"].jwksPath = "/realms/demo/protocol/openid-connect/certs"
	idps["keycloak"].metadata["/realms/demo/.well-known/openid-configuration"] = `{"issuer":"` + kcIssuer + `","jwks_uri":"https://kc.example.com/realms/demo/protocol/openid-connect/certs"}`
	idps["okta"].jwksPath = "/oauth2/default/v1/keys"
	idps["okta"].metadata["/oauth2/default/.well-known/openid-configuration"] = `{"issuer":"` + oktaIssuer + `","jwks_uri":"https://dev-1.okta.com/oauth2/default/v1/keys"}`
	idps["auth0"].jwksPath = "/.well-known/jwks.json"
	idps["auth0"].metadata["/.well-known/openid-configuration"] = `{"issuer":"` + auth0Issuer + `","jwks_uri":"https://tenant.auth0.com/.well-known/jwks.json"}`
	idps["entra"].jwksPath = "" // .../discovery/keys and .../discovery/v2.0/keys
	idps["entra"].keys[0].use = "sig"
	return idps, keys
}

// TestTokenShapes: tokens shaped as each vendor documents them, signed
// here, accepted with the identity their claims carry, or refused with
// the right counted reason.
func TestTokenShapes(t *testing.T) {
	idps, keys := vendorIdPs(t)
	// Entra's JWKS path ends in /keys, not /jwks.
	idps["entra"].jwksPath = "/" + entraTenant + "/discovery/keys"
	idps["entra2"] = newTestIdP(t, keys["entra"])
	idps["entra2"].jwksPath = "/" + entraTenant + "/discovery/v2.0/keys"
	h := newIssuerHarness(t, shapesConfig, idps)
	now := h.clk.Now()
	tid := map[string]any{"tid": entraTenant}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}

	type tc struct {
		name    string
		key     string // cluster of the signing key
		header  map[string]any
		claims  map[string]any
		path    string
		reason  string // "" accepted
		subject string
		client  string
		scope   string
	}
	cases := []tc{
		// Keycloak (realm access token with an audience mapper): typ JWT,
		// aud array with "account", scope string, azp.
		{name: "keycloak", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", []string{shapesMCP, "account"},
				map[string]any{"azp": "mcp-client", "scope": "openid profile mcp:tools", "typ": "Bearer", "preferred_username": "alice"}),
			subject: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", client: "mcp-client", scope: "openid profile mcp:tools"},
		// Okta custom authorization server: no typ, aud api://default, scp
		// array, cid.
		{name: "okta", key: "okta", header: map[string]any{},
			claims:  stdClaims(now, oktaIssuer, "alice@example.com", "api://default", map[string]any{"ver": 1, "cid": "0oa1b2c3d4e5f6g7h8i9", "uid": "00u1", "scp": []string{"openid", "mcp:tools"}}),
			subject: "alice@example.com", client: "0oa1b2c3d4e5f6g7h8i9", scope: "openid mcp:tools"},
		{name: "okta at okta-only resource", key: "okta", header: map[string]any{}, path: "/okta-only",
			claims:  stdClaims(now, oktaIssuer, "bob@example.com", "api://default", map[string]any{"cid": "0oa1", "scp": []string{"mcp:tools"}}),
			subject: "bob@example.com", client: "0oa1", scope: "mcp:tools"},
		// Auth0 with the RFC 9068 token profile: typ at+jwt, aud array
		// with the userinfo URL, scope string, client_id and azp.
		{name: "auth0", key: "auth0", header: map[string]any{"typ": "at+jwt"},
			claims: stdClaims(now, auth0Issuer, "auth0|64f1c2", []string{shapesMCP, "https://tenant.auth0.com/userinfo"},
				map[string]any{"azp": "Aq1Bw2", "client_id": "Aq1Bw2", "scope": "openid mcp:tools"}),
			subject: "auth0|64f1c2", client: "Aq1Bw2", scope: "openid mcp:tools"},
		{name: "auth0 application/at+jwt", key: "auth0", header: map[string]any{"typ": "application/at+jwt"},
			claims:  stdClaims(now, auth0Issuer, "auth0|1", shapesMCP, map[string]any{"client_id": "c", "scope": "mcp:tools"}),
			subject: "auth0|1", client: "c", scope: "mcp:tools"},
		// Entra ID v1: iss sts.windows.net, aud the app ID URI, appid, scp string.
		{name: "entra v1", key: "entra", header: map[string]any{"typ": "JWT", "x5t": keys["entra"].kid},
			claims: stdClaims(now, entraV1Issuer, "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "api://mcp-gateway",
				merge(tid, map[string]any{"ver": "1.0", "appid": "11111111-2222-3333-4444-555555555555", "scp": "mcp:tools user_impersonation", "oid": "o1", "nbf": now.Unix()})),
			subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", client: "11111111-2222-3333-4444-555555555555", scope: "mcp:tools user_impersonation"},

		// Entra ID v2: iss login.microsoftonline.com/<tenant>/v2.0, aud
		// the API's client id, azp, scp string.
		{name: "entra v2", key: "entra", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, entraV2Issuer, "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", entraAPIID,
				merge(tid, map[string]any{"ver": "2.0", "azp": "aaaabbbb-0000-cccc-1111-dddd2222eeee", "azpacr": "0", "scp": "mcp:tools", "oid": "o2"})),
			subject: "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA", client: "aaaabbbb-0000-cccc-1111-dddd2222eeee", scope: "mcp:tools"},
		{name: "entra v1 token presented with the v2 audience", key: "entra", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, entraV1Issuer, "u", entraAPIID, map[string]any{"scp": "mcp:tools"}), reason: denyWrongAudience},

		// Refusals.
		{name: "auth0 typ JWT where only at+jwt is accepted", key: "auth0", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, auth0Issuer, "auth0|1", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyBadHeader},
		{name: "auth0 no typ where only at+jwt is accepted", key: "auth0", header: map[string]any{"typ": nil},
			claims: stdClaims(now, auth0Issuer, "auth0|1", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyBadHeader},
		{name: "wrong iss", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, "https://kc.example.com/realms/other", "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyUnknownIssuer},
		{name: "iss with a trailing slash added", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer+"/", "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyUnknownIssuer},
		{name: "keycloak token signed by okta's key", key: "okta", header: map[string]any{"typ": "JWT", "kid": keys["keycloak"].kid},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyBadSignature},
		{name: "wrong aud (keycloak default account audience only)", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer, "u", "account", map[string]any{"scope": "mcp:tools"}), reason: denyWrongAudience},
		{name: "okta aud where the resource URI is expected", key: "okta",
			claims: stdClaims(now, oktaIssuer, "u", shapesMCP, map[string]any{"scp": []string{"mcp:tools"}}), reason: denyWrongAudience},
		{name: "entra v1 token at the okta-only resource", key: "entra", header: map[string]any{"typ": "JWT"}, path: "/okta-only",
			claims: stdClaims(now, entraV1Issuer, "u", "api://mcp-gateway", map[string]any{"scp": "mcp:tools"}), reason: denyUntrustedIssuer},
		{name: "no sub", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"sub": nil, "scope": "mcp:tools"}), reason: denyBadClaims},
		{name: "no exp", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"exp": nil, "scope": "mcp:tools"}), reason: denyBadClaims},
		{name: "scp of the wrong type", key: "okta",
			claims: stdClaims(now, oktaIssuer, "u", "api://default", map[string]any{"scp": 7}), reason: denyBadClaims},
		{name: "expired", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"exp": now.Add(-time.Hour).Unix(), "scope": "mcp:tools"}), reason: denyExpired},
		{name: "not yet valid", key: "keycloak", header: map[string]any{"typ": "JWT"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"nbf": now.Add(time.Hour).Unix(), "scope": "mcp:tools"}), reason: denyExpired},
		{name: "alg none", key: "keycloak", header: map[string]any{"typ": "JWT", "alg": "none"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyBadHeader},
		{name: "alg HS256 (key confusion)", key: "keycloak", header: map[string]any{"typ": "JWT", "alg": "HS256"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyBadHeader},
		{name: "unknown kid", key: "keycloak", header: map[string]any{"typ": "JWT", "kid": "rotated-away"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyUnknownKey},
		{name: "typ id_token-like", key: "keycloak", header: map[string]any{"typ": "ID"},
			claims: stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"scope": "mcp:tools"}), reason: denyBadHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := signToken(t, keys[c.key], c.header, c.claims)
			path := c.path
			if path == "" {
				path = "/mcp"
			}
			before := h.denials()
			o := h.access(h.e, path, tok)
			after := h.denials()
			if c.reason == "" {
				f, ok := o.(Forward)
				if !ok {
					t.Fatalf("refused: %+v; denials %v", o, after)
				}
				got := map[string]string{}
				for _, kv := range f.Set {
					got[kv[0]] = kv[1]
				}
				if got["x-mcpgate-subject"] != c.subject || got["x-mcpgate-client-id"] != c.client || got["x-mcpgate-scope"] != c.scope {
					t.Errorf("identity headers %v, want subject %q client %q scope %q", got, c.subject, c.client, c.scope)
				}
				if !containsString(f.Remove, "authorization") {
					t.Error("the token would reach the MCP server")
				}
				return
			}
			rep, ok := o.(Reply)
			if !ok || rep.Status != 401 || !strings.Contains(rep.Headers.Get("www-authenticate"), `error="invalid_token"`) {
				t.Fatalf("outcome %+v, want 401 invalid_token", o)
			}
			if after[c.reason] != before[c.reason]+1 {
				t.Errorf("denials %v -> %v, want one more %q", before, after, c.reason)
			}
		})
	}
}

// TestTokenShapesDiscovery: the shapes above cost one metadata lookup
// (RFC 8414 path-inserted first, then the OpenID appended form) and one
// JWK Set fetch per issuer, the unknown kid included (it came within the
// refetch interval of the first fetch).
func TestTokenShapesDiscovery(t *testing.T) {
	idps, keys := vendorIdPs(t)
	h := newIssuerHarness(t, shapesConfig, idps)
	now := h.clk.Now()
	for i := 0; i < 3; i++ {
		for _, kid := range []string{keys["keycloak"].kid, "unknown-" + string(rune('a'+i))} {
			tok := signToken(t, keys["keycloak"], map[string]any{"typ": "JWT", "kid": kid}, stdClaims(now, kcIssuer, "u", shapesMCP, map[string]any{"scope": "mcp:tools"}))
			h.access(h.e, "/mcp", tok)
		}
	}
	kc := idps["keycloak"]
	if n := kc.count("GET /.well-known/oauth-authorization-server/realms/demo"); n != 1 {
		t.Errorf("path-inserted metadata requests: %d, want 1", n)
	}
	if n := kc.count("GET /realms/demo/.well-known/openid-configuration"); n != 1 {
		t.Errorf("OpenID metadata requests: %d, want 1", n)
	}
	if n := kc.count("GET /realms/demo/protocol/openid-connect/certs"); n != 1 {
		t.Errorf("JWK Set requests: %d, want 1", n)
	}
	if d := h.denials(); d[denyUnknownKey] != 3 {
		t.Errorf("denials %v, want 3 unknown_kid", d)
	}
}
