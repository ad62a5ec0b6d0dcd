package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

const devConfigPath = "../../testdata/dev-config.json"

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-wasm", "x.wasm", "-cluster", "upstream_idp=http://127.0.0.1:9000", "-cluster", "b=https://h"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.wasm != "x.wasm" || o.listen != "127.0.0.1:8080" || o.upstreamListen != "127.0.0.1:8081" || o.vms != 2 {
		t.Errorf("options %+v", o)
	}
	if o.clusters["upstream_idp"] != "http://127.0.0.1:9000" || o.clusters["b"] != "https://h" {
		t.Errorf("clusters %v", o.clusters)
	}
	for _, bad := range [][]string{{"-cluster", "noequals"}, {"-cluster", "=http://x"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestConfigWarnings(t *testing.T) {
	var c devConfig
	c.Issuer = "http://127.0.0.1:8080"
	c.Resources = append(c.Resources, struct {
		Path     string `json:"path"`
		Resource string `json:"resource"`
		Name     string `json:"name"`
	}{Path: "/mcp", Resource: "http://localhost:8080/mcp"})
	if w := configWarnings(c, "127.0.0.1:8080"); len(w) != 0 {
		t.Errorf("same listener: %v", w)
	}
	if w := configWarnings(c, "0.0.0.0:8080"); len(w) != 0 {
		t.Errorf("all interfaces: %v", w)
	}
	if w := configWarnings(c, "127.0.0.1:9090"); len(w) != 2 {
		t.Errorf("other port: want 2 warnings, got %v", w)
	}
}

// TestDevConfig checks e2e/testdata/dev-config.json: issuer and resources on
// the default listener, a /team-b/mcp resource, and a valid P-256 key that is
// not the one of envoy/mcpgate-config.json.
func TestDevConfig(t *testing.T) {
	var cfg struct {
		Issuer    string `json:"issuer"`
		Resources []struct {
			Path, Resource string
		} `json:"resources"`
		Keys []struct {
			Kid, Alg string
			JWK      map[string]string `json:"jwk"`
		} `json:"keys"`
	}
	b, err := os.ReadFile(devConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "http://127.0.0.1:8080" {
		t.Errorf("issuer %q", cfg.Issuer)
	}
	var paths []string
	for _, r := range cfg.Resources {
		paths = append(paths, r.Path)
		if r.Resource != cfg.Issuer+r.Path {
			t.Errorf("resource %q is not issuer + %q", r.Resource, r.Path)
		}
	}
	if strings.Join(paths, ",") != "/mcp,/team-b/mcp" {
		t.Errorf("resource paths %v", paths)
	}
	envoyCfg, err := os.ReadFile("../../../envoy/mcpgate-config.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Keys) == 0 {
		t.Fatal("no keys")
	}
	for _, k := range cfg.Keys {
		if k.Alg != "ES256" || k.JWK["kty"] != "EC" || k.JWK["crv"] != "P-256" {
			t.Errorf("key %s: want ES256 / EC / P-256", k.Kid)
			continue
		}
		dec := func(s string) []byte {
			v, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || len(v) != 32 {
				t.Errorf("key %s: bad coordinate %q", k.Kid, s)
			}
			return v
		}
		priv, err := ecdh.P256().NewPrivateKey(dec(k.JWK["d"]))
		if err != nil {
			t.Errorf("key %s: %v", k.Kid, err)
			continue
		}
		pub := append(append([]byte{4}, dec(k.JWK["x"])...), dec(k.JWK["y"])...)
		if !bytes.Equal(priv.PublicKey().Bytes(), pub) {
			t.Errorf("key %s: x, y do not match d", k.Kid)
		}
		if bytes.Contains(envoyCfg, []byte(k.JWK["d"])) {
			t.Errorf("key %s is also the key of envoy/mcpgate-config.json", k.Kid)
		}
	}
}

// testWasm returns the compiled filter: $MCPGATE_WASM (set by make) or a
// fresh build.
func testWasm(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MCPGATE_WASM"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "mcpgate.wasm")
	if err := harness.Build("../../../plugin", out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGateway starts what `make run` starts, on free ports, and checks the
// discovery documents, the 401 challenge, pass-through to the demo server,
// and a clean stop.
func TestGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles the filter")
	}
	o, err := parseFlags([]string{
		"-wasm", testWasm(t), "-config", devConfigPath,
		"-listen", "127.0.0.1:0", "-upstream-listen", "127.0.0.1:0",
		// A cache of its own (one build kept, see moduleCacheDir): a rerun
		// skips the ~10 s compile.
		"-cache-dir", wazeroCacheDir,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g, err := start(context.Background(), o, &logs)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = g.close()
		}
	})

	var out bytes.Buffer
	g.printURLs(&out)
	for _, want := range []string{
		g.base + "/mcp", g.base + "/team-b/mcp",
		g.base + "/.well-known/oauth-protected-resource/mcp",
		g.base + "/.well-known/oauth-protected-resource/team-b/mcp",
		g.base + "/.well-known/oauth-authorization-server",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("printed URLs lack %s:\n%s", want, out.String())
		}
	}
	// The config names 127.0.0.1:8080; this gateway listens elsewhere.
	if !strings.Contains(out.String(), "warning: issuer") {
		t.Errorf("no warning about the issuer on another port:\n%s", out.String())
	}

	get := func(method, path string) (int, http.Header, []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, g.base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body
	}

	for _, path := range []string{"/mcp", "/team-b/mcp"} {
		status, _, body := get(http.MethodGet, "/.well-known/oauth-protected-resource"+path)
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &prm) != nil {
			t.Fatalf("PRM %s: %d %s", path, status, body)
		}
		if prm.Resource != "http://127.0.0.1:8080"+path || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != "http://127.0.0.1:8080" {
			t.Errorf("PRM %s: %+v", path, prm)
		}
	}
	status, _, body := get(http.MethodGet, "/.well-known/oauth-authorization-server")
	if status != http.StatusOK || !strings.Contains(string(body), `"issuer": "http://127.0.0.1:8080"`) && !strings.Contains(string(body), `"issuer":"http://127.0.0.1:8080"`) {
		t.Errorf("AS metadata: %d %s", status, body)
	}
	status, hdr, _ := get(http.MethodPost, "/mcp")
	if status != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Errorf("POST /mcp without a token: %d, WWW-Authenticate %q", status, hdr.Get("WWW-Authenticate"))
	}
	// A path that is no resource passes through to the demo server.
	status, _, body = get(http.MethodGet, "/healthz")
	if status != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("GET /healthz through the gateway: %d %q", status, body)
	}

	closed = true
	if err := g.close(); err != nil {
		t.Errorf("close: %v", err)
	}
	for _, err := range []error{<-g.errc, <-g.errc} {
		if err != nil {
			t.Errorf("server: %v", err)
		}
	}
	if _, err := http.Get(g.base + "/healthz"); err == nil {
		t.Error("gateway still answers after close")
	}
}

