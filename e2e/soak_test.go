package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
	"golang.org/x/oauth2"
)

// Documented bounds of the soak test (README "Security"): under any
// volume of unauthenticated requests a VM's linear memory stays below
// soakVMBound, and the host's shared data grows by no more than
// soakSharedKeys keys and soakSharedBytes bytes (unauthenticated requests
// create no store record).
const (
	soakVMBound     = 128 << 20
	soakSharedKeys  = 16
	soakSharedBytes = 64 << 10
)

// soakRequests is the number of requests per endpoint: a short run in
// make test, MCPGATE_SOAK_REQUESTS (make soak: 1,000,000) otherwise.
func soakRequests(t *testing.T) int {
	if s := os.Getenv("MCPGATE_SOAK_REQUESTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("MCPGATE_SOAK_REQUESTS=%q", s)
		}
		return n
	}
	return 1500
}

// soakCase is one flooded endpoint: each call of req builds the i-th
// request; every answer must have status want.
type soakCase struct {
	name string
	want int
	req  func(i int) *http.Request
}

// TestSoakUnauthenticatedFloods floods the compiled filter's endpoints
// with unauthenticated requests, in process through the harness (two VMs,
// two client goroutines): /authorize in dev and in oidc mode (a registered
// client, no login), /register, /token with made-up codes, consent posts
// and the guard's 401. It logs each VM's linear memory and the host's
// shared data before and after each endpoint, and asserts the documented
// bounds. make test runs a short version; make soak runs 1,000,000
// requests per endpoint.
func TestSoakUnauthenticatedFloods(t *testing.T) {
	n := soakRequests(t)
	verifier := oauth2.GenerateVerifier()
	authzQuery := func(client, redirect, base string) string {
		return "/oauth/authorize?" + url.Values{
			"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect}, "state": {"s"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
			"resource": {base + "/mcp"},
		}.Encode()
	}
	form := func(path, body string) *http.Request {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}

	dev := strings.Replace(readConfig(t, "conformance.json"), `"rate_limit": 1000`, `"rate_limit": 10000`, 1)
	oidc := strings.NewReplacer("{{OP_ISSUER}}", "https://op.example", "{{OP_AUTHORIZE}}", "https://op.example/authorize",
		"{{OP_TOKEN}}", "https://op.example/token", "{{OP_JWKS}}", "https://op.example/jwks").Replace(oidcConfig)
	for _, mode := range []struct {
		name, config string
		cases        func(base string) []soakCase
	}{
		{"dev", dev, func(base string) []soakCase {
			return []soakCase{
				{"authorize", 200, func(int) *http.Request {
					return httptest.NewRequest("GET", authzQuery("test-client", "http://127.0.0.1:50123/callback", base), nil)
				}},
				{"register", 0, func(i int) *http.Request {
					r := httptest.NewRequest("POST", "/oauth/register", strings.NewReader(`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","client_name":"flood `+strconv.Itoa(i)+`"}`))
					r.Header.Set("Content-Type", "application/json")
					return r
				}},
				{"token", 400, func(i int) *http.Request {
					return form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"made-up-" + strconv.Itoa(i)},
						"client_id": {"test-client"}, "redirect_uri": {"http://127.0.0.1:50123/callback"}, "code_verifier": {verifier}}.Encode())
				}},
				{"consent", 403, func(i int) *http.Request {
					return form("/oauth/consent", url.Values{"ticket": {"t" + strconv.Itoa(i)}, "csrf": {"c"}, "action": {"approve"}}.Encode())
				}},
				{"guard 401", 401, func(int) *http.Request {
					r := httptest.NewRequest("POST", "/mcp", strings.NewReader(initializeBody))
					r.Header = mcpHeaders("")
					return r
				}},
			}
		}},
		{"oidc", oidc, func(base string) []soakCase {
			return []soakCase{{"authorize", 302, func(int) *http.Request {
				return httptest.NewRequest("GET", authzQuery("oidc-e2e-client", "http://127.0.0.1:50321/callback", base), nil)
			}}}
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			tg := startTarget(t, wasm, mode.config, targetOptions{vms: 2, quietLog: true})
			h := tg.host
			host := strings.TrimPrefix(tg.base, "http://")
			report := func(when string) (mem []uint64, keys int, bytes int64) {
				for i := 0; i < h.NumVMs(); i++ {
					mem = append(mem, h.VM(i).MemoryBytes())
				}
				keys, bytes = h.SharedDataStats()
				t.Logf("%-22s VM memory %v MiB, shared data %d keys %d bytes", when, mib(mem), keys, bytes)
				return mem, keys, bytes
			}
			_, keys0, bytes0 := report("start")
			for _, c := range mode.cases(tg.base) {
				start := time.Now()
				flood(t, h, host, n, c)
				mem, keys, bytes := report(fmt.Sprintf("after %d %s", n, c.name))
				t.Logf("%s: %d requests in %v", c.name, n, time.Since(start).Round(time.Millisecond))
				for i, m := range mem {
					if m == 0 || m > soakVMBound {
						t.Errorf("VM %d linear memory %d bytes after %s (bound %d; 0 means the VM died)", i, m, c.name, soakVMBound)
					}
				}
				if keys-keys0 > soakSharedKeys || bytes-bytes0 > soakSharedBytes {
					t.Errorf("shared data grew by %d keys, %d bytes under unauthenticated %s", keys-keys0, bytes-bytes0, c.name)
				}
			}
		})
	}
}

