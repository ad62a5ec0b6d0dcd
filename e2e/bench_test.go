package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/authhttp"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// Benchmarks of one request through the filter, in one run: the native
// engine behind net/http, the compiled wasm under the harness, and the
// harness's no-op filter as the baseline. No network: requests go straight
// to ServeHTTP with a recorder, and what the filter lets through meets no
// upstream (503 "no healthy upstream", as Envoy answers), so the numbers
// are the filter's and the host's own work.

const benchConfig = `{
  "issuer": "https://mcp.example.com",
  "resources": [
    {"resource": "https://mcp.example.com/mcp", "scopes": ["mcp:tools"]},
    {"resource": "https://mcp.example.com/tools/mcp", "scopes": ["mcp:tools"],
     "rules": [{"method": "tools/call", "name": "admin_*", "scopes": ["mcp:admin"]}]}
  ],
  "keys": [
    {"kid": "es", "active": true, "jwk": {"kty":"EC","crv":"P-256","x":"2UDUP4_PWg3XQl7qK4QqYu_vnwBSipXGy6qWrKtcdsE","y":"QgNmchNyYt7X74L7lTU3VMc_-G-n6ZqWi9YD2aFquH8","d":"ne1GtvpqXlb4YFz4XEKQ1ksW1deyZFVCmx4TcH5zBdE"}},
    {"kid": "ed", "jwk": {"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}}
  ]
}`

// edConfig is benchConfig with the Ed25519 key active (to mint EdDSA).
var edConfig = strings.Replace(strings.Replace(benchConfig, `"kid": "es", "active": true`, `"kid": "es"`, 1), `"kid": "ed",`, `"kid": "ed", "active": true,`, 1)

var (
	noopOnce sync.Once
	noopWasm []byte
	noopErr  error
)

func noopFilter(b *testing.B) []byte {
	noopOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-noop")
		if err != nil {
			noopErr = err
			return
		}
		out := filepath.Join(dir, "noop.wasm")
		if noopErr = harness.Build("../wazero-harness/testdata/noop", out); noopErr == nil {
			noopWasm, noopErr = os.ReadFile(out)
		}
	})
	if noopErr != nil {
		b.Fatal(noopErr)
	}
	return noopWasm
}

type benchTarget struct {
	name    string
	handler http.Handler
}

// benchTargets returns the native and wasm handlers for config.
func benchTargets(b *testing.B, config string) []benchTarget {
	cfg, err := authcore.ParseConfig([]byte(config))
	if err != nil {
		b.Fatal(err)
	}
	eng, _ := authcore.New(cfg, authcore.Options{})
	noUpstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no healthy upstream", 503) })
	h, err := harness.New(context.Background(), harness.Options{Wasm: filterWasm(b), PluginConfig: []byte(config), VMs: 1, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	return []benchTarget{
		{"native", &authhttp.Handler{Engine: eng, Next: noUpstream}},
		{"wasm", h.VM(0)},
	}
}

func serveLoop(b *testing.B, h http.Handler, next func(i int) *http.Request, want int) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, next(i))
		if rec.Code != want {
			b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
		}
	}
}

func mintBench(b *testing.B, config string, n int, scopes ...string) []string {
	return mintBenchFor(b, config, "https://mcp.example.com/mcp", n, scopes...)
}

func mintBenchFor(b *testing.B, config, aud string, n int, scopes ...string) []string {
	cfg, _ := authcore.ParseConfig([]byte(config))
	eng, _ := authcore.New(cfg, authcore.Options{})
	now := time.Now()
	toks := make([]string, n)
	for i := range toks {
		t, err := eng.MintAccessToken(authcore.AccessTokenClaims{Issuer: cfg.Issuer, Subject: "alice", ClientID: "c",
			Audience: []string{aud}, Scope: scopes, IssuedAt: now, Expiry: now.Add(time.Hour), JTI: strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = t
	}
	return toks
}

func mcpRequest(token, body string) *http.Request { return mcpRequestTo("/mcp", token, body) }

func mcpRequestTo(path, token, body string) *http.Request {
	r := httptest.NewRequest("POST", "https://mcp.example.com"+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// BenchmarkNoopBaseline is (a): the harness's no-op filter, same request.
func BenchmarkNoopBaseline(b *testing.B) {
	h, err := harness.New(context.Background(), harness.Options{Wasm: noopFilter(b), VMs: 1, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	tok := mintBench(b, benchConfig, 1, "mcp:tools")[0]
	serveLoop(b, h.VM(0), func(int) *http.Request { return mcpRequest(tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`) }, 503)
}

// BenchmarkDiscovery is a PRM request answered by the filter.
func BenchmarkDiscovery(b *testing.B) {
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			serveLoop(b, tg.handler, func(int) *http.Request {
				return httptest.NewRequest("GET", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", nil)
			}, 200)
		})
	}
}

// BenchmarkGuardCachedToken is (b): an authorized MCP request whose token
// was verified before.
func BenchmarkGuardCachedToken(b *testing.B) {
	tok := mintBench(b, benchConfig, 1, "mcp:tools")[0]
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			serveLoop(b, tg.handler, func(int) *http.Request { return mcpRequest(tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`) }, 503)
		})
	}
}

// BenchmarkGuardFirstSeen is (c): every request carries a token never seen
// before, so each pays signature verification.
func BenchmarkGuardFirstSeen(b *testing.B) {
	for _, alg := range []struct{ name, config string }{{"ES256", benchConfig}, {"EdDSA", edConfig}} {
		for _, tg := range benchTargets(b, benchConfig) {
			b.Run(alg.name+"/"+tg.name, func(b *testing.B) {
				toks := mintBench(b, alg.config, b.N, "mcp:tools")
				serveLoop(b, tg.handler, func(i int) *http.Request { return mcpRequest(toks[i], `{}`) }, 503)
			})
		}
	}
}

// BenchmarkGuardPerToolBody is (d): a tools/call to a resource with
// per-tool rules, so the body is buffered and parsed (cached token).
func BenchmarkGuardPerToolBody(b *testing.B) {
	tok := mintBenchFor(b, benchConfig, "https://mcp.example.com/tools/mcp", 1, "mcp:tools", "mcp:admin")[0]
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			serveLoop(b, tg.handler, func(int) *http.Request { return mcpRequestTo("/tools/mcp", tok, body) }, 503)
		})
	}
}
