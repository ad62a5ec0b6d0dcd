package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
)

// Identity mode "oidc" end to end: the user signs in at a real OpenID
// provider, built in the test from github.com/zitadel/oidc/v3/pkg/op with a
// small in-memory storage, on loopback. mcpgate reaches its token endpoint
// and JWKS by callout on the cluster "idp"; the browser (a cookie jar) goes
// to its authorization endpoint and login form.

// The OP's one user and mcpgate's one (confidential) client there.
const (
	opUserName     = "alice"
	opPassword     = "correct horse battery staple"
	opSubject      = "op-user-4b1d7e29" // the OP's subject for alice; mcpgate has no other way to learn it
	opEmail        = "alice@op.example"
	opClientID     = "mcpgate-gateway"
	opClientSecret = "gateway secret:at+the/OP%3A=0123456789" // form-encoded in Basic (RFC 6749 §2.3.1)
	opCluster      = "idp"
)

// oidcConfig is a gateway configuration template in identity mode oidc;
// startTarget replaces {{BASE}}, startOIDCTarget replaces the OP's URLs.
const oidcConfig = `{
  "issuer": "{{BASE}}",
  "resources": [{"resource": "{{BASE}}/mcp", "name": "Demo MCP server", "scopes": ["mcp:tools"]}],
  "keys": [{"kid": "oidc-e2e", "jwk": {"kty":"EC","crv":"P-256","x":"KeGUvIh9ybGVgIe4ifxoTNNTRSGAMd07DE573Ae4210","y":"fZFy_YVVDRfDMhZ9rardg-dYnPLK290l9roMg2hdb7w","d":"JhuDHSARCXBbv3Lpr2RJPImStCJPm8_lVvW7IMFq4i0"}}],
  "authorization_server": {
    "identity": {"mode": "oidc", "oidc": {
      "issuer": "{{OP_ISSUER}}",
      "cluster": "` + opCluster + `",
      "authorization_endpoint": "{{OP_AUTHORIZE}}",
      "token_endpoint": "{{OP_TOKEN}}",
      "jwks_uri": "{{OP_JWKS}}",
      "client_id": "` + opClientID + `",
      "client_secret": "` + opClientSecret + `",
      "scopes": ["openid", "email"]
    }},
    "sealing_keys": [{"id": "oidc-e2e-1", "secret": "S8BFaT19I-vcgFaC73sivKUJOld4MwgnZa5cZknJr5k"}],
    "clients": [{"client_id": "oidc-e2e-client", "client_name": "OIDC e2e client", "redirect_uris": ["http://127.0.0.1/callback"]}],
    "cookies": {"secure": false}
  }
}`

// oidcClientRedirect is where the MCP client (x/oauth2 here) listens; the
// test never connects to it, it reads the redirect.
const oidcClientRedirect = "http://127.0.0.1:50321/callback"

