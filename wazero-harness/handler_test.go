package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLocalReply(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL})
	srv := serve(t, h)
	st, hdr, body := get(t, srv.URL+"/local")
	if st != 418 || body != `{"teapot":true}` {
		t.Fatalf("got %d %q", st, body)
	}
	if got := hdr.Values("Set-Cookie"); strings.Join(got, "|") != "a=1|b=2" {
		t.Errorf("Set-Cookie = %q, want both (Envoy adds, not sets, local reply headers)", got)
	}
	if got := hdr.Values("Content-Type"); strings.Join(got, "|") != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if hdr.Get("X-Upstream") != "" {
		t.Error("the request reached the upstream")
	}
	// Envoy encodes a filter's local reply through the encoder chain, so the
	// filter's own proxy_on_response_headers sees it.
	if got := hdr.Get("X-Kitchen-Route"); got != "/local" {
		t.Errorf("X-Kitchen-Route = %q: the local reply skipped the response phase", got)
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL})
	srv := serve(t, h)
	body := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		return b
	}
	sum := func(b []byte) int {
		s := 0
		for _, c := range b {
			s += int(c)
		}
		return s
	}
	big := body(150 << 10)
	tests := []struct {
		name    string
		path    string
		body    []byte
		chunked bool
		check   func(t *testing.T, st int, hdr http.Header, resp string)
	}{
		{
			name: "small body buffered and replaced",
			path: "/body",
			body: []byte("hello"),
			check: func(t *testing.T, st int, _ http.Header, resp string) {
				if e := decodeEcho(t, resp); e.Body != "calls=1 sizes=5 len=5 sum=532" {
					t.Errorf("upstream got body %q", e.Body)
				}
			},
		},
		{
			name: "body of three 64 KiB chunks, buffered: the filter sees the whole body so far",
			path: "/body",
			body: big,
			check: func(t *testing.T, st int, _ http.Header, resp string) {
				want := fmt.Sprintf("calls=3 sizes=65536,131072,153600 len=153600 sum=%d", sum(big))
				if e := decodeEcho(t, resp); e.Body != want {
					t.Errorf("upstream got body %q, want %q", e.Body, want)
				}
			},
		},
		{
			name:    "chunked transfer encoding",
			path:    "/body",
			body:    big,
			chunked: true,
			check: func(t *testing.T, st int, _ http.Header, resp string) {
				want := fmt.Sprintf("calls=3 sizes=65536,131072,153600 len=153600 sum=%d", sum(big))
				if e := decodeEcho(t, resp); e.Body != want {
					t.Errorf("upstream got body %q, want %q", e.Body, want)
				}
			},
		},
		{
			name: "exactly one chunk",
			path: "/body-local",
			body: body(64 << 10),
			check: func(t *testing.T, st int, _ http.Header, resp string) {
				if want := fmt.Sprintf("calls=1 sizes=65536 len=65536 sum=%d", sum(body(64<<10))); resp != want {
					t.Errorf("local reply %q, want %q", resp, want)
				}
			},
		},
		{
			name: "headers paused: body callbacks still come and headers stay editable",
			path: "/body-pause-headers",
			body: big,
			check: func(t *testing.T, st int, _ http.Header, resp string) {
				e := decodeEcho(t, resp)
				if got := strings.Join(e.Headers["x-body-sizes"], ","); got != "65536,131072,153600" {
					t.Errorf("x-body-sizes = %q", got)
				}
				if !bytes.Equal([]byte(e.Body), big) {
					t.Errorf("upstream got %d body bytes, want the original %d", len(e.Body), len(big))
				}
			},
		},
		{
			name: "body passed through untouched by a filter that continues",
			path: "/headers",
			body: big,
			check: func(t *testing.T, st int, _ http.Header, resp string) {
				if e := decodeEcho(t, resp); !bytes.Equal([]byte(e.Body), big) {
					t.Errorf("upstream got %d body bytes, want %d", len(e.Body), len(big))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				rd = io.MultiReader(rd) // hides the length: chunked encoding
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, rd)
			if err != nil {
				t.Fatal(err)
			}
			st, hdr, resp := do(t, req)
			if st != 200 {
				t.Fatalf("status %d: %s", st, resp)
			}
			tt.check(t, st, hdr, resp)
		})
	}
	if samples, ok := h.Histogram("kitchen_request_body_bytes"); !ok || len(samples) != 4 {
		t.Errorf("body size histogram = %v, %v; want 4 samples", samples, ok)
	}
}

func TestRequestBodyTooLarge(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, MaxRequestBody: 100 << 10})
	srv := serve(t, h)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/body", bytes.NewReader(make([]byte, 150<<10)))
	st, hdr, body := do(t, req)
	if st != http.StatusRequestEntityTooLarge || body != "Payload Too Large" {
		t.Errorf("got %d %q, want Envoy's 413", st, body)
	}
	if hdr.Get("X-Kitchen-Route") != "/body" {
		t.Errorf("the 413 did not pass the filter's response phase, as Envoy's local replies do")
	}
}

