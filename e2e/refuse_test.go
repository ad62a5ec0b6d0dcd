package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// TestFilterRefusesInvalidConfig: the compiled filter refuses to start
// (fail closed) on each invalid configuration, and the log names the JSON
// path of the problem; the native parser gives the same message.
func TestFilterRefusesInvalidConfig(t *testing.T) {
	key := `{"kid":"k","jwk":{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}}`
	res := `{"resource":"https://a.example/mcp","scopes":["mcp:tools"]}`
	doc := func(issuer, resources, keys, extra string) string {
		return `{"issuer":` + issuer + `,"resources":` + resources + `,"keys":` + keys + extra + `}`
	}
	good := doc(`"https://a.example"`, "["+res+"]", "["+key+"]", "")
	cases := []struct{ name, config, path string }{
		{"not JSON", `{"issuer":`, "not valid JSON"},
		{"unknown key", doc(`"https://a.example"`, "["+res+"]", "["+key+"]", `,"issuers":1`), "config: issuers:"},
		{"issuer http", doc(`"http://a.example"`, "["+res+"]", "["+key+"]", ""), "config: issuer:"},
		{"issuer wrong type", doc(`7`, "["+res+"]", "["+key+"]", ""), "config: issuer:"},
		{"no resources", doc(`"https://a.example"`, "[]", "["+key+"]", ""), "config: resources:"},
		{"resource trailing slash", doc(`"https://a.example"`, `[{"resource":"https://a.example/mcp/"}]`, "["+key+"]", ""), "config: resources[0].resource:"},
		{"offline_access in PRM scopes", doc(`"https://a.example"`, `[{"resource":"https://a.example/mcp","scopes":["offline_access"]}]`, "["+key+"]", ""), "config: resources[0].scopes[0]:"},
		{"bad rule pattern", doc(`"https://a.example"`, `[{"resource":"https://a.example/mcp","rules":[{"method":"to*ls","scopes":["x"]}]}]`, "["+key+"]", ""), "config: resources[0].rules[0]:"},
		{"no keys", doc(`"https://a.example"`, "["+res+"]", "[]", ""), "config: keys:"},
		{"RSA key", doc(`"https://a.example"`, "["+res+"]", `[{"kid":"r","jwk":{"kty":"RSA","n":"x","e":"AQAB"}}]`, ""), "config: keys[0].jwk:"},
		{"bad lifetime", doc(`"https://a.example"`, "["+res+"]", "["+key+"]", `,"lifetimes":{"access_token":"forever"}`), "config: lifetimes.access_token:"},
		{"endpoint clash", doc(`"https://a.example"`, "["+res+"]", "["+key+"]", `,"endpoints":{"token":"/mcp"}`), "config: endpoints.token:"},
		{"identity mode unknown", doc(`"https://a.example"`, "["+res+"]", "["+key+"]", `,"authorization_server":{"identity":{"mode":"trust-me"}}`), "config: authorization_server.identity.mode:"},
		{"cimd wrong type", doc(`"https://a.example"`, "["+res+"]", "["+key+"]", `,"cimd":{"enabled":"yes"}`), "config: cimd.enabled:"},
		{"client_name with a right-to-left override", doc(`"https://a.example"`, "["+res+"]", "["+key+"]", `,"authorization_server":{"identity":{"mode":"dev"},`+
			`"sealing_keys":[{"id":"s1","secret":"RwXHatZYY0oFf8MarH7BtUmd6ohDGxGAoF3POeyIhZM"}],`+
			`"clients":[{"client_id":"c","client_name":"Good\u202eName","redirect_uris":["https://a.example/cb"]}]}`), "config: authorization_server.clients[0].client_name:"},
	}
	wasmBytes := filterWasm(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authcore.ParseConfig([]byte(tc.config))
			if err == nil || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("native parser: %v, want it to name %q", err, tc.path)
			}
			var logs []string
			h, err := harness.New(context.Background(), harness.Options{
				Wasm: wasmBytes, PluginConfig: []byte(tc.config), VMs: 1,
				Log: func(level int, msg string) { logs = append(logs, msg) },
			})
			if err == nil {
				h.Close(context.Background())
				t.Fatal("the filter started with an invalid configuration")
			}
			if !errors.Is(err, harness.ErrPluginRefused) {
				t.Errorf("error %v is not a refusal", err)
			}
			if all := strings.Join(logs, "\n") + err.Error(); !strings.Contains(all, "refusing to start") || !strings.Contains(all, tc.path) {
				t.Errorf("refusal does not name %q:\n%s", tc.path, all)
			}
		})
	}
	t.Run("valid config starts", func(t *testing.T) {
		h, err := harness.New(context.Background(), harness.Options{Wasm: wasmBytes, PluginConfig: []byte(good), VMs: 1, Log: func(int, string) {}})
		if err != nil {
			t.Fatal(err)
		}
		h.Close(context.Background())
	})
}