// TestOIDCLogin drives identity mode oidc for both kinds of target: MCP
// client /authorize -> the OP's authorization endpoint -> its login form ->
// back to mcpgate's callback (code exchange and ID token verification by
// callouts) -> consent page -> code -> token exchange with x/oauth2 and
// PKCE -> tools/list on the demo MCP server. The access token and the
// identity header carry the OP's subject. Then the refusals, each an error
// page and never a redirect: a replayed callback, a tampered state, a
// callback without (or with another) browser cookie, an unexpected iss,
// access_denied from the OP, an ID token with the wrong nonce.
func TestOIDCLogin(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		began := time.Now()
		defer func() { t.Logf("%s: %s", kind, time.Since(began).Round(time.Millisecond)) }()
		idp := startTestOP(t)
		tg := startOIDCTarget(t, kind, idp)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		t.Run("login-consent-token-call", func(t *testing.T) {
			b := newOIDCBrowser(t)
			conf, verifier, authURL := oidcAuthURL(tg, "st-ok")
			cb := b.loginAtOP(tg, idp, authURL)
			before := idp.hits()
			consent := b.get(cb.String())
			if consent.status != 200 || !strings.Contains(consent.body, `value="approve"`) {
				t.Fatalf("callback: %d, want the consent page:\n%s", consent.status, consent.body)
			}
			// mcpgate redeemed the upstream code and fetched the JWKS, by callout.
			after := idp.hits()
			if after["POST /oauth/token"]-before["POST /oauth/token"] != 1 || after["GET /keys"] < 1 {
				t.Errorf("OP requests during the callback: before %v, after %v", before, after)
			}
			if !strings.Contains(consent.body, html.EscapeString(opSubject)) {
				t.Errorf("consent page does not name the signed-in user %q:\n%s", opSubject, consent.body)
			}
			loc := b.submitConsent(consent, "approve")
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), oidcClientRedirect+"?") || q.Get("state") != "st-ok" || q.Get("iss") != tg.base || q.Get("code") == "" {
				t.Fatalf("authorization response %s", loc)
			}
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
			if err != nil {
				t.Fatalf("token exchange: %v", err)
			}
			claims := jwtClaims(t, tok.AccessToken)
			if claims["sub"] != opSubject || claims["client_id"] != "oidc-e2e-client" || claims["iss"] != tg.base {
				t.Errorf("access token claims %v: want sub %q from the OP", claims, opSubject)
			}

			tg.demo.Main.ResetSeen()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "oidc-e2e", Version: "1"}, nil).
				Connect(ctx, &mcp.StreamableClientTransport{
					Endpoint: tg.base + "/mcp", HTTPClient: conf.Client(ctx, tok),
					// Requests and responses only: no standalone SSE stream
					// to linger past the test.
					DisableStandaloneSSE: true,
				}, nil)
			if err != nil {
				t.Fatalf("MCP connect with the token: %v", err)
			}
			defer cs.Close()
			tools, err := cs.ListTools(ctx, nil)
			if err != nil || len(tools.Tools) == 0 {
				t.Fatalf("tools/list: %v %+v", err, tools)
			}
			seen := tg.demo.Main.Seen()
			if len(seen) == 0 {
				t.Fatal("the demo MCP server saw no request")
			}
			for _, r := range seen {
				if got := r.Header.Get("X-Mcpgate-Subject"); got != opSubject {
					t.Errorf("%s %s reached the MCP server with x-mcpgate-subject %q, want %q", r.Method, r.Path, got, opSubject)
				}
				if r.Header.Get("Authorization") != "" {
					t.Errorf("the MCP server received the client's token")
				}
			}

			// The callback URL is single-use (MCP 2026-07-28 Security Best Practices, "Confused Deputy Problem"): replaying it
			// (same browser, same cookie) gets an error page, never a second
			// consent page or code, and the provider is not called again.
			spent := idp.hits()["POST /oauth/token"]
			replay := b.get(cb.String())
			assertErrorPage(t, "replayed callback", replay, 400)
			if idp.hits()["POST /oauth/token"] != spent {
				t.Error("mcpgate redeemed the upstream code of a replayed callback")
			}
		})

		t.Run("tampered-state", func(t *testing.T) {
			b := newOIDCBrowser(t)
			_, _, authURL := oidcAuthURL(tg, "st-tamper")
			cb := b.loginAtOP(tg, idp, authURL)
			q := cb.Query()
			st := []byte(q.Get("state"))
			i := len(st) / 2
			if st[i] == 'A' {
				st[i] = 'B'
			} else {
				st[i] = 'A'
			}
			q.Set("state", string(st))
			cb.RawQuery = q.Encode()
			before := idp.hits()["POST /oauth/token"]
			res := b.get(cb.String())
			assertErrorPage(t, "tampered state", res, 400)
			if idp.hits()["POST /oauth/token"] != before {
				t.Error("mcpgate redeemed the upstream code of a callback with a tampered state")
			}
		})

		t.Run("callback-without-browser-cookie", func(t *testing.T) {
			b := newOIDCBrowser(t)
			_, _, authURL := oidcAuthURL(tg, "st-nocookie")
			cb := b.loginAtOP(tg, idp, authURL)
			before := idp.hits()["POST /oauth/token"]
			// The same URL from a client that has no cookie at all...
			bare := newOIDCBrowser(t)
			assertErrorPage(t, "callback without the browser cookie", bare.get(cb.String()), 403)
			// ...and from another browser, which has a browser cookie of its
			// own (it started an authorization too): the login was bound to
			// the first browser.
			other := newOIDCBrowser(t)
			if res := other.get(authURL); res.status != 302 || other.cookie(tg.base, "mcpgate-browser") == "" {
				t.Fatalf("second browser's /authorize: %d, cookies %q", res.status, other.jar.Cookies(mustURL(t, tg.base)))
			}
			assertErrorPage(t, "callback with another browser's cookie", other.get(cb.String()), 403)
			if idp.hits()["POST /oauth/token"] != before {
				t.Error("mcpgate redeemed the upstream code for the wrong browser")
			}
			// The browser that started the login can still finish: nothing was
			// consumed. (When the first subtest ran, the consent is remembered
			// and the callback goes straight back to the client with a code.)
			res := b.get(cb.String())
			if res.status == 200 && strings.Contains(res.body, `value="approve"`) {
				res = &oidcPage{status: http.StatusFound, location: b.submitConsent(res, "approve")}
			}
			if res.status != http.StatusFound || res.location == nil || res.location.Query().Get("code") == "" || res.location.Query().Get("state") != "st-nocookie" {
				t.Errorf("the browser that started the login: %d %v\n%s", res.status, res.location, res.body)
			}
		})

		t.Run("unexpected-iss", func(t *testing.T) {
			b := newOIDCBrowser(t)
			_, _, authURL := oidcAuthURL(tg, "st-iss")
			cb := b.loginAtOP(tg, idp, authURL)
			q := cb.Query()
			q.Set("iss", "http://127.0.0.1:9/evil")
			cb.RawQuery = q.Encode()
			before := idp.hits()["POST /oauth/token"]
			assertErrorPage(t, "callback with another iss", b.get(cb.String()), 400)
			if idp.hits()["POST /oauth/token"] != before {
				t.Error("mcpgate redeemed the upstream code of a response from another issuer")
			}
		})

		t.Run("replayed-callback-lenient-op", func(t *testing.T) {
			// The upstream state is single-use (MCP Security Best Practices). With a provider
			// that lets a code be redeemed twice, only mcpgate can refuse a
			// second use of the same callback URL.
			idp.store.setReusableCodes(true)
			defer idp.store.setReusableCodes(false)
			b := newOIDCBrowser(t)
			_, _, authURL := oidcAuthURL(tg, "st-replay")
			cb := b.loginAtOP(tg, idp, authURL)
			if first := b.get(cb.String()); first.status >= 400 {
				t.Fatalf("first use of the callback: %d\n%s", first.status, first.body)
			}
			replay := b.get(cb.String())
			if replay.status < 400 || replay.location != nil {
				t.Errorf("second use of the same callback URL: %d %v, want an error page", replay.status, replay.location)
			}
		})

		t.Run("user-cancels-at-op", func(t *testing.T) {
			// The provider answers access_denied. The user is not signed
			// in, so mcpgate shows a page and does not redirect
			// (OAuth 2.1 §7.12.2: authenticate the user before redirecting).
			b := newOIDCBrowser(t)
			_, _, authURL := oidcAuthURL(tg, "st-cancel")
			login, upstreamState := b.openOPLogin(tg, idp, authURL)
			p := b.submitForm(login, url.Values{"cancel": {"1"}})
			if p.status != http.StatusFound || p.location == nil || !strings.HasPrefix(p.location.String(), tg.base+"/oauth/callback?") ||
				p.location.Query().Get("error") != "access_denied" || p.location.Query().Get("state") != upstreamState {
				t.Fatalf("OP's answer to cancel: %d %v\n%s", p.status, p.location, p.body)
			}
			before := idp.hits()["POST /oauth/token"]
			assertErrorPage(t, "access_denied from the OP", b.get(p.location.String()), 403)
			if idp.hits()["POST /oauth/token"] != before {
				t.Error("mcpgate called the token endpoint after an error response")
			}
		})

		t.Run("wrong-nonce", func(t *testing.T) {
			// The OP signs a genuine ID token, but with a nonce that is not
			// the one mcpgate sent (as if the token came from another login).
			idp.store.setTamperNonce(true)
			defer idp.store.setTamperNonce(false)
			b := newOIDCBrowser(t)
			_, _, authURL := oidcAuthURL(tg, "st-nonce")
			cb := b.loginAtOP(tg, idp, authURL)
			before := idp.hits()["POST /oauth/token"]
			res := b.get(cb.String())
			assertErrorPage(t, "ID token with the wrong nonce", res, 403)
			if idp.hits()["POST /oauth/token"] != before+1 {
				t.Errorf("the code was not redeemed: the nonce check was not reached")
			}
		})
	})
}

