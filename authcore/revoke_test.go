package authcore

import (
	"encoding/base64"
	"net/url"
	"testing"
)

func (h *harness) postFormBasic(path string, v url.Values, id, secret string) Reply {
	cred := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return h.postForm(h.e, nil, path, v.Encode(), [2]string{"authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))})
}

// TestRevoke (RFC 7009).
func TestRevoke(t *testing.T) {
	t.Run("refresh token", func(t *testing.T) {
		h, tr := refreshHarness(t, nil)
		r := h.postFormBasic("/oauth/revoke", url.Values{"token": {tr.RefreshToken}, "token_type_hint": {"refresh_token"}}, confidentialClient, confidentialSecret)
		if r.Status != 200 || len(r.Body) != 0 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		oauthErr(t, h.refresh(h.e, tr.RefreshToken, nil), 400, ErrCodeInvalidGrant)
		if h.guardAllows(h.e, tr.AccessToken) {
			t.Errorf("access token survives revocation of its refresh token")
		}
	})
	t.Run("access token", func(t *testing.T) {
		h, tr := refreshHarness(t, nil)
		r := h.postFormBasic("/oauth/revoke", url.Values{"token": {tr.AccessToken}}, confidentialClient, confidentialSecret)
		if r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if h.guardAllows(h.e, tr.AccessToken) {
			t.Errorf("revoked access token accepted")
		}
		oauthErr(t, h.refresh(h.e, tr.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	})
	t.Run("another client's token changes nothing", func(t *testing.T) {
		h, tr := refreshHarness(t, nil)
		r := h.postForm(h.e, nil, "/oauth/revoke", url.Values{"token": {tr.RefreshToken}, "client_id": {publicClient}}.Encode())
		if r.Status != 200 {
			t.Fatalf("revoke: %d", r.Status)
		}
		r = h.postForm(h.e, nil, "/oauth/revoke", url.Values{"token": {tr.AccessToken}, "client_id": {publicClient}}.Encode())
		if r.Status != 200 {
			t.Fatalf("revoke: %d", r.Status)
		}
		tokenOK(t, h.refresh(h.e, tr.RefreshToken, nil))
	})
	t.Run("unknown tokens are 200", func(t *testing.T) {
		h, _ := refreshHarness(t, nil)
		for _, tok := range []string{"garbage", "a.b.c", "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			if r := h.postFormBasic("/oauth/revoke", url.Values{"token": {tok}}, confidentialClient, confidentialSecret); r.Status != 200 {
				t.Errorf("%s: %d", tok, r.Status)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		h, tr := refreshHarness(t, nil)
		oauthErr(t, h.postFormBasic("/oauth/revoke", url.Values{"token": {tr.RefreshToken}}, confidentialClient, "wrong"), 401, ErrCodeInvalidClient)
		oauthErr(t, h.postFormBasic("/oauth/revoke", url.Values{}, confidentialClient, confidentialSecret), 400, ErrCodeInvalidRequest)
		oauthErr(t, h.postForm(h.e, nil, "/oauth/revoke", "token=a&token=b&client_id=ide"), 400, ErrCodeInvalidRequest)
		req := &Request{Method: "POST", Path: "/oauth/revoke", Headers: Header{{"content-type", "application/json"}}}
		oauthErr(t, h.run(h.e, req, []byte(`{}`)), 400, ErrCodeInvalidRequest)
		tokenOK(t, h.refresh(h.e, tr.RefreshToken, nil))
	})
}
