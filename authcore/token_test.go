package authcore

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTokenTransport: form in, JSON out, errors 400/401 (OAuth 2.1 §3.2.3, §3.2.4).
func TestTokenTransport(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	t.Run("not a form", func(t *testing.T) {
		req := &Request{Method: "POST", Path: "/oauth/token", Headers: Header{{"content-type", "application/json"}}}
		r := h.run(h.e, req, []byte(`{"grant_type":"authorization_code"}`))
		oauthErr(t, r, 400, ErrCodeInvalidRequest)
		if r.Headers.Get("cache-control") != "no-store" || r.Headers.Get("pragma") != "no-cache" {
			t.Errorf("error headers %v", r.Headers)
		}
	})
	t.Run("GET is 405", func(t *testing.T) {
		if r := h.run(h.e, &Request{Method: "GET", Path: "/oauth/token?grant_type=x"}, nil); r.Status != 405 {
			t.Errorf("status %d", r.Status)
		}
	})
	cases := []struct {
		name, body, code string
	}{
		{"duplicate parameter", "grant_type=authorization_code&code=a&code=b&client_id=ide", ErrCodeInvalidRequest},
		{"duplicate grant_type", "grant_type=authorization_code&grant_type=refresh_token&client_id=ide", ErrCodeInvalidRequest},
		{"malformed", "grant_type=%zz", ErrCodeInvalidRequest},
		{"grant_type missing", "client_id=ide", ErrCodeInvalidRequest},
		{"password grant", "grant_type=password&client_id=ide&username=a&password=b", ErrCodeUnsupportedGrantType},
		{"client credentials", "grant_type=client_credentials&client_id=ide", ErrCodeUnsupportedGrantType},
		{"implicit", "grant_type=implicit&client_id=ide", ErrCodeUnsupportedGrantType},
		{"code missing", "grant_type=authorization_code&client_id=ide&code_verifier=" + strings.Repeat("v", 43), ErrCodeInvalidRequest},
		{"verifier missing", "grant_type=authorization_code&client_id=ide&code=abc", ErrCodeInvalidRequest},
		{"refresh token missing", "grant_type=refresh_token&client_id=ide", ErrCodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oauthErr(t, h.postForm(h.e, nil, "/oauth/token", tc.body), 400, tc.code)
		})
	}
}

