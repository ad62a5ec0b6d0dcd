package harness

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPluginRefusesToStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"proxy_on_configure returns false",
			Options{PluginConfig: []byte(`{"refuse": "no signing key"}`)},
			"harness: plugin refused to start: kitchen: refusing to start: no signing key (vm 0: proxy_on_configure returned false)"},
		{"invalid configuration",
			Options{PluginConfig: []byte(`{not json`)},
			"harness: plugin refused to start: kitchen: invalid configuration: invalid character 'n' looking for beginning of object key string (vm 0: proxy_on_configure returned false)"},
		{"proxy_on_vm_start returns false",
			Options{VMConfig: []byte("refuse-vm")},
			"harness: plugin refused to start: kitchen: vm configuration says refuse-vm (vm 0: proxy_on_vm_start returned false)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Wasm, tt.opts.Log = kitchenWasm, quiet
			h, err := New(context.Background(), tt.opts)
			if err == nil {
				h.Close(context.Background())
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrPluginRefused) || err.Error() != tt.wantErr {
				t.Errorf("err = %q\nwant  %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRejectsBadModules(t *testing.T) {
	t.Parallel()
	tests := map[string]Options{
		"no module":        {},
		"not wasm":         {Wasm: []byte("hello")},
		"bad upstream":     {Wasm: noopWasm, Upstream: "localhost:80"},
		"bad cluster":      {Wasm: noopWasm, Clusters: map[string]Cluster{"c": {URL: "http://h/path"}}},
		"negative VMs":     {Wasm: noopWasm, VMs: -1},
		"not a proxy-wasm": {Wasm: []byte("\x00asm\x01\x00\x00\x00")}, // empty module
	}
	for _, name := range sortedKeys(tests) {
		opts := tests[name]
		opts.Log = quiet
		if h, err := New(context.Background(), opts); err == nil {
			h.Close(context.Background())
			t.Errorf("%s: New succeeded", name)
		} else if !strings.HasPrefix(err.Error(), "harness: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func TestTrapKillsOnlyThatVM(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 2})
	vm0, vm1 := serve(t, h.VM(0)), serve(t, h.VM(1))

	st, _, body := get(t, vm0.URL+"/panic")
	if st != 500 {
		t.Fatalf("panic answered %d %q, want 500", st, body)
	}
	if h.VM(0).Alive() {
		t.Fatal("VM0 is alive after a trap")
	}
	if err := h.VM(0).Err(); err == nil || !strings.Contains(err.Error(), "proxy_on_request_headers") {
		t.Errorf("VM0.Err() = %v", err)
	}
	if got := logsContaining(h, "panic: kitchen: boom"); len(got) != 1 {
		t.Errorf("the Go panic message was not logged from the module's stderr: %q", got)
	}
	if st, _, _ := get(t, vm0.URL+"/headers"); st != 503 {
		t.Errorf("request to the dead VM answered %d, want 503", st)
	}
	if st, _, _ := get(t, vm1.URL+"/headers"); st != 200 || !h.VM(1).Alive() {
		t.Errorf("the other VM answered %d", st)
	}
	// Host.ServeHTTP keeps round-robin over dead VMs, like Envoy workers.
	srv := serve(t, h)
	seen := map[int]int{}
	for i := 0; i < 4; i++ {
		st, _, _ := get(t, srv.URL+"/headers")
		seen[st]++
	}
	if seen[200] != 2 || seen[503] != 2 {
		t.Errorf("statuses through the Host: %v, want two 200 and two 503", seen)
	}
}

// TestConcurrentCallouts sends 50 concurrent requests that each pause on a
// callout, across 2 VMs: streams of one VM interleave between callbacks as
// in Envoy, so many callouts are in flight at once.
func TestConcurrentCallouts(t *testing.T) {
	t.Parallel()
	var inflight, maxInflight atomic.Int32
	slowBackend := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		_, _ = io.WriteString(w, "slow "+r.URL.Query().Get("i"))
	}))
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 2,
		Clusters: map[string]Cluster{"backend": {URL: slowBackend.URL}}})
	srv := serve(t, h)

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL + "/callout?cluster=backend&path=/slow%3Fi%3D" + strconv.Itoa(i))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var r calloutResult
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || r.Body != "slow "+strconv.Itoa(i) {
				errs <- "request " + strconv.Itoa(i) + ": status " + resp.Status + " body " + r.Body
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	elapsed := time.Since(start)
	if m := maxInflight.Load(); m <= 2 {
		t.Errorf("at most %d callouts in flight: streams did not interleave", m)
	}
	if elapsed > 10*time.Second {
		t.Errorf("50 requests with 100 ms callouts took %v: they were serialized", elapsed)
	}
	served := 0
	for i := 0; i < 2; i++ {
		_, _, body := get(t, serve(t, h.VM(i)).URL+"/served")
		k, _ := strconv.Atoi(body)
		if k == 0 {
			t.Errorf("VM%d served no request", i)
		}
		served += k
	}
	if served != n {
		t.Errorf("the VMs served %d requests, want %d", served, n)
	}
	t.Logf("%d requests in %v, max %d callouts in flight", n, elapsed, maxInflight.Load())
}

func TestCloseIsIdempotentAndVMRange(t *testing.T) {
	t.Parallel()
	h, err := New(context.Background(), Options{Wasm: noopWasm, VMs: 3, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if h.NumVMs() != 3 || h.VM(2) == nil || h.VM(3) != nil || h.VM(-1) != nil || h.VM(1).Index() != 1 {
		t.Error("VM accessors disagree with Options.VMs")
	}
	for i := 0; i < 2; i++ {
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if h.VM(0).Alive() || h.VM(0).Err() != nil {
		t.Errorf("after Close: alive %v, err %v", h.VM(0).Alive(), h.VM(0).Err())
	}
}

func TestCompilationCacheDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		start := time.Now()
		h := newHost(t, Options{Wasm: noopWasm, VMs: 1, CompilationCacheDir: dir})
		t.Logf("New with a cache directory (run %d): %v", i, time.Since(start))
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Errorf("nothing cached in %s: %v", dir, err)
	}
}
