package harness

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRequestHeadersSeenAndEdited(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL})
	srv := serve(t, h)
	tests := []struct {
		name    string
		path    string
		headers []string
		check   func(t *testing.T, e echoed, srvHost string)
	}{
		{
			name:    "pseudo headers as Envoy gives them",
			path:    "/headers?q=1&r=%2F",
			headers: []string{"X-Multi", "a", "X-Multi", "b"},
			check: func(t *testing.T, e echoed, srvHost string) {
				want := map[string]string{
					"x-seen-method": "GET", "x-seen-path": "/headers?q=1&r=%2F", "x-seen-authority": srvHost,
					"x-seen-scheme": "http", "x-seen-forwarded-proto": "http", "x-seen-multi": "a,b",
					"x-seen-count-matches": "true",
				}
				for k, v := range want {
					if got := strings.Join(e.Headers[k], ","); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				if id := e.Headers["x-request-id"]; len(id) != 1 || len(id[0]) != 36 {
					t.Errorf("x-request-id = %q, want one generated UUID", id)
				}
				if got := e.Headers["x-seen-request-id"]; strings.Join(got, "") != strings.Join(e.Headers["x-request-id"], "") {
					t.Errorf("the filter saw x-request-id %q, upstream got %q", got, e.Headers["x-request-id"])
				}
				if got := e.Headers["x-multi"]; strings.Join(got, ",") != "a,b" {
					t.Errorf("upstream got x-multi %q, want both values in order", got)
				}
			},
		},
		{
			name:    "Expect: 100-continue is answered by the proxy and removed",
			path:    "/headers",
			headers: []string{"Expect", "100-continue"},
			check: func(t *testing.T, e echoed, _ string) {
				if v, ok := e.Headers["expect"]; ok {
					t.Errorf("upstream got Expect %q", v)
				}
			},
		},
		{
			name:    "existing request id and forwarded proto are kept",
			path:    "/headers",
			headers: []string{"X-Request-Id", "given-id", "X-Forwarded-Proto", "https"},
			check: func(t *testing.T, e echoed, _ string) {
				if got := strings.Join(e.Headers["x-request-id"], ","); got != "given-id" {
					t.Errorf("x-request-id = %q", got)
				}
				if got := strings.Join(e.Headers["x-forwarded-proto"], ","); got != "https" {
					t.Errorf("x-forwarded-proto = %q", got)
				}
			},
		},
		{
			name:    "add, replace and remove reach the upstream",
			path:    "/headers",
			headers: []string{"X-Replace", "old1", "X-Replace", "old2", "X-Remove", "gone"},
			check: func(t *testing.T, e echoed, _ string) {
				if got := strings.Join(e.Headers["x-added"], ","); got != "yes" {
					t.Errorf("x-added = %q", got)
				}
				if got := strings.Join(e.Headers["x-replace"], ","); got != "replaced" {
					t.Errorf("x-replace = %q, want one replaced value", got)
				}
				if _, ok := e.Headers["x-remove"]; ok {
					t.Errorf("x-remove reached the upstream")
				}
			},
		},
		{
			name: ":path and :authority edits become the request URI and Host",
			path: "/headers?rewrite=/elsewhere%3Fz=9&authority=mcp.example",
			check: func(t *testing.T, e echoed, _ string) {
				if e.URI != "/elsewhere?z=9" {
					t.Errorf("upstream request URI = %q", e.URI)
				}
				if e.Host != "mcp.example" {
					t.Errorf("upstream Host = %q", e.Host)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := get(t, srv.URL+tt.path, tt.headers...)
			if st != http.StatusOK {
				t.Fatalf("status %d: %s", st, body)
			}
			tt.check(t, decodeEcho(t, body), strings.TrimPrefix(srv.URL, "http://"))
		})
	}
}

func TestResponseHeaderEdits(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL})
	srv := serve(t, h)
	tests := []struct {
		path       string
		wantStatus int
	}{
		{"/headers", 200},
		{"/headers?status=203", 203}, // the filter rewrites :status
	}
	for _, tt := range tests {
		st, hdr, _ := get(t, srv.URL+tt.path)
		if st != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.path, st, tt.wantStatus)
		}
		if hdr.Get("X-Upstream") != "yes" {
			t.Errorf("%s: an untouched upstream header was lost", tt.path)
		}
		if _, ok := hdr["X-Upstream-Remove"]; ok {
			t.Errorf("%s: removed response header reached the client", tt.path)
		}
		if got := hdr.Values("X-Upstream-Replace"); len(got) != 1 || got[0] != "replaced" {
			t.Errorf("%s: X-Upstream-Replace = %q", tt.path, got)
		}
		if got := hdr.Get("X-Kitchen-Route"); got != "/headers" {
			t.Errorf("%s: added response header = %q", tt.path, got)
		}
	}
}

// TestHeaderAvailability pins down Envoy's rule the harness follows: once
// a filter lets the request headers through, they are gone from its reach
// (BadArgument) until proxy_on_log, where they are readable again.
func TestHeaderAvailability(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 1})
	srv := serve(t, h)
	st, hdr, _ := get(t, srv.URL+"/avail?x=1")
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	inResponse := map[string]string{
		"X-Request-Header-In-Response":        "error status returned by host: bad argument",
		"X-Request-Headers-In-Response":       "0 <nil>", // pairs of an unavailable map: empty, no error
		"X-Request-Path-Property-In-Response": "error status returned by host: not found",
	}
	for k, want := range inResponse {
		if got := hdr.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// proxy_on_log runs after the response is written: wait for it.
	waitFor(t, "proxy_on_log", 5*time.Second, func() bool { _, _, ok := h.SharedData("kitchen:last-log-path-property"); return ok })
	for key, want := range map[string]string{"kitchen:last-log-path": "/avail?x=1", "kitchen:last-log-path-property": "/avail?x=1"} {
		if v, _, ok := h.SharedData(key); !ok || string(v) != want {
			t.Errorf("%s (read in proxy_on_log) = %q, %v; want %q", key, v, ok, want)
		}
	}
}
