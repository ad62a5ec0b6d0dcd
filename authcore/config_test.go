package authcore

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseConfigExamples(t *testing.T) {
	c := loadConfig(t, "example")
	if c.Issuer != "https://auth.example.com" {
		t.Errorf("issuer = %q", c.Issuer)
	}
	if len(c.Resources) != 2 || c.Resources[0].Path != "/team-a/mcp" || c.Resources[1].Path != "/team-b/mcp" {
		t.Errorf("resources = %+v", c.Resources)
	}
	if k := c.ActiveKey(); k.Kid != "es256-2026-11" || k.Alg != AlgES256 || k.Private == nil {
		t.Errorf("active key = %+v", k)
	}
	if c.Keys[1].Alg != AlgEdDSA || c.Keys[2].Alg != AlgES256 || c.Keys[1].Active || c.Keys[2].Active {
		t.Errorf("keys = %+v", c.Keys)
	}
	if c.Lifetimes.AccessToken != 10*time.Minute || c.Lifetimes.AuthorizationCode != 2*time.Minute {
		t.Errorf("lifetimes = %+v", c.Lifetimes)
	}
	if c.Endpoints.Registration != "/oauth/register" || c.Endpoints.JWKS != "/oauth/jwks" {
		t.Errorf("endpoints = %+v", c.Endpoints)
	}
	p := loadConfig(t, "issuer-path")
	if p.Endpoints.Authorization != "/tenant-1/oauth/authorize" || p.asMetadataPath() != "/.well-known/oauth-authorization-server/tenant-1" {
		t.Errorf("issuer-path endpoints = %+v, metadata at %s", p.Endpoints, p.asMetadataPath())
	}
	if p.ActiveKey().Alg != AlgEdDSA {
		t.Errorf("single key must be active: %+v", p.ActiveKey())
	}
}

const (
	jwkA       = `{"kty":"EC","crv":"P-256","x":"RNCgsmybWLnOr06xitH4WEgAbt87zmBB-v_kAPQ8fnI","y":"4SaDJStRANOJm7cUggF3K4Crv2OTbRXRVM5gjzH4Dkc","d":"mjhUbCkaI1g3scbqBzsCOOJqE7HyJFloueIXIRM4k-k"}`
	jwkB       = `{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}`
	jwkBPublic = `{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U"}`
)