// startOIDCTarget starts a gateway of the given kind in identity mode oidc
// against idp, and registers the gateway's callback at the OP.
func startOIDCTarget(t *testing.T, kind string, idp *testOP) *target {
	t.Helper()
	return startOIDCTargetWith(t, kind, idp, oidcConfig)
}

// startOIDCTargetWith is startOIDCTarget with another configuration
// template ({{OP_USERINFO}} names the OP's UserInfo endpoint).
func startOIDCTargetWith(t *testing.T, kind string, idp *testOP, template string) *target {
	t.Helper()
	// The provider's own discovery document fills the configuration.
	var disco struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
	}
	res, err := http.Get(idp.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(res.Body).Decode(&disco)
	res.Body.Close()
	if err != nil || disco.Issuer != idp.issuer || disco.TokenEndpoint == "" || disco.JWKSURI == "" || disco.AuthorizationEndpoint == "" {
		t.Fatalf("OP discovery document %+v: %v", disco, err)
	}
	cfg := strings.NewReplacer(
		"{{OP_ISSUER}}", disco.Issuer,
		"{{OP_AUTHORIZE}}", disco.AuthorizationEndpoint,
		"{{OP_TOKEN}}", disco.TokenEndpoint,
		"{{OP_JWKS}}", disco.JWKSURI,
		"{{OP_USERINFO}}", disco.UserinfoEndpoint,
	).Replace(template)
	tg := startTarget(t, kind, cfg, targetOptions{clusters: map[string]string{opCluster: idp.issuer}})
	idp.store.setRedirectURIs(tg.base + "/oauth/callback")
	return tg
}

