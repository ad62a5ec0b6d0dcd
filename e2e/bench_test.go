package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/authhttp"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
	"github.com/tetratelabs/wazero"
	"golang.org/x/oauth2"
)

// Benchmarks of one request through the filter, in one run: the native
// engine behind net/http, the compiled wasm under the harness, and the
// harness's no-op filter as the baseline. No network: requests go straight
// to ServeHTTP, and what the filter lets through meets no upstream (503 "no
// healthy upstream", as Envoy answers), so the numbers are the filter's
// and the host's own work. The client side costs next to nothing: every
// target gets the same loop, whose requests are built once the way
// net/http's server hands them over (URL parsed once, header map shared)
// with a fresh body reader each, and whose response writer keeps only the
// status and the start of the body.

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

// testFilters are the small comparison filters, built once per test
// binary: the harness's no-op filter and e2e/testdata/floor.
var testFilters sync.Map // package dir -> *builtFilter

type builtFilter struct {
	once sync.Once
	wasm []byte
	err  error
}

func testFilter(b *testing.B, pkgDir string) []byte {
	v, _ := testFilters.LoadOrStore(pkgDir, &builtFilter{})
	f := v.(*builtFilter)
	f.once.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-testfilter")
		if err != nil {
			f.err = err
			return
		}
		defer os.RemoveAll(dir) // read into memory below
		out := filepath.Join(dir, "filter.wasm")
		if f.err = harness.Build(pkgDir, out); f.err == nil {
			f.wasm, f.err = os.ReadFile(out)
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.wasm
}

func noopFilter(b *testing.B) []byte { return testFilter(b, "../wazero-harness/testdata/noop") }

type benchTarget struct {
	name    string
	handler http.Handler
	// editsHeaders: the handler changes r.Header (authhttp.Handler removes
	// and sets headers when it forwards), so a header map it gets more than
	// once is copied for each request. The harness only reads r.Header.
	editsHeaders bool
}

// benchTargets returns the native and wasm handlers for config, whose
// callouts go to clusters (name -> base URL), if given.
func benchTargets(b *testing.B, config string, clusters ...map[string]string) []benchTarget {
	cfg, err := authcore.ParseConfig([]byte(config))
	if err != nil {
		b.Fatal(err)
	}
	eng, _ := authcore.New(cfg, authcore.Options{})
	noUpstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
	})
	native, wasmClusters := map[string]string{}, map[string]harness.Cluster{}
	for _, cs := range clusters {
		for name, u := range cs {
			native[name], wasmClusters[name] = u, harness.Cluster{URL: u}
		}
	}
	return []benchTarget{
		{"native", &authhttp.Handler{Engine: eng, Next: noUpstream, Clusters: native}, true},
		{"wasm", benchHostWith(b, config, 1, false, wasmClusters).VM(0), false},
	}
}

// benchHost starts the compiled filter with vms VMs, on a host with or
// without Envoy's signature functions.
func benchHost(b *testing.B, config string, vms int, noHostSignatures bool) *harness.Host {
	return benchHostWith(b, config, vms, noHostSignatures, nil)
}