// cfg builds a config document from a minimal valid one, replacing the
// top-level members given.
func cfgJSON(members map[string]string) string {
	base := map[string]string{
		"issuer":    `"https://mcp.example.com"`,
		"resources": `[{"resource":"https://mcp.example.com/mcp","scopes":["mcp:tools"]}]`,
		"keys":      `[{"kid":"k1","jwk":` + jwkA + `}]`,
	}
	for k, v := range members {
		base[k] = v
	}
	var parts []string
	for _, k := range sortedKeys(base) {
		if base[k] != "" {
			parts = append(parts, `"`+k+`":`+base[k])
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestParseConfigRejects is the table of invalid configurations: each is
// rejected with a message naming the JSON path of the problem.
func TestParseConfigRejects(t *testing.T) {
	cases := []struct {
		name    string
		json    string
		path    string // the JSON path the message must name
		message string // a fragment of the message
	}{
		{"not JSON", `{"issuer":`, "", "not valid JSON"},
		{"top level not an object", `[]`, "", "must be an object"},
		{"unknown top-level key", cfgJSON(map[string]string{"isuser": `"x"`}), "isuser", "unknown key"},
		{"missing issuer", cfgJSON(map[string]string{"issuer": ""}), "issuer", "required"},
		{"issuer wrong type", cfgJSON(map[string]string{"issuer": `42`}), "issuer", "must be a string"},
		{"issuer http non-loopback", cfgJSON(map[string]string{"issuer": `"http://mcp.example.com"`}), "issuer", "must use https"},
		{"issuer with query", cfgJSON(map[string]string{"issuer": `"https://mcp.example.com?x=1"`}), "issuer", "query"},
		{"issuer with fragment", cfgJSON(map[string]string{"issuer": `"https://mcp.example.com#f"`}), "issuer", "fragment"},
		{"issuer trailing slash", cfgJSON(map[string]string{"issuer": `"https://mcp.example.com/"`}), "issuer", "slash"},
		{"issuer relative", cfgJSON(map[string]string{"issuer": `"/auth"`}), "issuer", "absolute"},
		{"no resources", cfgJSON(map[string]string{"resources": `[]`}), "resources", "at least one"},
		{"resources not array", cfgJSON(map[string]string{"resources": `{}`}), "resources", "must be an array"},
		{"resource unknown key", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp","scope":["a"]}]`}), "resources[0].scope", "unknown key"},
		{"resource missing uri", cfgJSON(map[string]string{"resources": `[{"name":"x"}]`}), "resources[0].resource", "required"},
		{"resource trailing slash", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp/"}]`}), "resources[0].resource", "slash"},
		{"resource without path", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com"}]`}), "resources[0].resource", "path"},
		{"resource upper-case host", cfgJSON(map[string]string{"resources": `[{"resource":"https://MCP.example.com/mcp"}]`}), "resources[0].resource", "lower case"},
		{"resource path contradiction", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp","path":"/other"}]`}), "resources[0].path", "must equal"},
		{"duplicate resource path", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp"},{"resource":"https://other.example.com/mcp"}]`}), "resources[1].resource", "already used"},
		{"offline_access as resource scope", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp","scopes":["offline_access"]}]`}), "resources[0].scopes[0]", "offline_access"},
		{"invalid scope token", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp","scopes":["a b"]}]`}), "resources[0].scopes[0]", "scope token"},
		{"scope wrong type", cfgJSON(map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp","scopes":[1]}]`}), "resources[0].scopes[0]", "must be a string"},
		{"no keys", cfgJSON(map[string]string{"keys": `[]`}), "keys", "at least one"},
		{"key without kid", cfgJSON(map[string]string{"keys": `[{"jwk":` + jwkA + `}]`}), "keys[0].kid", "required"},
		{"duplicate kid", cfgJSON(map[string]string{"keys": `[{"kid":"a","active":true,"jwk":` + jwkA + `},{"kid":"a","jwk":` + jwkB + `}]`}), "keys[1].kid", "duplicate"},
		{"two active keys", cfgJSON(map[string]string{"keys": `[{"kid":"a","active":true,"jwk":` + jwkA + `},{"kid":"b","active":true,"jwk":` + jwkB + `}]`}), "keys[1].active", "only one"},
		{"no active key among several", cfgJSON(map[string]string{"keys": `[{"kid":"a","jwk":` + jwkA + `},{"kid":"b","jwk":` + jwkB + `}]`}), "keys", "active"},
		{"active key public only", cfgJSON(map[string]string{"keys": `[{"kid":"b","jwk":` + jwkBPublic + `}]`}), "keys", "cannot sign"},
		{"jwk and pem", cfgJSON(map[string]string{"keys": `[{"kid":"a","jwk":` + jwkA + `,"pem":"x"}]`}), "keys[0]", "not both"},
		{"RSA jwk", cfgJSON(map[string]string{"keys": `[{"kid":"a","jwk":{"kty":"RSA","n":"x","e":"AQAB"}}]`}), "keys[0].jwk", "unsupported key"},
		{"jwk unknown member", cfgJSON(map[string]string{"keys": `[{"kid":"a","jwk":{"kty":"EC","crv":"P-256","x":"RNCgsmybWLnOr06xitH4WEgAbt87zmBB-v_kAPQ8fnI","y":"4SaDJStRANOJm7cUggF3K4Crv2OTbRXRVM5gjzH4Dkc","p":"x"}}]`}), "keys[0].jwk.p", "unknown key"},
		{"jwk point not on curve", cfgJSON(map[string]string{"keys": `[{"kid":"a","jwk":{"kty":"EC","crv":"P-256","x":"RNCgsmybWLnOr06xitH4WEgAbt87zmBB-v_kAPQ8fnI","y":"4SaDJStRANOJm7cUggF3K4Crv2OTbRXRVM5gjzH5Dkc"}}]`}), "keys[0].jwk", "not a point"},
		{"jwk d mismatch", cfgJSON(map[string]string{"keys": `[{"kid":"a","jwk":{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"mjhUbCkaI1g3scbqBzsCOOJqE7HyJFloueIXIRM4k-k"}}]`}), "keys[0].jwk", "does not match"},
		{"alg contradicts key", cfgJSON(map[string]string{"keys": `[{"kid":"a","alg":"EdDSA","jwk":` + jwkA + `}]`}), "keys[0].alg", "ES256"},
		{"bad pem", cfgJSON(map[string]string{"keys": `[{"kid":"a","pem":"not a pem"}]`}), "keys[0].pem", "no PEM block"},
		{"endpoint relative", cfgJSON(map[string]string{"endpoints": `{"token":"oauth/token"}`}), "endpoints.token", "starting with"},
		{"endpoint clashes with resource", cfgJSON(map[string]string{"endpoints": `{"token":"/mcp"}`}), "endpoints.token", "already used"},
		{"endpoint under well-known", cfgJSON(map[string]string{"endpoints": `{"jwks":"/.well-known/jwks.json"}`}), "endpoints.jwks", "well-known"},
		{"endpoint unknown key", cfgJSON(map[string]string{"endpoints": `{"authorize":"/a"}`}), "endpoints.authorize", "unknown key"},
		{"lifetime not a duration", cfgJSON(map[string]string{"lifetimes": `{"access_token":"ten minutes"}`}), "lifetimes.access_token", "duration"},
		{"lifetime out of bounds", cfgJSON(map[string]string{"lifetimes": `{"authorization_code":"1h"}`}), "lifetimes.authorization_code", "between"},
		{"lifetime number", cfgJSON(map[string]string{"lifetimes": `{"access_token":600}`}), "lifetimes.access_token", "duration"},
		{"cors bad origin", cfgJSON(map[string]string{"cors": `{"allowed_origins":["https://app.example.com/path"]}`}), "cors.allowed_origins[0]", "origin"},
		{"duplicate key", `{"issuer":"https://a.example","issuer":"https://b.example","resources":[{"resource":"https://a.example/mcp"}],"keys":[{"kid":"k","jwk":` + jwkA + `}]}`, "issuer", "duplicate key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			msg := err.Error()
			want := "config: " + tc.path
			if tc.path != "" {
				want += ": "
			}
			if !strings.Contains(msg, want) || !strings.Contains(msg, tc.message) {
				t.Errorf("error = %q\nwant it to name %q and contain %q", msg, tc.path, tc.message)
			}
		})
	}
}
