package e2e

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// worstShapes are bodies that break recursive or quadratic readers, each
// about size bytes.
func worstShapes(size int) map[string]string {
	return map[string]string{
		"open arrays":     strings.Repeat("[", size),
		"closed arrays":   strings.Repeat("[", size/2) + strings.Repeat("]", size/2),
		"open objects":    strings.Repeat(`{"a":`, size/5),
		"arrays in names": `{"params":` + strings.Repeat(`{"name":[`, size/9),
		"repeated names":  "{" + strings.Repeat(`"a":0,`, size/6-1) + `"a":0}`,
		"escapes":         `"` + strings.Repeat(`\ud83d\ude00`, size/12-1) + `"`,
		"form params":     strings.Repeat("a=&", size/3),
		"percent":         strings.Repeat("%", size),
	}
}

// deepJWT is a JWS compact serialization whose header is JSON nested depth
// levels deep.
func deepJWT(depth int) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"ES256","kid":"es","x":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`)) +
		"." + enc.EncodeToString([]byte(`{"sub":`+strings.Repeat("[", depth)+`}`)) + ".AAAA"
}

// TestWorstShapesKeepVMsServing sends the worst JSON, form and token
// shapes up to each endpoint's body cap (1 MiB at the guarded resource,
// the reproduction that trapped the VM with a stack overflow) to
// every endpoint of the compiled filter: every answer is a 4xx, every VM
// stays alive, and the gateway still serves a normal request.
func TestWorstShapesKeepVMsServing(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		cfg := strings.Replace(readConfig(t, "conformance.json"), `"max_body_bytes": 65536`, `"max_body_bytes": 1048576`, 1)
		tg := startTarget(t, kind, cfg, targetOptions{})
		tools := tg.mint(t, tg.base+"/mcp", "mcp:tools")
		jwt := deepJWT(30000)
		send := func(t *testing.T, method, path, body string, h http.Header) {
			t.Helper()
			st, _, resp := do(t, method, tg.base+path, strings.NewReader(body), h)
			if st < 400 || st >= 500 {
				t.Errorf("%s %s (%d bytes): status %d, want 4xx: %.200s", method, path, len(body), st, resp)
			}
		}
		form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		jsonH := http.Header{"Content-Type": {"application/json"}}
		for name, body := range worstShapes(1 << 20) {
			t.Run("guard "+name, func(t *testing.T) { send(t, "POST", "/mcp", body, mcpHeaders(tools)) })
		}
		for name, body := range worstShapes(8 << 10) {
			t.Run("endpoints "+name, func(t *testing.T) {
				send(t, "POST", "/oauth/register", body, jsonH)
				send(t, "POST", "/oauth/token", body, form)
				send(t, "POST", "/oauth/revoke", body, form)
				send(t, "POST", "/oauth/consent", body, form)
				send(t, "GET", "/oauth/authorize?"+url.Values{"client_id": {body[:2048]}, "request": {body[:2048]}}.Encode(), "", nil)
			})
		}
		t.Run("deep token header and claims", func(t *testing.T) {
			send(t, "POST", "/mcp", initializeBody, mcpHeaders(jwt))
			send(t, "POST", "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"test-client"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {deepJWT(2500)}}.Encode(), form)
		})
		if tg.host != nil {
			for i := 0; i < tg.host.NumVMs(); i++ {
				if vm := tg.host.VM(i); !vm.Alive() {
					t.Fatalf("VM %d died: %v", i, vm.Err())
				}
			}
		}
		for i := 0; i < 4; i++ { // every VM (round robin) still serves
			if st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tools)); st != 200 {
				t.Fatalf("after the worst shapes: %d %s", st, body)
			}
		}
	})
}
