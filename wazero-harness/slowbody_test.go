package harness

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest writes head (and the partial body) on a fresh connection and
// reads the response, without ever sending the rest of the body.
func rawRequest(t *testing.T, addr, head string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second)) // generous: the machine may be loaded
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response while the body is outstanding: %v", err)
	}
	return res
}

// TestDeclaredLengthAboveCapRefusedAtOnce: a Content-Length above
// MaxRequestBody is answered 413 without waiting for (or reading) the body.
func TestDeclaredLengthAboveCapRefusedAtOnce(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, MaxRequestBody: 100 << 10, RequestBodyTimeout: -1})
	srv := serve(t, h)
	res := rawRequest(t, strings.TrimPrefix(srv.URL, "http://"),
		"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\nabc")
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", res.StatusCode)
	}
}

// TestSlowBodyTimesOut: a client that does not finish its body within
// RequestBodyTimeout gets 408 and does not hold the connection.
func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, RequestBodyTimeout: 300 * time.Millisecond})
	srv := serve(t, h)
	res := rawRequest(t, strings.TrimPrefix(srv.URL, "http://"),
		"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-a-little")
	if res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", res.StatusCode)
	}
}
