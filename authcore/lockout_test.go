package authcore

import (
	"net/url"
	"strings"
	"testing"
)

// Someone who knows a confidential client's id and sends wrong secrets
// exhausts only their own allowance: the client itself, from its own
// address, still authenticates.
func TestLockoutSparesTheLegitimateClient(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	body := url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "code_verifier": {strings.Repeat("v", 43)},
		"client_id": {confidentialClient}}
	post := func(source, secret string) Reply {
		b := url.Values{}
		for k, v := range body {
			b[k] = v
		}
		b.Set("client_secret", secret)
		req := &Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: "/oauth/token",
			Headers: Header{{"content-type", "application/x-www-form-urlencoded"}}, Source: source}
		return h.run(h.e, req, []byte(b.Encode()))
	}
	for i := 0; i < maxAuthFailures; i++ {
		oauthErr(t, post("203.0.113.9:4000", "guess"+itoa64(int64(i))), 401, ErrCodeInvalidClient)
	}
	// The attacker is throttled, whatever it sends, from any port.
	oauthErr(t, post("203.0.113.9:4001", confidentialSecret), 401, ErrCodeInvalidClient)
	// The legitimate client reaches the grant check (its code is bogus).
	oauthErr(t, post("198.51.100.7:5000", confidentialSecret), 400, ErrCodeInvalidGrant)
	// Another address of the attacker's IPv6 /64 shares its allowance.
	for i := 0; i < maxAuthFailures; i++ {
		oauthErr(t, post("[2001:db8::1]:1", "guess"), 401, ErrCodeInvalidClient)
	}
	oauthErr(t, post("[2001:db8::2]:1", confidentialSecret), 401, ErrCodeInvalidClient)
	oauthErr(t, post("[2001:db8:1::2]:1", confidentialSecret), 400, ErrCodeInvalidGrant)
}

func TestLockoutKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.1:5555":          "c\x00192.0.2.1",
		"192.0.2.1":               "c\x00192.0.2.1",
		"[::ffff:192.0.2.1]:1":    "c\x00192.0.2.1",
		"[2001:db8:a:b:c::1]:443": "c\x002001:db8:a:b::/64",
		"not an address":          "c\x00not an address",
	}
	for src, want := range cases {
		if got := lockoutKey("c", src); got != want {
			t.Errorf("lockoutKey(%q) = %q, want %q", src, got, want)
		}
	}
}
