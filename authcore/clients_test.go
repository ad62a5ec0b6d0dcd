package authcore

import (
	"strings"
	"testing"
)

func TestCheckRedirectURI(t *testing.T) {
	cases := []struct {
		uri, appType string
		kind         int
		msg          string // fragment of the message when refused
	}{
		{"https://app.example.com/cb", "", redirectHTTPS, ""},
		{"https://app.example.com/cb", AppTypeWeb, redirectHTTPS, ""},
		{"https://app.example.com/cb", AppTypeNative, redirectHTTPS, ""},
		{"https://app.example.com/cb?tenant=1", "", redirectHTTPS, ""},
		{"http://127.0.0.1/cb", "", redirectLoopback, ""},
		{"http://127.0.0.1:3000/cb", AppTypeNative, redirectLoopback, ""},
		{"http://localhost/cb", "", redirectLoopback, ""},
		{"http://[::1]:8080/cb", "", redirectLoopback, ""},
		{"com.example.app:/oauth", "", redirectPrivate, ""},
		{"com.example.app:/oauth", AppTypeNative, redirectPrivate, ""},
		{"http://127.0.0.1/cb", AppTypeWeb, redirectInvalid, "web"},
		{"https://localhost/cb", AppTypeWeb, redirectInvalid, "loopback"},
		{"com.example.app:/oauth", AppTypeWeb, redirectInvalid, "web"},
		{"http://app.example.com/cb", "", redirectInvalid, "loopback"},
		{"http://127.0.0.1.nip.io/cb", "", redirectInvalid, "loopback"},
		{"https://app.example.com/cb#frag", "", redirectInvalid, "fragment"},
		{"https://app.example.com/cb#", "", redirectInvalid, "fragment"},
		{"https://user@app.example.com/cb", "", redirectInvalid, "userinfo"},
		{"/cb", "", redirectInvalid, "absolute"},
		{"myapp:/cb", "", redirectInvalid, "reverse domain"},
		{"javascript:alert(1)", "", redirectInvalid, "reverse domain"},
		{"data:text/html,x", "", redirectInvalid, "reverse domain"},
		{"HTTPS://app.example.com/cb", "", redirectInvalid, "lower case"},
		{"https://app.example.com/c b", "", redirectInvalid, "spaces"},
		{"https://app.example.com/cb?state=x", "", redirectInvalid, "state"},
		{"https://app.example.com/cb?iss=x", "", redirectInvalid, "iss"},
		{"https://app.example.com/cb?code", "", redirectInvalid, "code"},
		{"https:///cb", "", redirectInvalid, "host"},
		{"", "", redirectInvalid, "empty"},
		{"https://a.example/" + strings.Repeat("x", maxRedirectURILen), "", redirectInvalid, "too long"},
	}
	for _, tc := range cases {
		kind, msg := checkRedirectURI(tc.uri, tc.appType)
		if kind != tc.kind || (tc.msg == "") != (msg == "") || !strings.Contains(msg, tc.msg) {
			t.Errorf("checkRedirectURI(%.60q, %q) = %d %q, want %d ...%s...", tc.uri, tc.appType, kind, msg, tc.kind, tc.msg)
		}
	}
}

// TestMatchRedirectURI: exact match, except any port for loopback http
// (OAuth 2.1 §8.4.2).
func TestMatchRedirectURI(t *testing.T) {
	c := &Client{RedirectURIs: []string{
		"http://127.0.0.1/cb", "http://localhost:8080/cb?x=1", "http://[::1]/cb",
		"https://app.example.com/cb", "com.example.app:/oauth",
	}}
	ok := []string{
		"http://127.0.0.1/cb", "http://127.0.0.1:54321/cb", "http://127.0.0.1:1/cb",
		"http://localhost/cb?x=1", "http://localhost:9/cb?x=1", "http://[::1]:443/cb",
		"https://app.example.com/cb", "com.example.app:/oauth",
	}
	bad := []string{
		"http://127.0.0.1:54321/cb/", "http://127.0.0.1:54321/cb?x=1", "http://127.0.0.1:54321/CB",
		"http://localhost:54321/cb", "http://127.0.0.2/cb", "http://[::1]:1/cb?", "https://127.0.0.1:54321/cb",
		"http://127.0.0.1:54321/cb#f", "http://127.0.0.1:x/cb", "http://127.0.0.1:/cb", "http://127.0.0.1:123456/cb",
		"http://evil@127.0.0.1/cb", "http://127.0.0.1%2f@evil/cb", "http://localhost:8080/cb", "http://localhost:8080/cb?x=2",
		"https://app.example.com:443/cb", "https://app.example.com/cb/", "https://APP.example.com/cb",
		"https://app.example.com/cb?", "com.example.app:/oauth/", "HTTP://127.0.0.1/cb", "http://127.0.0.1",
	}
	for _, u := range ok {
		if c.matchRedirectURI(u) == "" {
			t.Errorf("%s refused", u)
		}
	}
	for _, u := range bad {
		if c.matchRedirectURI(u) != "" {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestResolveClientOrder(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"clients": `[
		{"client_id":"https://app.example.com/client.json","redirect_uris":["https://app.example.com/cb"]}]`})))
	resolve := func(id string) (*Client, *Error) {
		var c *Client
		var oe *Error
		o := h.e.resolveClient(id, func(cl *Client, e *Error) Outcome { c, oe = cl, e; return Reply{} })
		// A metadata document fetch fails: there is no network here.
		for {
			call, ok := o.(Call)
			if !ok {
				break
			}
			o = call.Resume(CallResult{Err: errInjected})
		}
		return c, oe
	}
	// A registry entry wins over fetching, even for an https URL (CIMD-01 §6.10).
	if c, oe := resolve("https://app.example.com/client.json"); oe != nil || c.Source != ClientPreRegistered {
		t.Errorf("pre-registered URL: %v %v", c, oe)
	}
	// An unknown URL goes to the CIMD resolver, and fails here.
	if _, oe := resolve("https://other.example.com/client.json"); oe == nil || oe.Code != ErrCodeInvalidClient {
		t.Errorf("CIMD hook: %v", oe)
	}
	for _, id := range []string{"", "nobody", "dcr.", "dcr.AAAA", "dcr." + strings.Repeat("A", maxClientIDLen)} {
		if c, oe := resolve(id); oe == nil || oe.Code != ErrCodeInvalidClient || c != nil {
			t.Errorf("%.20q: %v %v", id, c, oe)
		}
	}
}

func TestAllLoopback(t *testing.T) {
	if !(&Client{RedirectURIs: []string{"http://127.0.0.1/cb", "http://localhost:1/x"}}).allLoopback() {
		t.Errorf("loopback client not recognised")
	}
	if (&Client{RedirectURIs: []string{"http://127.0.0.1/cb", "https://a.example/cb"}}).allLoopback() {
		t.Errorf("mixed client counted as loopback")
	}
}
