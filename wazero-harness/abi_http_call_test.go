package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// backend is a callout destination with a few behaviours.
func backend(t testing.TB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo-Host", r.Host)
		w.Header().Set("X-Echo-From", r.Header.Get("X-From"))
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, "backend says hi")
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, r.Method+" "+r.Header.Get("Content-Type")+" "+string(b))
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/slow":
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
		case "/delay":
			time.Sleep(300 * time.Millisecond)
			_, _ = io.WriteString(w, "late")
		case "/big":
			_, _ = w.Write(make([]byte, MaxCalloutResponseBody+1))
		default:
			http.NotFound(w, r)
		}
	})
}

// calloutResult is the kitchen filter's report of a callout response.
type calloutResult struct {
	Status     string `json:"status"`
	Location   string `json:"location"`
	EchoHost   string `json:"echo_host"`
	EchoFrom   string `json:"echo_from"`
	Body       string `json:"body"`
	NumHeaders int    `json:"numHeaders"`
	HeadersLen int    `json:"headersLen"`
}

func TestHTTPCallouts(t *testing.T) {
	t.Parallel()
	plain := serve(t, backend(t))
	secure := httptest.NewTLSServer(backend(t))
	t.Cleanup(secure.Close)
	roots := x509.NewCertPool()
	roots.AddCert(secure.Certificate())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	up := echoUpstream(t)

	h := newHost(t, Options{
		Wasm:     kitchenWasm,
		Upstream: up.URL,
		Clusters: map[string]Cluster{
			"backend": {URL: plain.URL},
			"secure":  {URL: secure.URL, TLS: &tls.Config{RootCAs: roots}},
			"dead":    {URL: dead},
		},
	})
	srv := serve(t, h)

	ok := func(wantStatus, wantBody, wantLocation string) func(t *testing.T, st int, body string) {
		return func(t *testing.T, st int, body string) {
			if st != 200 {
				t.Fatalf("status %d: %s", st, body)
			}
			var r calloutResult
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			if r.Status != wantStatus || r.Body != wantBody || r.Location != wantLocation {
				t.Errorf("callout saw status %q body %q location %q; want %q %q %q", r.Status, r.Body, r.Location, wantStatus, wantBody, wantLocation)
			}
			if r.NumHeaders != r.HeadersLen || r.NumHeaders < 2 {
				t.Errorf("num_headers %d, header map has %d entries", r.NumHeaders, r.HeadersLen)
			}
			if wantStatus == "200" && (r.EchoHost != "callout.test" || r.EchoFrom != "kitchen") {
				t.Errorf("backend saw Host %q and X-From %q; want :authority as Host and the filter's header", r.EchoHost, r.EchoFrom)
			}
		}
	}
	failed := func(wantStatus int, wantBody string) func(t *testing.T, st int, body string) {
		return func(t *testing.T, st int, body string) {
			if st != wantStatus || body != wantBody {
				t.Errorf("got %d %q, want %d %q", st, body, wantStatus, wantBody)
			}
		}
	}
	// Envoy answers a callout it could not get response headers for with
	// its own reply (504 on the timeout, 503 when the upstream cannot be
	// reached); only a failure after the response started (here: a body
	// over the limit) is delivered with zero headers: the header map then
	// reads as empty, and the body buffer is NotFound.
	const refused = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	const calloutFailed = "callout failed (0 headers, err <nil>; body \"\", err error status returned by host: not found)"
	tests := []struct {
		name  string
		path  string
		check func(t *testing.T, st int, body string)
	}{
		{"ok", "/callout?cluster=backend&path=/ok", ok("200", "backend says hi", "")},
		{"POST with a body", "/callout?cluster=backend&path=/echo&method=POST&body=grant_type%3Dx%26code%3Dy",
			ok("200", "POST application/x-www-form-urlencoded grant_type=x&code=y", "")},
		{"redirect not followed", "/callout?cluster=backend&path=/redirect", ok("302", "<a href=\"/elsewhere\">Found</a>.\n\n", "/elsewhere")},
		{"https cluster with its own TLS config", "/callout?cluster=secure&path=/ok", ok("200", "backend says hi", "")},
		{"not found passed as is", "/callout?cluster=backend&path=/nope", ok("404", "404 page not found\n", "")},
		{"timeout", "/callout?cluster=backend&path=/slow&timeout=100", ok("504", "upstream request timeout", "")},
		{"connection refused", "/callout?cluster=dead&path=/ok", ok("503", refused, "")},
		{"response body over the limit", "/callout?cluster=backend&path=/big", failed(502, calloutFailed)},
		{"unknown cluster", "/callout?cluster=nope&path=/ok", failed(500, "dispatch: error status returned by host: bad argument")},
		{"missing :path", "/callout?cluster=backend", failed(500, "dispatch: error status returned by host: bad argument")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			st, _, body := get(t, srv.URL+tt.path)
			tt.check(t, st, body)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}

	// A callout callback that edits the paused request's headers and
	// resumes it with proxy_continue_stream.
	for cluster, want := range map[string]string{"backend": "200", "dead": "503"} {
		st, _, body := get(t, srv.URL+"/resume-later?cluster="+cluster+"&path=/ok")
		if st != 200 {
			t.Fatalf("resume-later via %s: status %d %s", cluster, st, body)
		}
		if got := strings.Join(decodeEcho(t, body).Headers["x-callout-status"], ","); got != want {
			t.Errorf("resume-later via %s: upstream saw x-callout-status %q, want %q", cluster, got, want)
		}
	}
}

// slowCloseConn delays Close, the way tls.Conn.Close first writes its
// close_notify alert: meanwhile the peer's last bytes can still be read.
type slowCloseConn struct {
	net.Conn
	delay time.Duration
}

func (c slowCloseConn) Close() error {
	time.Sleep(c.delay)
	return c.Conn.Close()
}

// TestCalloutBodyEndingAfterTheTimeoutFails: a response whose body is
// still arriving when the callout's timeout expires is a failure (0
// headers), never a 200 with what came in time. Go's transport closes the
// connection when the deadline passes, but if the server ends the body
// cleanly while that close is under way (a Go handler returning when its
// client leaves; here at 40 ms past the deadline, with Close taking
// 300 ms) the body reader sees a clean EOF and io.ReadAll no error: the
// truncated body must not be delivered as a success. Envoy never delivers
// a response that completed after the call's timeout.
func TestCalloutBodyEndingAfterTheTimeoutFails(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"partial":`)
		w.(http.Flusher).Flush()
		time.Sleep(timeout + 40*time.Millisecond)
		// Returning ends the chunked body cleanly.
	}))
	defer srv.Close()
	c, err := newCluster("slow", Cluster{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.client = newHTTPClient(nil, func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := baseDialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowCloseConn{conn, 300 * time.Millisecond}, nil
	})
	hm := headerMap{{":method", "GET"}, {":path", "/"}, {":authority", "slow.test"}}
	resp, err := c.do(context.Background(), hm, nil, timeout)
	if resp != nil || err == nil {
		var got string
		if resp != nil {
			got = fmt.Sprintf("%v %q", resp.headers, resp.body)
		}
		t.Fatalf("callout whose body ended after the timeout: response %s, error %v; want a failure", got, err)
	}
}

func TestParseBaseURL(t *testing.T) {
	for _, bad := range []string{"ftp://x", "http://", "http://host/path", "http://host?q=1", "::"} {
		if _, err := parseBaseURL(bad); err == nil {
			t.Errorf("parseBaseURL(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"http://127.0.0.1:9000": "http://127.0.0.1:9000", "https://h/": "https://h"} {
		u, err := parseBaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("parseBaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
}

// TestBodyContinueReleasesPausedHeaders pins down an Envoy rule filters
// must respect: a filter that pauses the request headers to wait for a
// callout, but returns Continue from proxy_on_request_body (the SDK's
// default), lets the whole request through at once, without waiting for
// the callout. The kitchen filter's /resume-later route does exactly that.
func TestBodyContinueReleasesPausedHeaders(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 1,
		Clusters: map[string]Cluster{"backend": {URL: serve(t, backend(t)).URL}}})
	srv := serve(t, h)
	path := "/resume-later?cluster=backend&path=/delay"

	// Without a body the request waits for the callout.
	start := time.Now()
	st, _, body := get(t, srv.URL+path)
	if st != 200 || strings.Join(decodeEcho(t, body).Headers["x-callout-status"], "") != "200" || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("GET: %d %s after %v; want the callout's status added", st, body, time.Since(start))
	}

	// With a body, the body callback's Continue releases the request: it
	// reaches the upstream before the callout's answer could add its header.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{"jsonrpc":"2.0"}`))
	st, _, body = do(t, req)
	e := decodeEcho(t, body)
	if st != 200 || e.Body != `{"jsonrpc":"2.0"}` {
		t.Fatalf("POST: %d %s", st, body)
	}
	if v, ok := e.Headers["x-callout-status"]; ok {
		t.Errorf("POST waited for the callout (x-callout-status %q); Envoy would not", v)
	}
}
