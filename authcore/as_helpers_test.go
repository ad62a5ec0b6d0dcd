package authcore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test sealing secrets (32 bytes, base64url).
const (
	sealSecretA = "RwXHatZYY0oFf8MarH7BtUmd6ohDGxGAoF3POeyIhZM"
	sealSecretB = "t1usi_rbr2iK1Vby18l4hcNZcm5Hqro4wVV-d9dVsyg"
)

// Test clients of asConfig.
const (
	publicClient       = "ide"                          // public, one loopback redirect URI
	confidentialClient = "web-app"                      // secret, two https redirect URIs, refresh_token grant
	confidentialSecret = "correct horse battery staple" // its secret
	webRedirect        = "https://app.example.com/cb"
	loopbackRedirect   = "http://127.0.0.1/callback"
	testResource       = "https://mcp.example.com/mcp"
	testIssuer         = "https://mcp.example.com"
)

// asMembers are the top-level members of the standard AS test
// configuration: one resource with a rule scope, dev identity as "alice",
// registration on, two pre-registered clients.
func asMembers() map[string]string {
	return map[string]string{
		"resources": `[{"resource":"https://mcp.example.com/mcp","name":"Tools","scopes":["mcp:tools"],
			"rules":[{"method":"tools/call","name":"admin_*","scopes":["mcp:admin"]}]}]`,
		"authorization_server": `{
			"identity": {"mode": "dev", "dev": {"subject": "alice"}},
			"sealing_keys": [{"id": "s1", "secret": "` + sealSecretA + `"}],
			"registration": {"enabled": true, "rate_limit": 100},
			"clients": [
				{"client_id": "ide", "client_name": "The IDE", "redirect_uris": ["http://127.0.0.1/callback"]},
				{"client_id": "web-app", "client_name": "Web App", "client_secret": "correct horse battery staple",
				 "redirect_uris": ["https://app.example.com/cb", "https://app.example.com/cb2?x=1"],
				 "grant_types": ["authorization_code", "refresh_token"]}
			]
		}`,
	}
}

// asConfigJSON is the standard AS test configuration with members replaced
// (an empty string removes a member).
func asConfigJSON(over map[string]string) string {
	m := asMembers()
	for k, v := range over {
		m[k] = v
	}
	return cfgJSON(m)
}

// withAS replaces keys of the standard authorization_server object.
func withAS(over map[string]string) map[string]string {
	var as map[string]json.RawMessage
	if err := json.Unmarshal([]byte(asMembers()["authorization_server"]), &as); err != nil {
		panic(err)
	}
	for k, v := range over {
		if v == "" {
			delete(as, k)
		} else {
			as[k] = json.RawMessage(v)
		}
	}
	b, _ := json.Marshal(as)
	return map[string]string{"authorization_server": string(b)}
}

// harness drives an engine as a host would: it feeds bodies, answers calls
// and keeps a browser's cookies.
type harness struct {
	t     testing.TB
	e     *Engine
	clk   *fakeClock
	store *MemoryStore
	mu    sync.Mutex
	logs  []string
	// call answers outbound calls; when nil, every call fails as an
	// unreachable cluster would.
	call func(Call) CallResult
}

func newHarness(t testing.TB, cfgText string) *harness {
	t.Helper()
	cfg, err := ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h := &harness{t: t, clk: newFakeClock()}
	h.store = NewMemoryStore(h.clk.Now)
	h.e = h.engine(cfg, h.store)
	return h
}

// engine builds another engine on the same clock, e.g. to model a second
// VM sharing the store.
func (h *harness) engine(cfg *Config, s Store) *Engine {
	e, err := New(cfg, Options{Now: h.clk.Now, Store: s, Log: func(l LogLevel, msg string) {
		h.mu.Lock()
		h.logs = append(h.logs, msg)
		h.mu.Unlock()
	}})
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// run completes req against e with body, returning the final reply.
func (h *harness) run(e *Engine, req *Request, body []byte) Reply {
	o := e.Handle(req)
	for {
		switch x := o.(type) {
		case Reply:
			return x
		case ReadBody:
			if len(body) > x.Limit {
				return PayloadTooLarge(x.Limit)
			}
			req.Body = body
			o = x.Resume(body)
		case Call:
			if h.call == nil {
				// No network: every cluster is unreachable.
				o = x.Resume(CallResult{Err: errors.New("test: no network")})
				continue
			}
			o = x.Resume(h.call(x))
		case Forward:
			return Reply{Status: -1}
		default:
			h.t.Fatalf("outcome %T", o)
		}
	}
}

// browser is a cookie jar.
type browser struct{ cookies map[string]string }

func newBrowser() *browser { return &browser{cookies: map[string]string{}} }

func (b *browser) header() Header {
	if b == nil || len(b.cookies) == 0 {
		return nil
	}
	var parts []string
	for k, v := range b.cookies {
		parts = append(parts, k+"="+v)
	}
	return Header{{"cookie", strings.Join(parts, "; ")}}
}

func (b *browser) take(r Reply) {
	if b == nil {
		return
	}
	for _, sc := range r.Headers.Values("set-cookie") {
		kv, _, _ := strings.Cut(sc, ";")
		k, v, _ := strings.Cut(kv, "=")
		b.cookies[k] = v
	}
}

func (h *harness) get(b *browser, target string) Reply {
	req := &Request{Method: "GET", Scheme: "https", Authority: "mcp.example.com", Path: target, Headers: b.header(), Source: "192.0.2.1:5555"}
	r := h.run(h.e, req, nil)
	b.take(r)
	return r
}

func (h *harness) postForm(e *Engine, b *browser, path string, body string, extra ...[2]string) Reply {
	hd := Header{{"content-type", "application/x-www-form-urlencoded"}}
	hd = append(hd, b.header()...)
	hd = append(hd, extra...)
	req := &Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: path, Headers: hd, Source: "192.0.2.1:5555"}
	r := h.run(e, req, []byte(body))
	b.take(r)
	return r
}