// TestTokenClientAuthentication (OAuth 2.1 §2.4).
func TestTokenClientAuthentication(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	// Each case redeems a bogus code: authentication passing shows as
	// invalid_grant, failing as invalid_client.
	body := url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "code_verifier": {strings.Repeat("v", 43)}}
	with := func(extra map[string]string) string {
		v := url.Values{}
		for k, x := range body {
			v[k] = x
		}
		for k, x := range extra {
			v.Set(k, x)
		}
		return v.Encode()
	}
	basic := func(raw string) [2]string {
		return [2]string{"authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))}
	}
	encodedCred := url.QueryEscape(confidentialClient) + ":" + url.QueryEscape(confidentialSecret)
	cases := []struct {
		name    string
		body    string
		hdr     [][2]string
		status  int
		code    string
		wwwAuth bool
	}{
		{"public client", with(map[string]string{"client_id": publicClient}), nil, 400, ErrCodeInvalidGrant, false},
		{"basic", with(nil), [][2]string{basic(encodedCred)}, 400, ErrCodeInvalidGrant, false},
		{"basic lower-case scheme", with(nil), [][2]string{{"authorization", "basic " + base64.StdEncoding.EncodeToString([]byte(encodedCred))}}, 400, ErrCodeInvalidGrant, false},
		{"basic form-encoded secret", with(nil), [][2]string{basic("web-app:correct+horse+battery+staple")}, 400, ErrCodeInvalidGrant, false},
		{"basic unpadded", with(nil), [][2]string{{"authorization", "Basic " + base64.RawStdEncoding.EncodeToString([]byte(encodedCred))}}, 400, ErrCodeInvalidGrant, false},
		{"basic with matching body client_id", with(map[string]string{"client_id": confidentialClient}), [][2]string{basic(encodedCred)}, 400, ErrCodeInvalidGrant, false},
		{"post", with(map[string]string{"client_id": confidentialClient, "client_secret": confidentialSecret}), nil, 400, ErrCodeInvalidGrant, false},
		{"basic and post", with(map[string]string{"client_secret": confidentialSecret}), [][2]string{basic(encodedCred)}, 400, ErrCodeInvalidRequest, false},
		{"basic and other body client_id", with(map[string]string{"client_id": publicClient}), [][2]string{basic(encodedCred)}, 400, ErrCodeInvalidRequest, false},
		{"two authorization headers", with(nil), [][2]string{basic(encodedCred), basic(encodedCred)}, 400, ErrCodeInvalidRequest, false},
		{"wrong secret, basic", with(nil), [][2]string{basic("web-app:nope")}, 401, ErrCodeInvalidClient, true},
		{"wrong secret, post", with(map[string]string{"client_id": confidentialClient, "client_secret": "nope"}), nil, 401, ErrCodeInvalidClient, false},
		{"confidential without secret", with(map[string]string{"client_id": confidentialClient}), nil, 401, ErrCodeInvalidClient, false},
		{"public client sends a secret", with(map[string]string{"client_id": publicClient, "client_secret": "whatever"}), nil, 401, ErrCodeInvalidClient, false},
		{"public client via basic", with(nil), [][2]string{basic("ide:x")}, 401, ErrCodeInvalidClient, true},
		{"unknown client", with(map[string]string{"client_id": "nobody"}), nil, 401, ErrCodeInvalidClient, false},
		{"no client at all", with(nil), nil, 401, ErrCodeInvalidClient, false},
		{"malformed basic", with(nil), [][2]string{{"authorization", "Basic !!!"}}, 401, ErrCodeInvalidClient, true},
		{"basic without colon", with(nil), [][2]string{basic("web-app")}, 401, ErrCodeInvalidClient, true},
		{"bearer instead of basic", with(nil), [][2]string{{"authorization", "Bearer abc"}}, 401, ErrCodeInvalidClient, true},
		{"client assertion", with(map[string]string{"client_id": confidentialClient, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": "a.b.c"}), nil, 401, ErrCodeInvalidClient, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.postForm(h.e, nil, "/oauth/token", tc.body, tc.hdr...)
			oauthErr(t, r, tc.status, tc.code)
			if got := r.Headers.Get("www-authenticate"); (got != "") != tc.wwwAuth || (tc.wwwAuth && !strings.HasPrefix(got, "Basic ")) {
				t.Errorf("www-authenticate %q", got)
			}
		})
	}
}

func TestTokenClientBruteForce(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	body := func(secret string) string {
		return url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "code_verifier": {strings.Repeat("v", 43)},
			"client_id": {confidentialClient}, "client_secret": {secret}}.Encode()
	}
	for i := 0; i < maxAuthFailures; i++ {
		oauthErr(t, h.postForm(h.e, nil, "/oauth/token", body("guess"+itoa64(int64(i)))), 401, ErrCodeInvalidClient)
	}
	// Now even the right secret is refused, for a while.
	oauthErr(t, h.postForm(h.e, nil, "/oauth/token", body(confidentialSecret)), 401, ErrCodeInvalidClient)
	h.advance(time.Minute)
	oauthErr(t, h.postForm(h.e, nil, "/oauth/token", body(confidentialSecret)), 400, ErrCodeInvalidGrant)
}

func TestParseBasicAuth(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		h, id, secret string
		ok            bool
	}{
		{"Basic " + enc("a:b"), "a", "b", true},
		{"BASIC " + enc("a:b"), "a", "b", true},
		{"Basic " + enc("a%3Ab:c%2Bd+e"), "a:b", "c+d e", true},
		{"Basic " + enc("a:b:c"), "a", "b:c", true},
		{"Basic " + enc("a:"), "a", "", true},
		{"Basic " + enc(":b"), "", "", false},
		{"Basic " + enc("ab"), "", "", false},
		{"Basic " + enc("a%zz:b"), "", "", false},
		{"Basic", "", "", false},
		{"Digest abc", "", "", false},
	}
	for _, tc := range cases {
		id, secret, ok := parseBasicAuth(tc.h)
		if ok != tc.ok || (ok && (id != tc.id || secret != tc.secret)) {
			t.Errorf("parseBasicAuth(%q) = %q %q %v", tc.h, id, secret, ok)
		}
	}
}