// oidcAuthURL returns an authorization request of the pre-registered client
// with PKCE and resource, built by golang.org/x/oauth2.
func oidcAuthURL(tg *target, state string) (*oauth2.Config, string, string) {
	conf := &oauth2.Config{
		ClientID:    "oidc-e2e-client",
		Endpoint:    oauth2.Endpoint{AuthURL: tg.base + "/oauth/authorize", TokenURL: tg.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: oidcClientRedirect,
		Scopes:      []string{"mcp:tools"},
	}
	verifier := oauth2.GenerateVerifier()
	return conf, verifier, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
}

func assertErrorPage(t *testing.T, what string, p *oidcPage, status int) {
	t.Helper()
	if p.status != status || p.location != nil {
		t.Errorf("%s: %d (Location %v), want the %d error page, no redirect:\n%s", what, p.status, p.location, status, p.body)
		return
	}
	if strings.Contains(p.body, `value="approve"`) {
		t.Errorf("%s: a consent page was shown", what)
	}
}

// jwtClaims decodes (without verifying) a JWT's claims.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// --- the browser ---------------------------------------------------------

// oidcBrowser is a cookie-keeping HTTP client that follows no redirect by
// itself, so that the test sees (and may tamper with) every hop.
type oidcBrowser struct {
	t      *testing.T
	jar    *cookiejar.Jar
	client *http.Client
}

// oidcPage is one HTTP response as the browser got it.
type oidcPage struct {
	url      *url.URL
	status   int
	location *url.URL
	body     string
}

func newOIDCBrowser(t *testing.T) *oidcBrowser {
	jar, _ := cookiejar.New(nil)
	return &oidcBrowser{t: t, jar: jar, client: &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *oidcBrowser) do(req *http.Request) *oidcPage {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	p := &oidcPage{url: req.URL, status: res.StatusCode, body: string(body)}
	if l := res.Header.Get("Location"); l != "" {
		loc, err := req.URL.Parse(l)
		if err != nil {
			b.t.Fatalf("%s %s: bad Location %q", req.Method, req.URL, l)
		}
		p.location = loc
	}
	return p
}

func (b *oidcBrowser) get(u string) *oidcPage {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *oidcBrowser) post(u string, form url.Values) *oidcPage {
	b.t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *oidcBrowser) cookie(base, name string) string {
	u, _ := url.Parse(base)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var (
	oidcFormAction = regexp.MustCompile(`<form[^>]* action="([^"]*)"`)
	oidcHidden     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submitForm posts the page's (first) form with its hidden inputs plus
// fields, resolving the action against the page URL.
func (b *oidcBrowser) submitForm(p *oidcPage, fields url.Values) *oidcPage {
	b.t.Helper()
	m := oidcFormAction.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no form on %s (%d):\n%s", p.url, p.status, p.body)
	}
	action, err := p.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		b.t.Fatal(err)
	}
	form := url.Values{}
	for _, h := range oidcHidden.FindAllStringSubmatch(p.body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	return b.post(action.String(), form)
}

// submitConsent answers a consent page and returns the redirect to the
// client.
func (b *oidcBrowser) submitConsent(p *oidcPage, action string) *url.URL {
	b.t.Helper()
	res := b.submitForm(p, url.Values{"action": {action}})
	if res.status != http.StatusSeeOther || res.location == nil {
		b.t.Fatalf("consent %s: %d\n%s", action, res.status, res.body)
	}
	return res.location
}

// loginAtOP opens authURL at mcpgate, follows it to the OP, signs in there
// with the login form, and returns mcpgate's callback URL the OP redirects
// to, without visiting it.
func (b *oidcBrowser) loginAtOP(tg *target, idp *testOP, authURL string) *url.URL {
	t := b.t
	t.Helper()
	login, upstreamState := b.openOPLogin(tg, idp, authURL)
	// A wrong password keeps the user at the OP.
	if p := b.submitForm(login, url.Values{"username": {opUserName}, "password": {"wrong"}}); p.status != http.StatusUnauthorized || p.location != nil {
		t.Fatalf("OP accepted a wrong password: %d %v", p.status, p.location)
	}
	p := b.submitForm(login, url.Values{"username": {opUserName}, "password": {opPassword}})
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("OP login: %d\n%s", p.status, p.body)
	}
	p = b.get(p.location.String()) // the OP's authorize callback issues the code
	if p.status != http.StatusFound || p.location == nil || !strings.HasPrefix(p.location.String(), tg.base+"/oauth/callback?") {
		t.Fatalf("OP authorization response: %d %v\n%s", p.status, p.location, p.body)
	}
	if p.location.Query().Get("code") == "" || p.location.Query().Get("state") != upstreamState {
		t.Fatalf("OP authorization response %s", p.location)
	}
	return p.location
}

// openOPLogin opens authURL at mcpgate, checks the redirect to the OP,
// follows it to the OP's login page and returns that page and the upstream
// state mcpgate sent.
func (b *oidcBrowser) openOPLogin(tg *target, idp *testOP, authURL string) (*oidcPage, string) {
	t := b.t
	t.Helper()
	p := b.get(authURL)
	if p.status != http.StatusFound || p.location == nil || !strings.HasPrefix(p.location.String(), idp.issuer+"/authorize?") {
		t.Fatalf("mcpgate /authorize: %d %v, want a redirect to the OP\n%s", p.status, p.location, p.body)
	}
	if b.cookie(tg.base, "mcpgate-browser") == "" {
		t.Fatalf("mcpgate set no browser cookie before the upstream login")
	}
	q := p.location.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": opClientID, "redirect_uri": tg.base + "/oauth/callback",
		"scope": "openid email", "code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("upstream authorization request %s=%q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("upstream authorization request lacks %s", k)
		}
	}
	// The OP validates the request and sends the browser to its login page.
	p = b.get(p.location.String())
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("OP /authorize: %d\n%s", p.status, p.body)
	}
	login := b.get(p.location.String())
	if login.status != 200 || !strings.Contains(login.body, `name="password"`) {
		t.Fatalf("OP login page: %d\n%s", login.status, login.body)
	}
	return login, q.Get("state")
}