func TestModuleCacheDir(t *testing.T) {
	root := t.TempDir()
	other := filepath.Join(root, "0123456789abcdef")
	keep := filepath.Join(root, "not-a-cache")
	for _, d := range []string{other, keep} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := moduleCacheDir(root, []byte("module A"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || filepath.Dir(dir) != root {
		t.Fatalf("cache dir %s: %v", dir, err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Error("the cache of another build was kept")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Error("a directory that is not a cache was deleted")
	}
	again, _ := moduleCacheDir(root, []byte("module A"))
	if again != dir {
		t.Errorf("same module, different dir: %s vs %s", again, dir)
	}
	if b, _ := moduleCacheDir(root, []byte("module B")); b == dir {
		t.Error("different modules share a dir")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("module A's cache survived module B")
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	wasmPath  string
	buildErr  error
)

// wazeroCacheDir is this test binary's own wazero compilation cache: the
// tests that start the gateway share it, and no other process (another
// checkout's test run) can remove files from under it.
var wazeroCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcpgate-run-test-wazero-")
	if err != nil {
		panic(err)
	}
	wazeroCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// kitchen builds the harness's kitchen test filter once: -upstream mode
// runs any proxy-wasm module, not only mcpgate.
func kitchen(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-run-test-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		wasmPath = filepath.Join(dir, "kitchen.wasm")
		buildErr = harness.Build("../../../wazero-harness/testdata/kitchen", wasmPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return wasmPath
}

// syncBuffer is a goroutine-safe output buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServesUntilCancelled: with -upstream, no demo server; the filter's
// own replies and pass-through to the given upstream; a clean stop.
func TestServesUntilCancelled(t *testing.T) {
	wasm := kitchen(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer up.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{
			"-config", writeFile(t, `{}`), "-listen", "127.0.0.1:0", "-upstream", up.URL,
			"-wasm", wasm, "-vms", "1", "-cluster", "backend=" + up.URL, "-cache-dir", "",
		}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	deadline := time.Now().Add(2 * time.Minute) // compiling the module under -race is slow
	for url == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listen URL printed; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for path, want := range map[string]string{"/hello": "upstream /hello", "/local": `{"teapot":true}`} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s = %q, want %q", path, body, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d; stderr %q", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}
	if !strings.Contains(stdout.String(), "mcpgate-run: stopped") {
		t.Errorf("stdout %q", stdout.String())
	}
}

func TestExitsWhenThePluginRefuses(t *testing.T) {
	wasm := kitchen(t)
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{
		"-config", writeFile(t, `{"refuse": "missing issuer"}`), "-listen", "127.0.0.1:0",
		"-wasm", wasm, "-vms", "1", "-cache-dir", "",
	}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "harness: plugin refused to start: kitchen: refusing to start: missing issuer") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-config", ""},                      // no -config
		{"-config", "x", "-cluster", "nope"}, // cluster without URL
		{"-config", "x", "-log-level", "loud"},
		{"-config", "x", "extra"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"-config", "/does/not/exist"}, &stdout, &stderr); code != 1 {
		t.Errorf("missing config file: exit %d, want 1", code)
	}
}
