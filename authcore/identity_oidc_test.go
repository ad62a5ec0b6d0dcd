package authcore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	idpKeysOnce sync.Once
	idpRSA      *rsa.PrivateKey
	idpEC       *ecdsa.PrivateKey
)

func idpKeys() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	idpKeysOnce.Do(func() {
		idpRSA, _ = rsa.GenerateKey(rand.Reader, 2048)
		idpEC, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	return idpRSA, idpEC
}

const idpIssuer = "https://idp.example.com"

func oidcAS() map[string]string {
	return withAS(map[string]string{"identity": `{"mode":"oidc","oidc":{
		"issuer":"https://idp.example.com","cluster":"idp",
		"authorization_endpoint":"https://idp.example.com/authorize",
		"token_endpoint":"https://idp.example.com/oauth/token?x=1",
		"jwks_uri":"https://keys.example.com/jwks.json",
		"client_id":"mcpgate","client_secret":"upstream secret!",
		"scopes":["openid","email"],"subject_claim":"email"}}`})
}

// fakeIdP answers mcpgate's calls as an OpenID provider would.
type fakeIdP struct {
	t         *testing.T
	alg       string // RS256 or ES256
	kid       string
	nonce     string
	challenge string
	// claims overrides the ID token claims (nil value removes one).
	claims      map[string]any
	header      map[string]any
	tokenStatus int
	tokenBody   string
	tamper      bool
	jwksCalls   int
	tokenCalls  int
	jwksKids    []string
}

func newIdP(t *testing.T, alg string) *fakeIdP {
	return &fakeIdP{t: t, alg: alg, kid: "k-" + alg, jwksKids: []string{"k-RS256", "k-ES256"}}
}

func (p *fakeIdP) call(c Call) CallResult {
	t := p.t
	if c.Cluster != "idp" {
		t.Fatalf("call on cluster %q", c.Cluster)
	}
	switch {
	case c.Path == "/jwks.json" && c.Authority == "keys.example.com" && c.Method == "GET":
		p.jwksCalls++
		return CallResult{Status: 200, Body: p.jwks()}
	case c.Path == "/oauth/token?x=1" && c.Authority == "idp.example.com" && c.Method == "POST":
		p.tokenCalls++
		if c.Headers.Get("authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("mcpgate:upstream+secret%21")) {
			t.Errorf("upstream client authentication %q", c.Headers.Get("authorization"))
		}
		f, err := parseForm(string(c.Body))
		if err != nil || f["grant_type"] != "authorization_code" || f["code"] != "up-code" || f["redirect_uri"] != "https://mcp.example.com/oauth/callback" {
			t.Errorf("token request %s", c.Body)
		}
		if pkceS256(f["code_verifier"]) != p.challenge {
			t.Errorf("upstream PKCE verifier does not match the challenge")
		}
		if p.tokenStatus != 0 {
			return CallResult{Status: p.tokenStatus, Body: []byte(p.tokenBody)}
		}
		if p.tokenBody != "" {
			return CallResult{Status: 200, Body: []byte(p.tokenBody)}
		}
		body, _ := json.Marshal(map[string]any{"access_token": "up-at", "token_type": "Bearer", "id_token": p.idToken()})
		return CallResult{Status: 200, Body: body}
	}
	t.Fatalf("unexpected call %s %s%s", c.Method, c.Authority, c.Path)
	return CallResult{}
}

func (p *fakeIdP) jwks() []byte {
	rk, ek := idpKeys()
	var keys []map[string]any
	for _, kid := range p.jwksKids {
		switch {
		case strings.Contains(kid, "RS256"):
			keys = append(keys, map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
				"n": b64.EncodeToString(rk.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(rk.E)).Bytes())})
		case strings.Contains(kid, "ES256"):
			raw, _ := ek.PublicKey.Bytes()
			keys = append(keys, map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
				"x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])})
		}
	}
	// An encryption key and an unknown key type are skipped.
	keys = append(keys, map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func (p *fakeIdP) idToken() string {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) // the fake clock's start
	claims := map[string]any{"iss": idpIssuer, "sub": "u-123", "aud": "mcpgate", "email": "ann@example.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": p.nonce}
	for k, v := range p.claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	hdr := map[string]any{"alg": p.alg, "kid": p.kid, "typ": "JWT"}
	for k, v := range p.header {
		hdr[k] = v
	}
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	signed := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	h := sha256.Sum256([]byte(signed))
	rk, ek := idpKeys()
	var sig []byte
	switch p.alg {
	case "RS256":
		sig, _ = rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, h[:])
	case "ES256":
		r, s, _ := ecdsa.Sign(rand.Reader, ek, h[:])
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		sig = []byte("x")
	}
	if p.tamper {
		sig[0] ^= 1
	}
	return signed + "." + b64.EncodeToString(sig)
}

