package harness

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// Test modules, built once per test binary by TestMain.
var (
	noopWasm    []byte
	kitchenWasm []byte
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "harness-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	mods := map[string]*[]byte{"noop": &noopWasm, "kitchen": &kitchenWasm}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for name, dst := range mods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(dir, name+".wasm")
			err := Build(filepath.Join("testdata", name), out)
			if err == nil {
				var b []byte
				if b, err = os.ReadFile(out); err == nil {
					*dst = b
					err = warmCache(b)
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(errs, "\n"))
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("harness tests: built and compiled test modules in %v\n", time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// warmCache compiles a module into the process-wide compilation cache, so
// the tests' Hosts only instantiate it.
func warmCache(wasm []byte) error {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(processCache()))
	defer rt.Close(ctx)
	_, err := rt.CompileModule(ctx, wasm)
	return err
}

// quiet is a log sink for tests: entries are still kept for Host.Logs.
func quiet(int, string) {}

// newHost starts a Host for a test and closes it at cleanup.
func newHost(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.Log == nil {
		opts.Log = quiet
	}
	h, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// serve exposes a handler on a real HTTP server for the test.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// echoed is what the echo upstream reports about the request it got.
type echoed struct {
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// echoUpstream answers every request with a JSON description of it and a
// few headers the filter edits.
func echoUpstream(t testing.TB) *httptest.Server {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := echoed{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: map[string][]string{}, Body: string(body)}
		for k, v := range r.Header {
			e.Headers[strings.ToLower(k)] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("X-Upstream-Remove", "1")
		w.Header().Set("X-Upstream-Replace", "original")
		_ = json.NewEncoder(w).Encode(e)
	}))
}

// get sends a GET and returns status, headers and body.
func get(t testing.TB, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

// do sends req and returns status, headers and body.
func do(t testing.TB, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// decodeEcho parses the echo upstream's answer.
func decodeEcho(t testing.TB, body string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("upstream answer %q: %v", body, err)
	}
	return e
}

// logsContaining returns the log messages containing substr.
func logsContaining(h *Host, substr string) []string {
	var out []string
	for _, e := range h.Logs() {
		if strings.Contains(e.Msg, substr) {
			out = append(out, e.Msg)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sortedKeys is a helper for stable error messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