// benchHostWith is benchHost with callout clusters.
func benchHostWith(b *testing.B, config string, vms int, noHostSignatures bool, clusters map[string]harness.Cluster) *harness.Host {
	h, err := harness.New(context.Background(), harness.Options{Wasm: filterWasm(b), PluginConfig: []byte(config), VMs: vms,
		NoSignatureFunctions: noHostSignatures, Clusters: clusters, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// serveLoop serves b.N requests of q to tg and checks each status. Request
// i carries headers[i%len(headers)], a map the loop shares across
// iterations unless the handler edits it.
func serveLoop(b *testing.B, tg benchTarget, q *benchRequest, headers []http.Header, want int) {
	serve := newServer(b, tg, q, headers, want)
	warmUp(b, serve, len(headers))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(i)
	}
}

// newServer returns a function that serves request i of q to tg, with
// headers[i%len(headers)], and checks its status.
func newServer(b *testing.B, tg benchTarget, q *benchRequest, headers []http.Header, want int) func(i int) {
	w := &discardWriter{header: http.Header{}, head: make([]byte, 0, 256)}
	return func(i int) {
		h := headers[i%len(headers)]
		if tg.editsHeaders && len(headers) < b.N {
			h = h.Clone()
		}
		w.reset()
		tg.handler.ServeHTTP(w, q.next(h))
		if w.status != want {
			b.Fatalf("%s: status %d, want %d: %s", tg.name, w.status, want, w.head)
		}
	}
}

// warmUp serves untimed requests, then collects garbage. A fresh VM is
// slower for its first tens of thousands of requests (its heap grows to a
// steady size, the host process still carries the module's compilation
// garbage). Timed, that made the first -count run of a sub-benchmark,
// which shares its VM with the runs after it, 1.5-2x slower than those
// (Discovery 15.1 µs against 9.4-10.3); 2000 requests of warm-up left it
// at 1.5x, 30000 at 1.0-1.2x. A benchmark whose every request differs
// (distinct headers, one new token each) is not warmed up, so each timed
// request stays first-seen.
func warmUp(b *testing.B, serve func(int), distinct int) {
	if distinct < b.N {
		// As many as will be timed, up to warmupRequests: the probing
		// runs of an adaptive -benchtime stay short.
		for i := 0; i < min(warmupRequests, b.N); i++ {
			serve(i)
		}
	}
	runtime.GC()
}

// warmupRequests are served before a benchmark's timer starts.
const warmupRequests = 30000

// benchRequest builds a benchmark's requests as net/http's server hands
// them over (origin-form RequestURI, Host, HTTP/1.1, ContentLength, TLS
// for https), with the URL parsed once.
type benchRequest struct {
	tmpl http.Request
	body string
	r    http.Request // the request handed out, reused
	rd   benchBody
}

// newBenchRequest parses target ("https://host/path?query") once.
func newBenchRequest(method, target, body string) *benchRequest {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	uri := u.RequestURI()
	pu, err := url.ParseRequestURI(uri) // what the server parses: no scheme or host
	if err != nil {
		panic(err)
	}
	q := &benchRequest{body: body, tmpl: http.Request{
		Method: method, URL: pu, RequestURI: uri, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: http.NoBody, RemoteAddr: "192.0.2.1:1234",
	}}
	if u.Scheme == "https" {
		q.tmpl.TLS = &tls.ConnectionState{Version: tls.VersionTLS12, HandshakeComplete: true, ServerName: u.Hostname()}
	}
	return q
}

// next returns the request with header h and a fresh body reader. The
// request is valid until the next call.
func (q *benchRequest) next(h http.Header) *http.Request {
	q.r = q.tmpl
	q.r.Header = h
	if q.body != "" {
		q.rd.Reset(q.body)
		q.r.Body = &q.rd
		q.r.ContentLength = int64(len(q.body))
	}
	return &q.r
}

// benchBody is a request body that can be reset for the next request.
type benchBody struct{ strings.Reader }

func (*benchBody) Close() error { return nil }

// discardWriter is a reusable http.ResponseWriter that records the status
// and the first bytes of the body (for failure messages) and drops the
// rest.
type discardWriter struct {
	header http.Header
	status int
	head   []byte
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.status = 0
	w.head = w.head[:0]
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.head = append(w.head, p[:min(len(p), cap(w.head)-len(w.head))]...)
	return len(p), nil
}

func (w *discardWriter) Flush() {}

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

// mcpBenchRequest is a POST of body to path on https://mcp.example.com.
func mcpBenchRequest(path, body string) *benchRequest {
	return newBenchRequest("POST", "https://mcp.example.com"+path, body)
}

// benchHeaders returns the header maps of MCP requests bearing tokens, one
// per token.
func benchHeaders(tokens ...string) []http.Header {
	out := make([]http.Header, len(tokens))
	for i, tok := range tokens {
		out[i] = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}
	}
	return out
}

// BenchmarkNoopBaseline is (a): the harness's no-op filter, same request.
func BenchmarkNoopBaseline(b *testing.B) {
	h, err := harness.New(context.Background(), harness.Options{Wasm: noopFilter(b), VMs: 1, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	toks := mintBench(b, benchConfig, 1, "mcp:tools")
	serveLoop(b, benchTarget{"noop", h.VM(0), false}, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), benchHeaders(toks...), 503)
}

// BenchmarkFloor is what any Go proxy-wasm bearer-token filter pays on
// this host before deciding anything: e2e/testdata/floor reads the request
// headers, finds Authorization, removes it and sets one identity header.
// Between (a) and (b), it shows how much of (b) is the platform's.
func BenchmarkFloor(b *testing.B) {
	h, err := harness.New(context.Background(), harness.Options{Wasm: testFilter(b, "testdata/floor"), VMs: 1, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	toks := mintBench(b, benchConfig, 1, "mcp:tools")
	serveLoop(b, benchTarget{"floor", h.VM(0), false}, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), benchHeaders(toks...), 503)
}

// floorBench runs the test filter in pkgDir (plugin configuration
// config) on one VM against request q.
func floorBench(b *testing.B, pkgDir, config string, q *benchRequest, want int) {
	h, err := harness.New(context.Background(), harness.Options{Wasm: testFilter(b, pkgDir), PluginConfig: []byte(config), VMs: 1, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	toks := mintBench(b, benchConfig, 1, "mcp:tools")
	serveLoop(b, benchTarget{pkgDir, h.VM(0), false}, q, benchHeaders(toks...), want)
}

// BenchmarkReplyFloor is the floor under discovery: e2e/testdata/replyfloor
// reads the path and sends a reply prebuilt at start, the shape of a PRM
// document. Discovery is compared with it and with the no-op filter.
func BenchmarkReplyFloor(b *testing.B) {
	floorBench(b, "testdata/replyfloor", "", newBenchRequest("GET", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", ""), 200)
}

// BenchmarkGuardFloor is the floor under the cached-token request with
// mcpgate's default features: e2e/testdata/guardfloor makes the guard's
// host calls (whole header map, three identity headers, three filter-state
// properties, one counter, the clock) and decides nothing. The sub-
// benchmarks leave one part out each, to price it.
func BenchmarkGuardFloor(b *testing.B) {
	for _, v := range []struct{ name, skip string }{{"all", ""}, {"no-props", "props"}, {"no-metric", "metric"}, {"no-clock", "clock"}, {"no-map", "map"}} {
		b.Run(v.name, func(b *testing.B) {
			floorBench(b, "testdata/guardfloor", v.skip, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), 503)
		})
	}
}

// BenchmarkBodyFloor is the floor under the per-tool body check:
// e2e/testdata/bodyfloor does the floor filter's header work, then holds
// the request until its body is buffered and reads it into the VM.
func BenchmarkBodyFloor(b *testing.B) {
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`
	floorBench(b, "testdata/bodyfloor", "", mcpBenchRequest("/tools/mcp", body), 503)
}

// BenchmarkDiscovery is a PRM request answered by the filter.
func BenchmarkDiscovery(b *testing.B) {
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			q := newBenchRequest("GET", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "")
			serveLoop(b, tg, q, []http.Header{{}}, 200)
		})
	}
}

// BenchmarkGuardCachedToken is (b): an authorized MCP request whose token
// was verified before.
func BenchmarkGuardCachedToken(b *testing.B) {
	toks := mintBench(b, benchConfig, 1, "mcp:tools")
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			serveLoop(b, tg, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), benchHeaders(toks...), 503)
		})
	}
}

// BenchmarkGuardCachedGrantToken is (b) with a token as mcpgate's own
// authorization server issues them: it names its grant, so every request
// also looks up the grant's revocation record in the Store (shared data).
func BenchmarkGuardCachedGrantToken(b *testing.B) {
	tok := mintGrantBench(b)
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			serveLoop(b, tg, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), benchHeaders(tok), 503)
		})
	}
}

// BenchmarkGuardFirstSeen is (c): every request carries a token never seen
// before, so each pays signature verification. wasm-gosig runs on a host
// without Envoy's signature functions (every signature in Go in wasm);
// EdDSA is always verified in wasm.
func BenchmarkGuardFirstSeen(b *testing.B) {
	for _, alg := range []struct{ name, config string }{{"ES256", benchConfig}, {"EdDSA", edConfig}} {
		targets := append(benchTargets(b, benchConfig), benchTarget{"wasm-gosig", benchHost(b, benchConfig, 1, true).VM(0), false})
		for _, tg := range targets {
			b.Run(alg.name+"/"+tg.name, func(b *testing.B) {
				toks := mintBench(b, alg.config, b.N, "mcp:tools")
				serveLoop(b, tg, mcpBenchRequest("/mcp", `{}`), benchHeaders(toks...), 503)
			})
		}
	}
}

// BenchmarkGuardPerToolBody is (d): a tools/call to a resource with
// per-tool rules, so the body is buffered and parsed (cached token).
func BenchmarkGuardPerToolBody(b *testing.B) {
	toks := mintBenchFor(b, benchConfig, "https://mcp.example.com/tools/mcp", 1, "mcp:tools", "mcp:admin")
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`
	for _, tg := range benchTargets(b, benchConfig) {
		b.Run(tg.name, func(b *testing.B) {
			serveLoop(b, tg, mcpBenchRequest("/tools/mcp", body), benchHeaders(toks...), 503)
		})
	}
}

// BenchmarkGuardFirstSeen8VMs is one new token seen by each of 8 VMs in
// turn (per op: 8 requests): the first VM verifies its signature, the
// other seven find it verified in shared data.
func BenchmarkGuardFirstSeen8VMs(b *testing.B) {
	for _, noHost := range []bool{false, true} {
		name := map[bool]string{false: "wasm", true: "wasm-gosig"}[noHost]
		b.Run(name, func(b *testing.B) {
			h := benchHost(b, benchConfig, 8, noHost)
			toks := mintBench(b, benchConfig, b.N, "mcp:tools")
			headers := benchHeaders(toks...)
			q := mcpBenchRequest("/mcp", `{}`)
			w := &discardWriter{header: http.Header{}, head: make([]byte, 0, 256)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for v := 0; v < 8; v++ {
					w.reset()
					h.VM(v).ServeHTTP(w, q.next(headers[i]))
					if w.status != 503 {
						b.Fatalf("VM %d: status %d: %s", v, w.status, w.head)
					}
				}
			}
			b.StopTimer()
			if got, _ := h.Metric("mcpgate.signature.verified"); got != uint64(b.N) {
				b.Fatalf("%d signature checks for %d tokens", got, b.N)
			}
		})
	}
}

// BenchmarkTokenEndpoint is a refresh_token grant at the token endpoint
// over loopback HTTP: each request rotates the refresh token and signs a
// new ES256 access token, by the host's sign function (wasm) or in Go in
// wasm (wasm-gosig).
func BenchmarkTokenEndpoint(b *testing.B) {
	cfgText := strings.Replace(readConfig(b, "conformance.json"), `"cookies": {"secure": false}`,
		`"cookies": {"secure": false}, "refresh_tokens": {"policy": "always"}`, 1)
	for _, noHost := range []bool{false, true} {
		name := map[bool]string{false: "wasm", true: "wasm-gosig"}[noHost]
		b.Run(name, func(b *testing.B) {
			tg := startTarget(b, wasm, cfgText, targetOptions{vms: 1, noHostSignatures: noHost})
			code, verifier, cfg := pkceCode(b, tg, "mcp:tools")
			tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
			if err != nil || tok.RefreshToken == "" {
				b.Fatalf("exchange: %v", err)
			}
			rt := tok.RefreshToken
			client := &http.Client{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}}.Encode()
				res, err := client.Post(tg.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					b.Fatal(err)
				}
				var m struct {
					RefreshToken string `json:"refresh_token"`
				}
				err = json.NewDecoder(res.Body).Decode(&m)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || m.RefreshToken == "" {
					b.Fatalf("refresh: %d %v", res.StatusCode, err)
				}
				rt = m.RefreshToken
			}
			b.StopTimer()
			if n, want := tg.host.ForeignCalls(harness.ForeignSign), map[bool]int64{false: int64(b.N) + 1, true: 0}[noHost]; n != want {
				b.Fatalf("host signed %d tokens, want %d", n, want)
			}
		})
	}
}

// BenchmarkCompileFilter is the module's compile time at start (wazero's
// compiler, no compilation cache) and its size in MB, for the size work's
// before and after: "current" is the filter under test, "floor" the
// smallest Go filter (e2e/testdata/floor), "cryptofloor" the SDK with the
// cryptography the filter carries (e2e/testdata/cryptofloor), and "compare" the module at
// $MCPGATE_COMPARE_WASM when set (e.g. a build of an older commit).
func BenchmarkCompileFilter(b *testing.B) {
	modules := []struct {
		name string
		wasm []byte
	}{{"current", filterWasm(b)}, {"floor", testFilter(b, "testdata/floor")}, {"cryptofloor", testFilter(b, "testdata/cryptofloor")}}
	if path := os.Getenv("MCPGATE_COMPARE_WASM"); path != "" {
		other, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		modules = append(modules, struct {
			name string
			wasm []byte
		}{"compare", other})
	}
	for _, m := range modules {
		b.Run(m.name, func(b *testing.B) {
			b.ReportMetric(float64(len(m.wasm))/1e6, "MB")
			for i := 0; i < b.N; i++ {
				ctx := context.Background()
				rt := wazero.NewRuntime(ctx)
				if _, err := rt.CompileModule(ctx, m.wasm); err != nil {
					b.Fatal(err)
				}
				rt.Close(ctx)
			}
		})
	}
}

// mintGrantBench mints a benchConfig token for /mcp that names its grant,
// as mcpgate's own authorization server's tokens do.
func mintGrantBench(b *testing.B) string {
	cfg, _ := authcore.ParseConfig([]byte(benchConfig))
	eng, _ := authcore.New(cfg, authcore.Options{})
	now := time.Now()
	tok, err := eng.MintAccessToken(authcore.AccessTokenClaims{Issuer: cfg.Issuer, Subject: "alice", ClientID: "c",
		Audience: []string{"https://mcp.example.com/mcp"}, Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(time.Hour),
		JTI: "j", GrantID: "g-bench"})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}