// login runs /authorize up to the upstream redirect and returns the
// callback URL the provider would send the browser to, and the client's
// PKCE verifier.
func (h *harness) login(b *browser, p *fakeIdP, client, redirect string, over map[string]string) (callback, verifier string) {
	h.t.Helper()
	verifier, ch := pkce()
	r := h.get(b, authzQuery(client, redirect, ch, over))
	if r.Status != 302 {
		h.t.Fatalf("authorize: %d %s", r.Status, r.Body)
	}
	u, _ := url.Parse(r.Headers.Get("location"))
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != "https://idp.example.com/authorize" || q.Get("response_type") != "code" ||
		q.Get("client_id") != "mcpgate" || q.Get("redirect_uri") != "https://mcp.example.com/oauth/callback" ||
		q.Get("scope") != "openid email" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		h.t.Fatalf("upstream authorize URL %s", u)
	}
	p.nonce, p.challenge = q.Get("nonce"), q.Get("code_challenge")
	return "/oauth/callback?" + url.Values{"code": {"up-code"}, "state": {q.Get("state")}, "iss": {idpIssuer}}.Encode(), verifier
}

func TestOIDCLogin(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			h := newHarness(t, asConfigJSON(oidcAS()))
			p := newIdP(t, alg)
			h.call = p.call
			b := newBrowser()
			cb, verifier := h.login(b, p, publicClient, loopbackRedirect, nil)
			if len(b.cookies) != 1 {
				t.Fatalf("no browser cookie set before the upstream redirect")
			}
			page := h.get(b, cb)
			if page.Status != 200 || !strings.Contains(string(page.Body), "ann@example.com") {
				t.Fatalf("consent after login: %d %s", page.Status, page.Body)
			}
			q := redirected(t, h.answer(b, page, "approve"), 303)
			tr := tokenOK(t, h.exchange(q.Get("code"), verifier))
			if sub := claimsOf(t, h.e, tr.AccessToken).Subject; sub != "ann@example.com" {
				t.Errorf("subject %q", sub)
			}
			// A second login uses the cached JWKS.
			cb, _ = h.login(b, p, publicClient, loopbackRedirect, nil)
			if r := h.get(b, cb); r.Status != 302 || p.jwksCalls != 1 || p.tokenCalls != 2 {
				t.Errorf("second login: status %d, %d JWKS fetches, %d token calls", r.Status, p.jwksCalls, p.tokenCalls)
			}
		})
	}
}

// TestOIDCKeyRotation: an unknown kid refetches the JWKS, at most every
// jwksMinRefetch.
func TestOIDCKeyRotation(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"consent": `{"remember":"0s"}`, "identity": asIdentity(oidcAS())})))
	p := newIdP(t, "RS256")
	h.call = p.call
	b := newBrowser()
	cb, _ := h.login(b, p, publicClient, loopbackRedirect, nil)
	if r := h.get(b, cb); r.Status != 200 {
		t.Fatalf("first login %d", r.Status)
	}
	// The provider rotates to a new kid: refused until the refetch interval passed.
	p.kid, p.jwksKids = "k-RS256-new", []string{"k-RS256-new"}
	cb, _ = h.login(b, p, publicClient, loopbackRedirect, nil)
	errorPageOf(t, h.get(b, cb), 403)
	h.advance(jwksMinRefetch)
	cb, _ = h.login(b, p, publicClient, loopbackRedirect, nil)
	if r := h.get(b, cb); r.Status != 200 || p.jwksCalls != 2 {
		t.Errorf("after rotation: %d, %d fetches", r.Status, p.jwksCalls)
	}
}

func asIdentity(m map[string]string) string {
	var as map[string]json.RawMessage
	_ = json.Unmarshal([]byte(m["authorization_server"]), &as)
	return string(as["identity"])
}

// TestOIDCLoginFailures: every failure is an error page, never a redirect
// and never a code.
func TestOIDCLoginFailures(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(p *fakeIdP)
		status int
	}{
		{"bad signature", func(p *fakeIdP) { p.tamper = true }, 403},
		{"wrong nonce", func(p *fakeIdP) { p.claims = map[string]any{"nonce": "other"} }, 403},
		{"no nonce", func(p *fakeIdP) { p.claims = map[string]any{"nonce": nil} }, 403},
		{"wrong audience", func(p *fakeIdP) { p.claims = map[string]any{"aud": "someone-else"} }, 403},
		{"several audiences without azp", func(p *fakeIdP) { p.claims = map[string]any{"aud": []string{"mcpgate", "other"}} }, 403},
		{"azp of another client", func(p *fakeIdP) { p.claims = map[string]any{"azp": "other"} }, 403},
		{"wrong issuer", func(p *fakeIdP) { p.claims = map[string]any{"iss": "https://evil.example.com"} }, 403},
		{"expired", func(p *fakeIdP) {
			p.claims = map[string]any{"exp": time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC).Unix()}
		}, 403},
		{"issued in the future", func(p *fakeIdP) {
			p.claims = map[string]any{"iat": time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC).Unix()}
		}, 403},
		{"no subject claim", func(p *fakeIdP) { p.claims = map[string]any{"email": nil} }, 403},
		{"subject claim not a string", func(p *fakeIdP) { p.claims = map[string]any{"email": 42} }, 403},
		{"alg none", func(p *fakeIdP) { p.alg = "none" }, 403},
		{"alg HS256", func(p *fakeIdP) { p.alg = "HS256" }, 403},
		{"alg swapped", func(p *fakeIdP) { p.header = map[string]any{"alg": "ES256"} }, 403},
		{"crit header", func(p *fakeIdP) { p.header = map[string]any{"crit": []string{"x"}} }, 403},
		{"unknown kid", func(p *fakeIdP) { p.kid = "nope" }, 403},
		{"token endpoint refuses the code", func(p *fakeIdP) { p.tokenStatus, p.tokenBody = 400, `{"error":"invalid_grant"}` }, 400},
		{"token endpoint fails", func(p *fakeIdP) { p.tokenStatus, p.tokenBody = 503, `{"error":"temporarily_unavailable"}` }, 502},
		{"no id_token", func(p *fakeIdP) { p.tokenBody = `{"access_token":"x"}` }, 502},
		{"not JSON", func(p *fakeIdP) { p.tokenBody = `<html>` }, 502},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, asConfigJSON(oidcAS()))
			p := newIdP(t, "RS256")
			h.call = p.call
			b := newBrowser()
			cb, _ := h.login(b, p, publicClient, loopbackRedirect, nil)
			tc.setup(p)
			errorPageOf(t, h.get(b, cb), tc.status)
		})
	}
}

