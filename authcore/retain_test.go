package authcore

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
	"weak"
)

// viewedRequest is a request whose every string (method, target, header
// names and values) is a view of one buffer, as the filter's are of the
// header map the host wrote into its memory, and whose body is a buffer
// of its own. The weak pointers tell whether anything still holds either
// buffer once the request is over.
type viewedRequest struct {
	req        *Request
	body       []byte
	head, tail weak.Pointer[byte]
}

func newViewedRequest(method, target string, headers Header, body string) *viewedRequest {
	n := len(method) + len(target) + len("https") + len("mcp.example.com")
	for _, kv := range headers {
		n += len(kv[0]) + len(kv[1])
	}
	buf := make([]byte, 0, n+1)
	cut := func(s string) string {
		if s == "" {
			return ""
		}
		start := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[start], len(s))
	}
	req := &Request{Method: cut(method), Scheme: cut("https"), Authority: cut("mcp.example.com"), Path: cut(target)}
	for _, kv := range headers {
		req.Headers = append(req.Headers, [2]string{cut(kv[0]), cut(kv[1])})
	}
	v := &viewedRequest{req: req, head: weak.Make(&buf[:1][0])}
	if body != "" {
		v.body = []byte(body)
		v.tail = weak.Make(&v.body[0])
	}
	return v
}

// released reports whether nothing holds the request's buffers any more.
// The caller has dropped its own references.
func (v *viewedRequest) released() (head, body bool) {
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	return v.head.Value() == nil, v.body == nil || v.tail.Value() == nil
}

// TestRequestBytesReleased holds KeepsRequest to its word: for every
// request it reports false for (the guard's every outcome, the discovery
// documents, unknown /.well-known/ paths, pass-through traffic), no string
// or byte of the request is reachable once the request is over, however
// it was decided: a first-seen token of the authorization server or of an
// external issuer (its keys fetched by callout), an introspected opaque
// token, the same tokens cached, a tool call allowed, refused by a rule's
// scope or by a bad body, a missing or invalid token. Were a cache to keep
// a view of a request, a filter reusing its header buffer would let the
// next request's bytes rewrite the cached key.
func TestRequestBytesReleased(t *testing.T) {
	as := newHarness(t, asConfigJSON(nil))
	code, verifier := as.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
	asToken := tokenOK(t, as.exchange(code, verifier)).AccessToken
	// Copies that no request shares: a request's token must be its own
	// buffer's.
	asToken = strings.Clone(asToken)

	idps, keys := vendorIdPs(t)
	ext := newIssuerHarness(t, shapesConfig, idps)
	now := ext.clk.Now()
	kcToken := signToken(t, keys["keycloak"], map[string]any{"typ": "JWT"},
		stdClaims(now, kcIssuer, "alice", []string{shapesMCP}, map[string]any{"azp": "mcp-client", "scope": "mcp:tools"}))

	idp := newTestIdP(t)
	intro := newIssuerHarness(t, introConfig, map[string]*testIdP{"idp": idp, "jwt": newTestIdP(t)})
	idp.introspection["opaque-live"] = introAnswer(true, intro.clk.Now().Add(time.Hour), "")

	const list = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	bearer := func(tok string) Header {
		return Header{{"authorization", "Bearer " + tok}, {"content-type", "application/json"},
			{"accept", "application/json, text/event-stream"}, {"x-request-id", "5f1c0de2-aa00-4b1e-9c1d-6f0b3c2e7a10"},
			{"mcp-protocol-version", "2025-11-25"}}
	}
	type tc struct {
		name   string
		h      *harness
		method string
		target string
		header Header
		body   string
		status int // -1: forwarded
	}
	cases := []tc{
		{"as token first seen", as, "POST", "/mcp", bearer(asToken), list, -1},
		{"as token cached", as, "POST", "/mcp", bearer(asToken), list, -1},
		{"tool call allowed", as, "POST", "/mcp", bearer(asToken), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`, -1},
		{"tool call over a batch", as, "POST", "/mcp", bearer(asToken), `[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}},{"jsonrpc":"2.0","id":3,"method":"tools/list"}]`, -1},
		{"tool call with escapes", as, "POST", "/mcp", bearer(asToken), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"\u0065cho"}}`, -1},
		{"tool call needing a scope", as, "POST", "/mcp", bearer(asToken), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats"}}`, 403},
		{"duplicate member", as, "POST", "/mcp", bearer(asToken), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","name":"admin_stats"}}`, 400},
		{"no token", as, "POST", "/mcp", Header{{"content-type", "application/json"}}, list, 401},
		{"invalid token", as, "POST", "/mcp", bearer(asToken[:len(asToken)-4] + "AAAA"), list, 401},
		{"near miss", as, "POST", "/MCP/", bearer(asToken), list, 0},
		{"pass through", as, "GET", "/health?probe=1", Header{{"x-mcpgate-subject", "mallory"}}, "", -1},
		{"protected resource metadata", as, "GET", "/.well-known/oauth-protected-resource/mcp", Header{{"origin", "https://app.example"}}, "", 200},
		{"authorization server metadata", as, "HEAD", "/.well-known/oauth-authorization-server", nil, "", 200},
		{"document by POST", as, "POST", "/.well-known/oauth-protected-resource/mcp", nil, "", 405},
		{"document preflight", as, "OPTIONS", "/.well-known/oauth-protected-resource/mcp", Header{{"origin", "https://app.example"}, {"access-control-request-method", "GET"}}, "", 0},
		{"unknown well-known", as, "GET", "/.well-known/nothing-here", nil, "", 404},
		{"external jwt first seen", ext.harness, "POST", "/mcp", bearer(kcToken), list, -1},
		{"external jwt cached", ext.harness, "POST", "/mcp", bearer(kcToken), list, -1},
		{"introspected first seen", intro.harness, "POST", "/mcp", bearer("opaque-live"), list, -1},
		{"introspected cached", intro.harness, "POST", "/mcp", bearer("opaque-live"), list, -1},
		{"introspected inactive", intro.harness, "POST", "/mcp", bearer("opaque-dead"), list, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newViewedRequest(c.method, c.target, c.header, c.body)
			if c.h.e.KeepsRequest(v.req) {
				t.Fatalf("KeepsRequest true for %s %s", c.method, c.target)
			}
			status := c.h.run(c.h.e, v.req, v.body).Status
			if c.status != 0 && status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			v.req, v.body = nil, nil
			head, body := v.released()
			if !head {
				t.Errorf("a view of the request's headers outlived it")
			}
			if !body {
				t.Errorf("a view of the request's body outlived it")
			}
		})
	}

	// The authorization server's endpoints may keep views: the filter
	// copies their requests out of its buffer.
	ep := as.e.cfg.Endpoints
	for _, target := range []string{ep.Authorization + "?client_id=ide", ep.Token, ep.Registration, ep.Consent, ep.Revocation} {
		if !as.e.KeepsRequest(&Request{Method: "POST", Path: target}) {
			t.Errorf("KeepsRequest false for %s", target)
		}
	}
}