// --- the OpenID provider -------------------------------------------------

// testOP is a github.com/zitadel/oidc/v3 OpenID provider on loopback http,
// with a login page of its own.
type testOP struct {
	issuer string
	store  *opStorage
	// close stops the provider (it is also stopped at the test's end).
	close func()
	// provider creates tokens as its token endpoint does (op.CreateAccessToken).
	provider *op.Provider

	mu   sync.Mutex
	seen map[string]int // "METHOD path" -> count
}

// hits returns a copy of the request counts by "METHOD path".
func (o *testOP) hits() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.seen))
	for k, v := range o.seen {
		out[k] = v
	}
	return out
}

var (
	opKeyOnce sync.Once
	opKey     *rsa.PrivateKey
	opKeyErr  error
)

func startTestOP(t *testing.T) *testOP {
	t.Helper()
	opKeyOnce.Do(func() { opKey, opKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if opKeyErr != nil {
		t.Fatal(opKeyErr)
	}
	store := &opStorage{
		key:      opKey,
		keyID:    "op-rs256-1",
		requests: map[string]*opAuthRequest{},
		codes:    map[string]string{},
		tokens:   map[string]opToken{},
	}
	return serveOP(t, store, store, []string{"openid", "email"})
}

// serveOP serves an OpenID provider backed by storage (inner is the
// opStorage it builds on, for the login page) on loopback http.
func serveOP(t testing.TB, storage op.Storage, store *opStorage, scopes []string) *testOP {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	conf := &op.Config{CodeMethodS256: true, SupportedScopes: scopes}
	if _, err := rand.Read(conf.CryptoKey[:]); err != nil {
		t.Fatal(err)
	}
	provider, err := op.NewProvider(conf, storage, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatalf("OpenID provider: %v", err)
	}
	o := &testOP{issuer: issuer, store: store, seen: map[string]int{}, close: srv.Close, provider: provider}
	mux := http.NewServeMux()
	mux.Handle("/login", &opLogin{store: store, callback: func(ctx context.Context, id string) string {
		return op.AuthCallbackURL(provider)(op.ContextWithIssuer(ctx, issuer), id)
	}, deny: func(w http.ResponseWriter, r *http.Request, ar op.AuthRequest, err error) {
		op.AuthRequestError(w, r.WithContext(op.ContextWithIssuer(r.Context(), issuer)), ar, err, provider)
	}})
	mux.Handle("/", provider)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen[r.Method+" "+r.URL.Path]++
		o.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return o
}

// opLogin is the OP's login page: a username and password form; on
// success the auth request is marked done and the browser goes back to the
// provider's authorize callback, which issues the code.
type opLogin struct {
	store    *opStorage
	callback func(ctx context.Context, authRequestID string) string
	// deny answers the auth request with an error, the provider's way.
	deny func(w http.ResponseWriter, r *http.Request, ar op.AuthRequest, err error)
}

var opLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Test OP: sign in</title></head>
<body><h1>Sign in to the test OpenID provider</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<label>User <input name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
<button type="submit" name="cancel" value="1">Cancel</button>
</form></body></html>
`))

func (l *opLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Form.Get("id")
	ar, err := l.store.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		_ = opLoginPage.Execute(w, struct{ ID, Error string }{id, ""})
	case http.MethodPost:
		if r.PostForm.Get("cancel") != "" {
			l.deny(w, r, ar, oidc.ErrAccessDenied().WithDescription("the user cancelled the sign-in"))
			return
		}
		if r.PostForm.Get("username") != opUserName || r.PostForm.Get("password") != opPassword {
			w.WriteHeader(http.StatusUnauthorized)
			_ = opLoginPage.Execute(w, struct{ ID, Error string }{id, "Wrong user name or password."})
			return
		}
		if err := l.store.completeLogin(id, opSubject); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// opStorage is a minimal in-memory op.Storage: one user, one confidential
// web client (mcpgate), the authorization code flow with PKCE, one RS256
// signing key.
type opStorage struct {
	key   *rsa.PrivateKey
	keyID string

	mu           sync.Mutex
	redirectURIs []string
	requests     map[string]*opAuthRequest // by id
	codes        map[string]string         // code -> auth request id
	tokens       map[string]opToken        // access token id -> token
	tamperNonce  bool
	// reusableCodes keeps codes valid after redemption, like a provider
	// that does not enforce single use (RFC 6749 §4.1.2 says it MUST).
	reusableCodes bool
	// groups, when not nil, is the user's "groups" claim, in the ID token
	// and at the UserInfo endpoint.
	groups []string
}

func (s *opStorage) setGroups(groups ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = append([]string{}, groups...)
}

type opToken struct {
	subject, clientID string
	scopes            []string
	exp               time.Time
}

var errOPNotFound = errors.New("not found")

func (s *opStorage) setRedirectURIs(uris ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirectURIs = uris
}

func (s *opStorage) setTamperNonce(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tamperNonce = on
}

func (s *opStorage) setReusableCodes(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reusableCodes = on
}

func (s *opStorage) completeLogin(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests[id]
	if r == nil {
		return errOPNotFound
	}
	r.subject, r.done, r.authTime = subject, true, time.Now()
	return nil
}

func (s *opStorage) CreateAuthRequest(_ context.Context, ar *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &opAuthRequest{
		id:           rand.Text(),
		clientID:     ar.ClientID,
		redirectURI:  ar.RedirectURI,
		scopes:       ar.Scopes,
		state:        ar.State,
		nonce:        ar.Nonce,
		responseType: ar.ResponseType,
		responseMode: ar.ResponseMode,
		created:      time.Now(),
	}
	if s.tamperNonce {
		r.nonce = "not-" + ar.Nonce
	}
	if ar.CodeChallenge != "" {
		r.challenge = &oidc.CodeChallenge{Challenge: ar.CodeChallenge, Method: ar.CodeChallengeMethod}
	}
	s.requests[r.id] = r
	return r, nil
}

func (s *opStorage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests[id]
	if r == nil || time.Since(r.created) > 10*time.Minute {
		return nil, errOPNotFound
	}
	return r, nil
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errOPNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *opStorage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs when the code is redeemed: the code dies with it.
func (s *opStorage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reusableCodes {
		return nil
	}
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *opStorage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, exp := rand.Text(), time.Now().Add(5*time.Minute)
	clientID := ""
	if ar, ok := req.(op.AuthRequest); ok {
		clientID = ar.GetClientID()
	}
	s.tokens[id] = opToken{subject: req.GetSubject(), clientID: clientID, scopes: req.GetScopes(), exp: exp}
	return id, exp, nil
}

func (s *opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not issued by the test OP")
}

func (s *opStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *opStorage) TerminateSession(context.Context, string, string) error { return nil }

func (s *opStorage) RevokeToken(_ context.Context, tokenOrID, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tokenOrID)
	return nil
}

func (s *opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *opStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return opSigningKey{id: s.keyID, key: s.key}, nil
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{opPublicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

func (s *opStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != opClientID {
		return nil, errOPNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &opClient{redirectURIs: append([]string(nil), s.redirectURIs...)}, nil
}

func (s *opStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != opClientID || secret != opClientSecret {
		return errors.New("wrong client credentials")
	}
	return nil
}

// SetUserinfoFromScopes fills the ID token's user claims: sub always, email
// with the email scope.
func (s *opStorage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, userID, _ string, scopes []string) error {
	info.Subject = userID
	for _, sc := range scopes {
		if sc == oidc.ScopeEmail && userID == opSubject {
			info.Email, info.EmailVerified = opEmail, true
		}
	}
	s.mu.Lock()
	groups := s.groups
	s.mu.Unlock()
	if groups != nil && userID == opSubject {
		info.AppendClaims("groups", groups)
	}
	return nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	tok, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(tok.exp) || tok.subject != subject {
		return errOPNotFound
	}
	return s.SetUserinfoFromScopes(ctx, info, subject, tok.clientID, tok.scopes)
}

func (s *opStorage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported by the test OP")
}

func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errOPNotFound
}

func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported by the test OP")
}

func (s *opStorage) Health(context.Context) error { return nil }

// opAuthRequest is one pending authorization at the OP.
type opAuthRequest struct {
	id, clientID, redirectURI string
	scopes                    []string
	state, nonce              string
	responseType              oidc.ResponseType
	responseMode              oidc.ResponseMode
	challenge                 *oidc.CodeChallenge
	created                   time.Time

	subject  string
	done     bool
	authTime time.Time
}

func (r *opAuthRequest) GetID() string                         { return r.id }
func (r *opAuthRequest) GetACR() string                        { return "" }
func (r *opAuthRequest) GetAMR() []string                      { return []string{"pwd"} }
func (r *opAuthRequest) GetAudience() []string                 { return []string{r.clientID} }
func (r *opAuthRequest) GetAuthTime() time.Time                { return r.authTime }
func (r *opAuthRequest) GetClientID() string                   { return r.clientID }
func (r *opAuthRequest) GetCodeChallenge() *oidc.CodeChallenge { return r.challenge }
func (r *opAuthRequest) GetNonce() string                      { return r.nonce }
func (r *opAuthRequest) GetRedirectURI() string                { return r.redirectURI }
func (r *opAuthRequest) GetResponseType() oidc.ResponseType    { return r.responseType }
func (r *opAuthRequest) GetResponseMode() oidc.ResponseMode    { return r.responseMode }
func (r *opAuthRequest) GetScopes() []string                   { return r.scopes }
func (r *opAuthRequest) GetState() string                      { return r.state }
func (r *opAuthRequest) GetSubject() string                    { return r.subject }
func (r *opAuthRequest) Done() bool                            { return r.done }

// opClient is mcpgate's client at the OP: confidential (web),
// client_secret_basic, code flow only.
type opClient struct{ redirectURIs []string }

func (c *opClient) GetID() string                       { return opClientID }
func (c *opClient) RedirectURIs() []string              { return c.redirectURIs }
func (c *opClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *opClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *opClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *opClient) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *opClient) LoginURL(id string) string           { return "/login?id=" + url.QueryEscape(id) }
func (c *opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *opClient) IDTokenLifetime() time.Duration      { return 5 * time.Minute }
func (c *opClient) DevMode() bool                       { return false }
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) IsScopeAllowed(string) bool           { return false }
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *opClient) ClockSkew() time.Duration             { return 0 }

type opSigningKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k opSigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k opSigningKey) Key() any                                    { return k.key }
func (k opSigningKey) ID() string                                  { return k.id }

type opPublicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k opPublicKey) ID() string                         { return k.id }
func (k opPublicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k opPublicKey) Use() string                        { return "sig" }
func (k opPublicKey) Key() any                           { return k.key }

var _ op.Storage = (*opStorage)(nil)

// String helps failure messages.
func (p *oidcPage) String() string { return fmt.Sprintf("%d %v", p.status, p.location) }