func TestResponseBody(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("abcdefgh", 20<<10) // 160 KiB: three chunks
	up := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL})
	srv := serve(t, h)

	st, hdr, body := get(t, srv.URL+"/respbody")
	if st != 200 || body != strings.ToUpper(big) {
		t.Errorf("got %d and %d bytes, want the upper-cased %d-byte body", st, len(body), len(big))
	}
	// The filter let the headers (without content-length) through before
	// the body, so, as with Envoy, they went out first and the body was
	// streamed after them.
	if hdr.Get("Content-Length") != "" {
		t.Errorf("Content-Length = %q, want none", hdr.Get("Content-Length"))
	}

	// A local reply from proxy_on_response_headers replaces the response
	// directly: no second response phase (no X-Kitchen-Route).
	st, hdr, body = get(t, srv.URL+"/resp-local")
	if st != 451 || body != "replaced in the response phase" || hdr.Get("X-Kitchen-Route") != "" {
		t.Errorf("got %d %q route=%q", st, body, hdr.Get("X-Kitchen-Route"))
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := "http://" + l.Addr().String()
	l.Close()
	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	tests := []struct {
		name       string
		opts       Options
		wantStatus int
		wantBody   string
	}{
		{"unreachable", Options{Upstream: closedAddr}, 503,
			"upstream connect error or disconnect/reset before headers. reset reason: connection failure"},
		{"timeout", Options{Upstream: slow.URL, UpstreamTimeout: 200 * time.Millisecond}, 504, "upstream request timeout"},
		{"no upstream", Options{}, 503, "no healthy upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Wasm, tt.opts.VMs = kitchenWasm, 1
			srv := serve(t, newHost(t, tt.opts))
			st, hdr, body := get(t, srv.URL+"/headers")
			if st != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", st, body, tt.wantStatus, tt.wantBody)
			}
			if hdr.Get("X-Kitchen-Route") != "/headers" {
				t.Errorf("Envoy's reply did not pass the filter's response phase")
			}
		})
	}
}

func TestPausedStreams(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 1})
	srv := serve(t, h)

	// A client that gives up on a paused request: the stream is finished
	// (proxy_on_log and friends run) and the VM goes on serving.
	active := func(n uint64) func() bool {
		return func() bool { v, _ := h.Metric("kitchen_active_streams"); return v == n }
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/pause", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		gone <- err
	}()
	waitFor(t, "the request to pause", 5*time.Second, active(1))
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("a paused request was answered")
	}
	waitFor(t, "the abandoned stream to finish", 5*time.Second, active(0))
	if st, _, _ := get(t, srv.URL+"/tick"); st != 200 {
		t.Errorf("the VM does not serve after an abandoned stream: %d", st)
	}

	// Close answers requests still paused in the filter with 503.
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/pause")
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitFor(t, "the request to pause", 5*time.Second, active(1))
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := <-done; st != 503 {
		t.Errorf("paused request answered %d at Close, want 503", st)
	}
	if st, _, _ := get(t, srv.URL+"/tick"); st != 503 {
		t.Errorf("request after Close answered %d, want 503", st)
	}
}

// TestResponseStreaming checks that what the filter lets through reaches
// the client at once: an event stream that the upstream keeps open flows
// through, as through Envoy.
func TestResponseStreaming(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message\ndata: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
			_, _ = io.WriteString(w, "event: message\ndata: second\n\n")
		case <-r.Context().Done():
		}
	}))
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 1})
	srv := serve(t, h)

	resp, err := http.Get(srv.URL + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("X-Kitchen-Route") != "/mcp" {
		t.Errorf("headers %v", resp.Header)
	}
	first := make([]byte, len("event: message\ndata: first\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "event: message\ndata: first\n\n" {
		t.Fatalf("first event %q: %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "event: message\ndata: second\n\n" {
		t.Errorf("rest of the stream %q: %v", rest, err)
	}
	waitFor(t, "the stream to finish", 5*time.Second, func() bool {
		v, _ := h.Metric("kitchen_active_streams")
		return v == 0
	})
}

// TestHeldResponseResumedWhileUpstreamIdle: the filter holds the response
// headers until a callout answers; the event stream's first event, already
// delivered to the filter, goes out as soon as the callout resumes the
// response, although the upstream sends nothing more.
func TestHeldResponseResumedWhileUpstreamIdle(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	up := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	defer close(done)
	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
	}))
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 1,
		Clusters: map[string]Cluster{"slow": {URL: slow.URL}}})
	srv := serve(t, h)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(srv.URL + "/resp-callout?cluster=slow&path=/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("X-Resp-Callout"); got == "" || got == "0" {
		t.Errorf("X-Resp-Callout = %q, want the callout's header count", got)
	}
	first := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: first\n\n" {
		t.Errorf("first event %q: %v", first, err)
	}
}

// TestUpstreamBreaksOffMidBody checks that an upstream failure after the
// response started resets the client's stream, as Envoy does.
func TestUpstreamBreaksOffMidBody(t *testing.T) {
	t.Parallel()
	up := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, "only ten b")
		http.NewResponseController(w).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 1})
	srv := serve(t, h)
	resp, err := http.Get(srv.URL + "/passthrough")
	if err != nil {
		return // reset before the headers: also a reset
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("the client got a complete body %q after the upstream broke off", b)
	}
}

func TestNewRequestID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if !uuid4.MatchString(id) {
			t.Fatalf("newRequestID() = %q, want a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}