// pkce returns a fresh verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	return verifier, pkceS256(verifier)
}

// authzQuery builds an authorization request for client with sensible
// defaults; over replaces (or with "" removes) parameters.
func authzQuery(client, redirect, challenge string, over map[string]string) string {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {client},
		"redirect_uri":          {redirect},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"state":                 {"st-123"},
		"resource":              {testResource},
		"scope":                 {"mcp:tools"},
	}
	for k, x := range over {
		if x == "" {
			v.Del(k)
		} else {
			v.Set(k, x)
		}
	}
	return "/oauth/authorize?" + v.Encode()
}

var (
	ticketRe = regexp.MustCompile(`name="ticket" value="([^"]+)"`)
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// consentFields extracts the hidden fields of a consent page.
func consentFields(t testing.TB, page Reply) (ticket, csrf string) {
	t.Helper()
	m1, m2 := ticketRe.FindSubmatch(page.Body), csrfRe.FindSubmatch(page.Body)
	if page.Status != 200 || m1 == nil || m2 == nil {
		t.Fatalf("not a consent page: %d %v\n%s", page.Status, page.Headers, page.Body)
	}
	return string(m1[1]), string(m2[1])
}

// answer posts the consent form of page.
func (h *harness) answer(b *browser, page Reply, action string) Reply {
	ticket, csrf := consentFields(h.t, page)
	return h.postForm(h.e, b, "/oauth/consent", url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {action}}.Encode())
}

// redirected checks that r is a redirect and returns its query, asserting
// that iss appears exactly once and equals the issuer (RFC 9207).
func redirected(t testing.TB, r Reply, status int) url.Values {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d redirect: %v\n%s", r.Status, status, r.Headers, r.Body)
	}
	loc := r.Headers.Get("location")
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("location %q: %v", loc, err)
	}
	q := u.Query()
	if len(q["iss"]) != 1 || q.Get("iss") != testIssuer {
		t.Fatalf("iss in %q: %q, want exactly once %q", loc, q["iss"], testIssuer)
	}
	return q
}

// errorPageOf checks that r is an HTML error page with no redirect.
func errorPageOf(t testing.TB, r Reply, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %v\n%s", r.Status, status, r.Headers, r.Body)
	}
	if r.Headers.Get("location") != "" {
		t.Fatalf("error page has a Location: %s", r.Headers.Get("location"))
	}
	if !strings.HasPrefix(r.Headers.Get("content-type"), "text/html") {
		t.Fatalf("error page content-type %q", r.Headers.Get("content-type"))
	}
	if !strings.Contains(r.Headers.Get("content-security-policy"), "frame-ancestors 'none'") {
		t.Fatalf("error page CSP %q", r.Headers.Get("content-security-policy"))
	}
}

// getCode runs /authorize and consent for client and returns the code and
// PKCE verifier.
func (h *harness) getCode(b *browser, client, redirect string, over map[string]string) (code, verifier string) {
	h.t.Helper()
	verifier, challenge := pkce()
	r := h.get(b, authzQuery(client, redirect, challenge, over))
	if r.Status == 200 {
		r = h.answer(b, r, "approve")
		q := redirected(h.t, r, 303)
		return q.Get("code"), verifier
	}
	q := redirected(h.t, r, 302)
	if q.Get("code") == "" {
		h.t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), verifier
}

// tokenReq posts a token request; basic, when set, is [id, secret].
func (h *harness) tokenReq(e *Engine, v url.Values, basic ...string) Reply {
	var extra [][2]string
	if len(basic) == 2 {
		cred := url.QueryEscape(basic[0]) + ":" + url.QueryEscape(basic[1])
		extra = append(extra, [2]string{"authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))})
	}
	return h.postForm(e, nil, "/oauth/token", v.Encode(), extra...)
}

// tokenOK decodes a successful token response.
func tokenOK(t testing.TB, r Reply) TokenResponse {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("token status %d: %s", r.Status, r.Body)
	}
	if r.Headers.Get("cache-control") != "no-store" || r.Headers.Get("pragma") != "no-cache" {
		t.Errorf("token response headers %v", r.Headers)
	}
	var tr TokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn <= 0 {
		t.Fatalf("token response %s", r.Body)
	}
	return tr
}

// oauthErr checks an OAuth JSON error reply.
func oauthErr(t testing.TB, r Reply, status int, code string) {
	t.Helper()
	var body struct{ Error string }
	_ = json.Unmarshal(r.Body, &body)
	if r.Status != status || body.Error != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

// exchange redeems a code of the public test client.
func (h *harness) exchange(code, verifier string) Reply {
	return h.tokenReq(h.e, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {publicClient}, "redirect_uri": {loopbackRedirect},
	})
}

// guardAllows reports whether the resource guard lets an access token
// through now.
func (h *harness) guardAllows(e *Engine, token string) bool {
	req := &Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: "/mcp",
		Headers: Header{{"authorization", "Bearer " + token}, {"content-type", "application/json"}}}
	r := h.run(e, req, []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	return r.Status == -1
}

func (h *harness) advance(d time.Duration) { h.clk.Advance(d) }

func jsonUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func urlEscape(s string) string { return url.QueryEscape(s) }