// flood sends n requests of c through h from two goroutines.
func flood(t *testing.T, h *harness.Host, host string, n int, c soakCase) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	const workers = 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			dw := &discardWriter{header: http.Header{}, head: make([]byte, 0, 256)}
			for i := w; i < n; i += workers {
				r := c.req(i)
				r.Host = host
				r.RemoteAddr = "192.0.2." + strconv.Itoa(1+i%200) + ":40000"
				dw.reset()
				h.ServeHTTP(dw, r)
				if ok := dw.status == c.want || c.want == 0 && (dw.status == 201 || dw.status == 429); !ok {
					mu.Lock()
					if bad++; bad <= 3 {
						t.Errorf("%s request %d: status %d, want %d: %s", c.name, i, dw.status, c.want, dw.head)
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
}

func mib(b []uint64) []string {
	out := make([]string, len(b))
	for i, v := range b {
		out[i] = strconv.FormatFloat(float64(v)/(1<<20), 'f', 1, 64)
	}
	return out
}

// TestSoakCompleteFlows runs complete authorization-code flows through
// the compiled filter (two VMs): authorize with consent, code exchange,
// two refresh rotations, a replayed rotated refresh token (reuse) and a
// revocation, and asserts that the host's shared data holds exactly as
// many keys after the flows as after start: the store's records live in
// a fixed table of buckets created at plugin start (plugin/store.go), so
// consumed flows leave no key behind.
func TestSoakCompleteFlows(t *testing.T) {
	const flows = 500
	cfgText := strings.Replace(readConfig(t, "conformance.json"), `"cookies": {"secure": false}`,
		`"cookies": {"secure": false}, "refresh_tokens": {"policy": "always"}`, 1)
	tg := startTarget(t, wasm, cfgText, targetOptions{vms: 2, quietLog: true})
	keys0, bytes0 := tg.host.SharedDataStats()
	t.Logf("after start: shared data %d keys %d bytes", keys0, bytes0)
	if keys0 < 4096 {
		t.Fatalf("shared data has %d keys after start, want the 4096 store buckets created", keys0)
	}
	token := func(form url.Values) (int, map[string]any) { return tokenPost(t, tg.base+"/oauth/token", form) }
	ctx := context.Background()
	start := time.Now()
	for i := range flows {
		code, verifier, cfg := pkceCode(t, tg, "mcp:tools")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("flow %d: exchange: %v, refresh token %q", i, err, tok.RefreshToken)
		}
		rt := tok.RefreshToken
		var first string
		for r := range 2 {
			st, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}})
			next, _ := m["refresh_token"].(string)
			if st != 200 || next == "" || next == rt {
				t.Fatalf("flow %d refresh %d: %d %v", i, r, st, m)
			}
			if r == 0 {
				first = rt
			}
			rt = next
		}
		switch i % 2 {
		case 0: // reuse of a rotated secret revokes the family
			if st, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}, "client_id": {"test-client"}}); st != 400 || m["error"] != "invalid_grant" {
				t.Fatalf("flow %d: reuse of a rotated refresh token: %d %v", i, st, m)
			}
		case 1: // RFC 7009 revocation
			if st, m := tokenPost(t, tg.base+"/oauth/revoke", url.Values{"token": {rt}, "client_id": {"test-client"}}); st != 200 {
				t.Fatalf("flow %d: revoke: %d %v", i, st, m)
			}
		}
		if st, m := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}}); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("flow %d: refresh of a revoked family: %d %v", i, st, m)
		}
	}
	keys, bytes := tg.host.SharedDataStats()
	t.Logf("after %d flows in %v: shared data %d keys %d bytes", flows, time.Since(start).Round(time.Millisecond), keys, bytes)
	if keys != keys0 {
		t.Errorf("shared data went from %d to %d keys over %d complete flows; want the fixed bucket table", keys0, keys, flows)
	}
}
