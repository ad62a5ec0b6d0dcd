package authcore

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

const testDocURL = "https://client.example.com/oauth/metadata.json"

// testDoc builds a document from a minimal valid one: members maps a name
// to raw JSON, "" removes the member.
func testDoc(members map[string]string) string {
	base := map[string]string{
		"client_id":     `"` + testDocURL + `"`,
		"client_name":   `"Example Client"`,
		"redirect_uris": `["http://127.0.0.1/callback", "https://client.example.com/cb"]`,
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

func TestParseCIMDDocumentMinimal(t *testing.T) {
	d, err := parseCIMDDocument(testDocURL, []byte(testDoc(nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := &CIMDDocument{
		ClientID: testDocURL, Host: "client.example.com", ClientName: "Example Client",
		RedirectURIs:            []string{"http://127.0.0.1/callback", "https://client.example.com/cb"},
		TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	if d.Confidential() {
		t.Error("public client reported confidential")
	}
}

// TestParseCIMDDocumentClaudeLike: a document shaped like the ones real
// clients publish, with a grant type mcpgate does not know.
func TestParseCIMDDocumentClaudeLike(t *testing.T) {
	doc := testDoc(map[string]string{
		"client_uri":                 `"https://client.example.com"`,
		"logo_uri":                   `"https://client.example.com/logo.png?v=2"`,
		"grant_types":                `["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer", "refresh_token"]`,
		"response_types":             `["code"]`,
		"token_endpoint_auth_method": `"none"`,
		"scope":                      `"mcp:tools offline_access"`,
		"contacts":                   `["ops@client.example.com"]`,
		"software_id":                `"example"`,
		"software_version":           `"1.2.3"`,
		"application_type":           `"native"`,
		"tos_uri":                    `null`,
		"some_extension":             `{"x": [1, 2]}`,
	})
	d, err := parseCIMDDocument(testDocURL, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
		!reflect.DeepEqual(d.IgnoredGrantTypes, []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}) {
		t.Errorf("grants %v ignored %v", d.GrantTypes, d.IgnoredGrantTypes)
	}
	if d.ClientURI != "https://client.example.com" || d.LogoURI != "https://client.example.com/logo.png?v=2" || d.TosURI != "" ||
		d.Scope != "mcp:tools offline_access" || d.SoftwareID != "example" || d.SoftwareVersion != "1.2.3" ||
		!reflect.DeepEqual(d.Contacts, []string{"ops@client.example.com"}) || d.ApplicationType != "native" || len(d.Dropped) != 0 {
		t.Errorf("got %+v", d)
	}
}

func TestParseCIMDDocumentPrivateKeyJWT(t *testing.T) {
	jwks := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U"}]}`
	d, err := parseCIMDDocument(testDocURL, []byte(testDoc(map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`, "jwks": jwks})))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Confidential() || d.JWKS != jwks || d.TokenEndpointAuthMethod != "private_key_jwt" {
		t.Errorf("got %+v", d)
	}
	d, err = parseCIMDDocument(testDocURL, []byte(testDoc(map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`, "jwks_uri": `"https://client.example.com/jwks.json"`})))
	if err != nil || d.JWKSURI != "https://client.example.com/jwks.json" {
		t.Errorf("jwks_uri: %+v %v", d, err)
	}
}

// TestParseCIMDDocumentDropsBadOptionalMembers: malformed display members
// are left out, not fatal.
func TestParseCIMDDocumentDropsBadOptionalMembers(t *testing.T) {
	d, err := parseCIMDDocument(testDocURL, []byte(testDoc(map[string]string{
		"logo_uri":    `"http://10.0.0.1/logo.png"`,
		"client_uri":  `"javascript:alert(1)"`,
		"policy_uri":  `42`,
		"tos_uri":     `"https://127.0.0.1/tos"`,
		"contacts":    `"not-an-array"`,
		"software_id": "\"a\\u202eb\"",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if d.LogoURI != "" || d.ClientURI != "" || d.PolicyURI != "" || d.TosURI != "" || d.Contacts != nil || d.SoftwareID != "" {
		t.Errorf("kept bad members: %+v", d)
	}
	if !reflect.DeepEqual(d.Dropped, []string{"logo_uri", "client_uri", "policy_uri", "tos_uri", "software_id", "contacts"}) {
		t.Errorf("dropped = %v", d.Dropped)
	}
}

// TestParseCIMDDocumentRejects: each rule of CIMD §4.1 and the MCP 2026-07-28 client registration profile.
func TestParseCIMDDocumentRejects(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{"not JSON", `{"client_id":`, "not valid JSON"},
		{"invalid UTF-8", "{\"client_id\":\"" + testDocURL + "\",\"client_name\":\"\xff\"}", "not valid JSON"},
		{"array", `[]`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"trailing garbage", testDoc(nil) + `{}`, "not valid JSON"},
		{"duplicate client_id", `{"client_id":"https://evil.example/x",` + testDoc(nil)[1:], "more than once"},
		{"duplicate redirect_uris", strings.TrimSuffix(testDoc(nil), "}") + `,"redirect_uris":["https://evil.example/cb"]}`, "more than once"},
		// client_id: simple string comparison
		{"no client_id", testDoc(map[string]string{"client_id": ""}), "no client_id"},
		{"client_id not a string", testDoc(map[string]string{"client_id": `1`}), "must be a string"},
		{"client_id null", testDoc(map[string]string{"client_id": `null`}), "no client_id"},
		{"client_id trailing slash", testDoc(map[string]string{"client_id": `"` + testDocURL + `/"`}), "does not equal"},
		{"client_id upper-case host", testDoc(map[string]string{"client_id": `"https://CLIENT.example.com/oauth/metadata.json"`}), "does not equal"},
		{"client_id upper-case scheme", testDoc(map[string]string{"client_id": `"HTTPS://client.example.com/oauth/metadata.json"`}), "does not equal"},
		{"client_id percent-encoded", testDoc(map[string]string{"client_id": `"https://client.example.com/oauth/metadata%2Ejson"`}), "does not equal"},
		{"client_id explicit port", testDoc(map[string]string{"client_id": `"https://client.example.com:443/oauth/metadata.json"`}), "does not equal"},
		{"client_id other host", testDoc(map[string]string{"client_id": `"https://evil.example/oauth/metadata.json"`}), "does not equal"},
		// secrets
		{"client_secret", testDoc(map[string]string{"client_secret": `"s3cret"`}), "client_secret"},
		{"client_secret null", testDoc(map[string]string{"client_secret": `null`}), "client_secret"},
		{"client_secret_expires_at", testDoc(map[string]string{"client_secret_expires_at": `0`}), "client_secret_expires_at"},
		{"client_secret_basic", testDoc(map[string]string{"token_endpoint_auth_method": `"client_secret_basic"`}), "shared secret"},
		{"client_secret_post", testDoc(map[string]string{"token_endpoint_auth_method": `"client_secret_post"`}), "shared secret"},
		{"client_secret_jwt", testDoc(map[string]string{"token_endpoint_auth_method": `"client_secret_jwt"`}), "shared secret"},
		{"tls_client_auth", testDoc(map[string]string{"token_endpoint_auth_method": `"tls_client_auth"`}), `"none" or "private_key_jwt"`},
		{"auth method not a string", testDoc(map[string]string{"token_endpoint_auth_method": `["none"]`}), "must be a string"},
		{"private_key_jwt without keys", testDoc(map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`}), "needs jwks or jwks_uri"},
		{"jwks and jwks_uri", testDoc(map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`, "jwks": `{"keys":[{}]}`, "jwks_uri": `"https://client.example.com/jwks"`}), "both"},
		{"jwks not a set", testDoc(map[string]string{"jwks": `{"kty":"EC"}`}), "JWK Set"},
		{"jwks empty", testDoc(map[string]string{"jwks": `{"keys":[]}`}), "JWK Set"},
		{"jwks_uri http", testDoc(map[string]string{"jwks_uri": `"http://client.example.com/jwks"`}), "jwks_uri"},
		{"jwks_uri IP literal", testDoc(map[string]string{"jwks_uri": `"https://169.254.169.254/jwks"`}), "jwks_uri"},
		{"jwks_uri dot segment", testDoc(map[string]string{"jwks_uri": `"https://client.example.com/a/%2e%2e/jwks"`}), "jwks_uri"},
		// name
		{"no client_name", testDoc(map[string]string{"client_name": ""}), "no client_name"},
		{"client_name empty", testDoc(map[string]string{"client_name": `"  "`}), "must not be empty"},
		{"client_name not a string", testDoc(map[string]string{"client_name": `{"en":"x"}`}), "must be a string"},
		{"client_name bidi override", testDoc(map[string]string{"client_name": "\"Good\\u202eliveE\""}), "bidirectional"},
		{"client_name control", testDoc(map[string]string{"client_name": "\"a\\nb\""}), "control"},
		{"client_name too long", testDoc(map[string]string{"client_name": `"` + strings.Repeat("x", 257) + `"`}), "too long"},
		// redirect URIs
		{"no redirect_uris", testDoc(map[string]string{"redirect_uris": ""}), "no redirect_uris"},
		{"redirect_uris empty", testDoc(map[string]string{"redirect_uris": `[]`}), "non-empty array"},
		{"redirect_uris string", testDoc(map[string]string{"redirect_uris": `"https://client.example.com/cb"`}), "non-empty array"},
		{"redirect_uris number", testDoc(map[string]string{"redirect_uris": `[1]`}), "non-empty array"},
		{"redirect http non-loopback", testDoc(map[string]string{"redirect_uris": `["http://client.example.com/cb"]`}), "loopback"},
		{"redirect fragment", testDoc(map[string]string{"redirect_uris": `["https://client.example.com/cb#x"]`}), "fragment"},
		{"redirect javascript", testDoc(map[string]string{"redirect_uris": `["javascript:alert(1)"]`}), "reverse domain"},
		{"redirect relative", testDoc(map[string]string{"redirect_uris": `["/cb"]`}), "absolute"},
		{"redirect userinfo", testDoc(map[string]string{"redirect_uris": `["https://u@client.example.com/cb"]`}), "userinfo"},
		{"web app with loopback", testDoc(map[string]string{"application_type": `"web"`}), "web"},
		{"unknown application_type", testDoc(map[string]string{"application_type": `"browser"`}), "application_type"},
		// grant and response types
		{"grant_types not an array", testDoc(map[string]string{"grant_types": `"authorization_code"`}), "array of strings"},
		{"grant_types with a number", testDoc(map[string]string{"grant_types": `["authorization_code", 1]`}), "array of strings"},
		{"grant_types empty", testDoc(map[string]string{"grant_types": `[]`}), `include "authorization_code"`},
		{"grant_types without code", testDoc(map[string]string{"grant_types": `["client_credentials"]`}), `include "authorization_code"`},
		{"response_types token", testDoc(map[string]string{"response_types": `["code", "token"]`}), `["code"]`},
		{"response_types empty", testDoc(map[string]string{"response_types": `[]`}), `must be ["code"]`},
		// scope
		{"scope not a string", testDoc(map[string]string{"scope": `["a"]`}), "scope must be a string"},
		{"scope with bad token", testDoc(map[string]string{"scope": `"a  b"`}), "scope tokens"},
		{"scope empty", testDoc(map[string]string{"scope": `""`}), "scope tokens"},
	}
	for _, tc := range cases {
		d, err := parseCIMDDocument(testDocURL, []byte(tc.doc))
		if err == nil {
			t.Errorf("%s: accepted %+v", tc.name, d)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, err, tc.want)
		}
		if _, ok := err.(cimdDocError); !ok {
			t.Errorf("%s: error type %T", tc.name, err)
		}
	}
}

func TestCIMDDocumentClone(t *testing.T) {
	d, err := parseCIMDDocument(testDocURL, []byte(testDoc(nil)))
	if err != nil {
		t.Fatal(err)
	}
	c := d.clone()
	c.RedirectURIs[0] = "https://evil.example/cb"
	c.GrantTypes[0] = "x"
	if d.RedirectURIs[0] != "http://127.0.0.1/callback" || d.GrantTypes[0] != "authorization_code" {
		t.Error("clone shares slices")
	}
}

// FuzzParseCIMDDocument: no input panics, and an accepted document obeys
// every rule whatever the input.
func FuzzParseCIMDDocument(f *testing.F) {
	f.Add(testDoc(nil))
	f.Add(testDoc(map[string]string{"grant_types": `["authorization_code","urn:x"]`, "token_endpoint_auth_method": `"private_key_jwt"`, "jwks_uri": `"https://client.example.com/j"`}))
	f.Add(testDoc(map[string]string{"client_secret": `"x"`}))
	f.Add(`{"client_id":"` + testDocURL + `","client_id":"x"}`)
	f.Add(`[1,2,{"a":"\ud800"}]`)
	f.Fuzz(func(t *testing.T, body string) {
		d, err := parseCIMDDocument(testDocURL, []byte(body))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		root := jsonv.Parse(body)
		if d.ClientID != testDocURL || root.Get("client_id").String() != testDocURL {
			t.Fatalf("client_id %q", d.ClientID)
		}
		if root.Get("client_secret").Exists() || root.Get("client_secret_expires_at").Exists() {
			t.Fatal("document with a secret accepted")
		}
		if d.TokenEndpointAuthMethod != "none" && d.TokenEndpointAuthMethod != "private_key_jwt" {
			t.Fatalf("auth method %q", d.TokenEndpointAuthMethod)
		}
		if d.Confidential() && d.JWKS == "" && d.JWKSURI == "" {
			t.Fatal("private_key_jwt without keys")
		}
		if len(d.RedirectURIs) == 0 || d.ClientName == "" {
			t.Fatal("required member missing")
		}
		for _, r := range d.RedirectURIs {
			if _, msg := clientmeta.CheckRedirectURI(r, d.ApplicationType); msg != "" {
				t.Fatalf("redirect %q accepted", r)
			}
		}
		if !reflect.DeepEqual(d.ResponseTypes, []string{"code"}) || len(d.GrantTypes) == 0 || d.GrantTypes[0] == "" {
			t.Fatalf("types %v %v", d.ResponseTypes, d.GrantTypes)
		}
		for _, g := range d.GrantTypes {
			if g != "authorization_code" && g != "refresh_token" {
				t.Fatalf("unknown grant %q kept", g)
			}
		}
		if clientmeta.CheckName(d.ClientName) != "" {
			t.Fatalf("unsafe name %q", d.ClientName)
		}
	})
}
