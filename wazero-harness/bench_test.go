package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchUpstream answers a small fixed response.
func benchUpstream(b *testing.B) *httptest.Server {
	return serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
}

// benchGet sends b.N GETs to url over keep-alive connections.
func benchGet(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer not-checked-by-noop")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkNoopFilter is one request through the no-op filter to an
// httptest upstream, over real HTTP: client -> harness -> upstream.
func BenchmarkNoopFilter(b *testing.B) {
	up := benchUpstream(b)
	h := newHost(b, Options{Wasm: noopWasm, Upstream: up.URL})
	srv := serve(b, h)
	benchGet(b, srv.URL+"/mcp")
}

// BenchmarkDirectUpstream is the same request without any filter or proxy:
// client -> upstream. The difference to BenchmarkNoopFilter is the proxy
// hop plus the host's work.
func BenchmarkDirectUpstream(b *testing.B) {
	up := benchUpstream(b)
	benchGet(b, up.URL+"/mcp")
}

// BenchmarkProxyWithoutFilter is the same proxy hop as BenchmarkNoopFilter
// done by a few lines of plain Go, to separate the cost of the hop from
// the cost of the wasm host.
func BenchmarkProxyWithoutFilter(b *testing.B) {
	up := benchUpstream(b)
	client := newHTTPClient(nil, nil)
	srv := serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(up.URL + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	benchGet(b, srv.URL+"/mcp")
}

// BenchmarkLocalReply is the bare filter invocation without network or
// upstream: the kitchen filter answers /local itself (context create,
// request headers, local reply, response headers, log, done, delete).
func BenchmarkLocalReply(b *testing.B) {
	h := newHost(b, Options{Wasm: kitchenWasm, VMs: 1})
	benchServe(b, h.VM(0), httptest.NewRequest(http.MethodGet, "/local", nil), 418)
}

// BenchmarkNoopFilterInProcess is the no-op filter without the client-side
// network hop: VM.ServeHTTP with a recorder, upstream over HTTP.
func BenchmarkNoopFilterInProcess(b *testing.B) {
	up := benchUpstream(b)
	h := newHost(b, Options{Wasm: noopWasm, Upstream: up.URL, VMs: 1})
	benchServe(b, h.VM(0), httptest.NewRequest(http.MethodGet, "/mcp", nil), 200)
}

// BenchmarkHostRoundTrip is the no-op filter with no upstream configured:
// the host's own work for a request (context create, request headers,
// Envoy's 503 "no healthy upstream" through the response phase, log, done,
// delete) without any network.
func BenchmarkHostRoundTrip(b *testing.B) {
	h := newHost(b, Options{Wasm: noopWasm, VMs: 1})
	benchServe(b, h.VM(0), httptest.NewRequest(http.MethodGet, "/mcp", nil), 503)
}

// benchServe serves req to vm b.N times in process and checks the status.
func benchServe(b *testing.B, vm *VM, req *http.Request, want int) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		vm.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("status %d, want %d", rec.Code, want)
		}
	}
}
