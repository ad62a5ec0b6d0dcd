package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// httpGet performs a request and returns status, headers and body.
func do(t testing.TB, method, url string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// TestDiscovery runs the discovery cases (RFC 9728 §3, RFC 8414 §3) against
// the native engine and the compiled wasm under the harness.
func TestDiscovery(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		b := tg.base
		t.Run("path-suffixed PRM per resource", func(t *testing.T) {
			for _, p := range []string{"/mcp", "/team-b/mcp"} {
				st, h, body := do(t, "GET", b+"/.well-known/oauth-protected-resource"+p, nil, nil)
				if st != 200 || h.Get("Content-Type") != "application/json" {
					t.Fatalf("%s: %d %s", p, st, body)
				}
				var prm struct {
					Resource             string   `json:"resource"`
					AuthorizationServers []string `json:"authorization_servers"`
					ScopesSupported      []string `json:"scopes_supported"`
					BearerMethods        []string `json:"bearer_methods_supported"`
				}
				if err := json.Unmarshal(body, &prm); err != nil {
					t.Fatal(err)
				}
				if prm.Resource != b+p || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != b {
					t.Errorf("%s: %+v", p, prm)
				}
				if strings.Join(prm.BearerMethods, ",") != "header" || strings.Contains(string(body), "offline_access") {
					t.Errorf("%s: %s", p, body)
				}
			}
		})
		t.Run("AS metadata issuer byte-identical", func(t *testing.T) {
			st, _, body := do(t, "GET", b+"/.well-known/oauth-authorization-server", nil, nil)
			var m map[string]any
			if err := json.Unmarshal(body, &m); st != 200 || err != nil {
				t.Fatalf("%d %v %s", st, err, body)
			}
			if m["issuer"] != b {
				t.Errorf("issuer %q, want %q", m["issuer"], b)
			}
			if m["jwks_uri"] != b+"/oauth/jwks" {
				t.Errorf("jwks_uri %v", m["jwks_uri"])
			}
		})
		t.Run("JWKS publishes public keys only", func(t *testing.T) {
			st, _, body := do(t, "GET", b+"/oauth/jwks", nil, nil)
			var set struct{ Keys []map[string]any }
			_ = json.Unmarshal(body, &set)
			if st != 200 || len(set.Keys) != 2 || set.Keys[0]["kid"] != "es" || set.Keys[1]["kid"] != "ed" {
				t.Fatalf("%d %s", st, body)
			}
			for _, k := range set.Keys {
				if _, ok := k["d"]; ok {
					t.Errorf("private key material published: %v", k)
				}
			}
		})
		t.Run("no root PRM with two resources", func(t *testing.T) {
			if st, _, _ := do(t, "GET", b+"/.well-known/oauth-protected-resource", nil, nil); st != 404 {
				t.Errorf("status %d", st)
			}
		})
		t.Run("preflight never challenged", func(t *testing.T) {
			for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server", "/mcp"} {
				st, h, _ := do(t, "OPTIONS", b+p, nil, http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"GET"}})
				if st != 204 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("WWW-Authenticate") != "" {
					t.Errorf("%s: %d %v", p, st, h)
				}
			}
		})
		t.Run("Host header never reaches documents", func(t *testing.T) {
			req, _ := http.NewRequest("GET", b+"/.well-known/oauth-protected-resource/mcp", nil)
			req.Host = `evil.example`
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if strings.Contains(string(body), "evil") {
				t.Errorf("document built from the Host header: %s", body)
			}
		})
		t.Run("pass-through untouched", func(t *testing.T) {
			st, _, body := do(t, "GET", b+"/healthz", nil, http.Header{"Authorization": {"Bearer whatever"}})
			if st != 200 || string(body) != "ok\n" {
				t.Errorf("%d %q", st, body)
			}
		})
	})
}

// TestRootPRM checks the root document of a single-resource host names the
// origin (RFC 9728 §3.3).
func TestRootPRM(t *testing.T) {
	single := `{"issuer":"{{BASE}}","resources":[{"resource":"{{BASE}}/mcp","scopes":["mcp:tools"]}],
	  "keys":[{"kid":"k","jwk":{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}}]}`
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, single, targetOptions{})
		st, _, body := do(t, "GET", tg.base+"/.well-known/oauth-protected-resource", nil, nil)
		var prm map[string]any
		_ = json.Unmarshal(body, &prm)
		if st != 200 || prm["resource"] != tg.base {
			t.Errorf("%d %s", st, body)
		}
	})
}