// TestOIDCCallbackBinding: the callback is accepted only from the browser
// that started the login, once the state opens, in time.
func TestOIDCCallbackBinding(t *testing.T) {
	h := newHarness(t, asConfigJSON(oidcAS()))
	p := newIdP(t, "RS256")
	h.call = p.call
	b := newBrowser()
	cb, _ := h.login(b, p, publicClient, loopbackRedirect, nil)
	u, _ := url.Parse(cb)
	q := u.Query()
	with := func(k, v string) string {
		q2 := url.Values{}
		for k, x := range q {
			q2[k] = x
		}
		if v == "" {
			q2.Del(k)
		} else {
			q2.Set(k, v)
		}
		return "/oauth/callback?" + q2.Encode()
	}
	errorPageOf(t, h.get(newBrowser(), cb), 403) // no cookie
	other := newBrowser()
	h.login(other, newIdP(t, "RS256"), publicClient, loopbackRedirect, nil)
	errorPageOf(t, h.get(other, cb), 403) // another browser's cookie
	errorPageOf(t, h.get(b, with("state", q.Get("state")[:40])), 400)
	errorPageOf(t, h.get(b, with("state", "")), 400)
	errorPageOf(t, h.get(b, with("iss", "https://evil.example.com")), 400)
	errorPageOf(t, h.get(b, with("code", "")), 400)
	errorPageOf(t, h.get(b, with("error", "access_denied")), 403)
	errorPageOf(t, h.get(b, cb+"&code=again"), 400)
	if p.tokenCalls != 0 {
		t.Errorf("%d token calls for refused callbacks", p.tokenCalls)
	}
	h.advance(upstreamStateTTL)
	errorPageOf(t, h.get(b, cb), 400)
}

// TestOIDCUntrustedClientError: a self-registered client's broken request
// goes through login, and its error is then a page with a link, not a
// redirect (O21 §7.12.2).
func TestOIDCUntrustedClientError(t *testing.T) {
	h := newHarness(t, asConfigJSON(oidcAS()))
	p := newIdP(t, "ES256")
	h.call = p.call
	rr := registered(t, h.register(h.e, `{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none"}`))
	b := newBrowser()
	cb, _ := h.login(b, p, rr.ClientID, "https://app.example.com/cb", map[string]string{"resource": "https://mcp.example.com/nope"})
	q := errorLinkOf(t, h.get(b, cb), 400, "app.example.com")
	if q.Get("error") != ErrCodeInvalidTarget || q.Get("state") != "st-123" {
		t.Errorf("redirect %v", q)
	}
}

func TestParseUpstreamJWKS(t *testing.T) {
	for name, res := range map[string]CallResult{
		"error":     {Err: errInjected},
		"status":    {Status: 404},
		"not JSON":  {Status: 200, Body: []byte("x")},
		"no keys":   {Status: 200, Body: []byte(`{"keys":[]}`)},
		"small RSA": {Status: 200, Body: []byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`)},
		"alg clash": {Status: 200, Body: newIdP(t, "").jwksWithAlg("ES256")},
		"too large": {Status: 200, Body: []byte(`{"keys":[],"x":"` + strings.Repeat("x", maxJWKSBody) + `"}`)},
	} {
		if _, err := parseUpstreamJWKS(res); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// jwksWithAlg returns an RSA-only JWKS whose keys claim alg.
func (p *fakeIdP) jwksWithAlg(alg string) []byte {
	p.jwksKids = []string{"k-RS256"}
	var set map[string][]map[string]any
	_ = json.Unmarshal(p.jwks(), &set)
	var keys []map[string]any
	for _, k := range set["keys"] {
		if k["kty"] == "RSA" && k["kid"] == "k-RS256" {
			k["alg"] = alg
			keys = append(keys, k)
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}
