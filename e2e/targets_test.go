package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/authhttp"
	"github.com/mcpgate/mcpgate/e2e/demomcp"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// The two ways the suite runs the filter: the native engine behind
// net/http, and the compiled .wasm inside the wazero harness.
const (
	native = "native"
	wasm   = "wasm"
)

var kinds = []string{native, wasm}

var (
	wasmOnce  sync.Once
	wasmBytes []byte
	wasmErr   error
)

// filterWasm returns the compiled filter: $MCPGATE_WASM when set (make
// test builds it first), otherwise a fresh build of ./plugin.
func filterWasm(t testing.TB) []byte {
	t.Helper()
	wasmOnce.Do(func() {
		path := os.Getenv("MCPGATE_WASM")
		if path == "" {
			dir, err := os.MkdirTemp("", "mcpgate-wasm")
			if err != nil {
				wasmErr = err
				return
			}
			defer os.RemoveAll(dir) // read into memory below
			path = filepath.Join(dir, "mcpgate.wasm")
			if wasmErr = harness.Build("../plugin", path); wasmErr != nil {
				return
			}
		}
		wasmBytes, wasmErr = os.ReadFile(path)
	})
	if wasmErr != nil {
		t.Fatalf("building the filter: %v", wasmErr)
	}
	return wasmBytes
}

// target is one running gateway in front of the demo MCP servers.
type target struct {
	kind string
	// base is the gateway's URL, e.g. http://127.0.0.1:41234.
	base string
	// engine is a native engine with the same configuration, used to mint
	// tokens the target accepts (same keys).
	engine *authcore.Engine
	host   *harness.Host // wasm only
	demo   *demomcp.Demo
	config []byte
}

// targetOptions tune startTarget.
type targetOptions struct {
	vms      int
	clusters map[string]string
	// harnessClusters are wasm-only cluster kinds (original-dst, TLS);
	// they win over clusters of the same name.
	harnessClusters map[string]harness.Cluster
	// noHostSignatures runs the wasm target on a host without Envoy's
	// verify_signature and sign functions.
	noHostSignatures bool
	// log also receives every log line of the filter (both kinds: the
	// native engine's at its level, the wasm's from the harness).
	log func(msg string)
	// accessLog receives the harness's access-log entries (wasm only).
	accessLog func(harness.AccessLogEntry)
	// quietLog passes only the filter's errors to the test log (floods).
	quietLog bool
}

// startTarget starts the demo MCP servers and a gateway of the given kind
// in front of them. The config template's "{{BASE}}" is replaced by the
// gateway's own URL, so issuer and resources match the address clients use.
func startTarget(t testing.TB, kind, configTemplate string, o targetOptions) *target {
	t.Helper()
	demo := demomcp.NewDemo(demomcp.Options{AllowAnyHost: true, Stateless: false})
	upstream := httptest.NewServer(demo.Handler)
	t.Cleanup(upstream.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfgJSON := []byte(strings.ReplaceAll(configTemplate, "{{BASE}}", base))
	cfg, err := authcore.ParseConfig(cfgJSON)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var engOpts authcore.Options
	if o.log != nil && kind == native {
		engOpts.Log = func(_ authcore.LogLevel, msg string) { o.log(msg) }
	}
	eng, err := authcore.New(cfg, engOpts)
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{kind: kind, base: base, engine: eng, demo: demo, config: cfgJSON}

	var handler http.Handler
	switch kind {
	case native:
		u, _ := url.Parse(upstream.URL)
		clusters := map[string]string{}
		for k, v := range o.clusters {
			clusters[k] = v
		}
		handler = &authhttp.Handler{Engine: eng, Next: httputil.NewSingleHostReverseProxy(u), Clusters: clusters}
	case wasm:
		clusters := map[string]harness.Cluster{}
		for k, v := range o.clusters {
			clusters[k] = harness.Cluster{URL: v}
		}
		for k, v := range o.harnessClusters {
			clusters[k] = v
		}
		vms := o.vms
		if vms == 0 {
			vms = 2
		}
		h, err := harness.New(context.Background(), harness.Options{
			Wasm:                 filterWasm(t),
			PluginConfig:         cfgJSON,
			VMs:                  vms,
			Upstream:             upstream.URL,
			Clusters:             clusters,
			NoSignatureFunctions: o.noHostSignatures,
			Log: func(level int, msg string) {
				if !o.quietLog || level >= harness.LevelError {
					t.Logf("wasm[%d]: %s", level, msg)
				}
				if o.log != nil {
					o.log(msg)
				}
			},
			AccessLog: o.accessLog,
		})
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		tg.host = h
		handler = h
	default:
		t.Fatalf("unknown target kind %q", kind)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: handler}}
	srv.Start()
	t.Cleanup(srv.Close)
	return tg
}

// forEachKind runs f as a subtest per target kind.
func forEachKind(t *testing.T, f func(t *testing.T, kind string)) {
	for _, k := range kinds {
		t.Run(k, func(t *testing.T) { f(t, k) })
	}
}

// readConfig returns a config template from testdata.
func readConfig(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
