package authcore

import (
	"encoding/json"
	"net/url"
	"testing"
)

// FuzzTokenForm feeds arbitrary bodies (and an optional Authorization
// header) to the token endpoint: the answer is always a well-formed OAuth
// JSON error with an allowed status, or a token for a real code.
func FuzzTokenForm(f *testing.F) {
	h := fuzzHarness(f)
	code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
	f.Add(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "client_id": {publicClient}}.Encode(), "")
	f.Add("grant_type=refresh_token&refresh_token=AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&client_id=ide", "")
	f.Add("grant_type=authorization_code&code=x&code_verifier=y", "Basic d2ViLWFwcDpjb3JyZWN0K2hvcnNl")
	f.Add("grant_type=authorization_code&grant_type=x", "basic !!")
	f.Add("client_assertion=a&client_secret=b&client_id=c&grant_type=refresh_token", "Bearer x")
	f.Add("grant_type=authorization_code&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="+
		"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJpZGUiLCJzdWIiOiJpZGUiLCJleHAiOjk5OTk5OTk5OTl9.AAAA", "")
	f.Fuzz(func(t *testing.T, body, authz string) {
		hd := Header{{"content-type", "application/x-www-form-urlencoded"}}
		if authz != "" {
			hd = append(hd, [2]string{"authorization", authz})
		}
		r := h.run(h.e, &Request{Method: "POST", Path: "/oauth/token", Headers: hd}, []byte(body))
		if r.Headers.Get("cache-control") != "no-store" {
			t.Fatalf("status %d without no-store", r.Status)
		}
		var out map[string]any
		if err := json.Unmarshal(r.Body, &out); err != nil {
			if r.Status == 413 {
				return
			}
			t.Fatalf("status %d, body not JSON: %q", r.Status, r.Body)
		}
		switch r.Status {
		case 200:
			if out["access_token"] == nil || out["token_type"] != "Bearer" {
				t.Fatalf("token response %s", r.Body)
			}
		case 400, 401, 500:
			switch out["error"] {
			case ErrCodeInvalidRequest, ErrCodeInvalidClient, ErrCodeInvalidGrant, ErrCodeUnauthorizedClient,
				ErrCodeUnsupportedGrantType, ErrCodeInvalidScope, ErrCodeInvalidTarget, ErrCodeServerError:
			default:
				t.Fatalf("error %s", r.Body)
			}
			if (r.Status == 401) != (out["error"] == ErrCodeInvalidClient) {
				t.Fatalf("status %d for %s", r.Status, r.Body)
			}
		default:
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	})
}
