package authcore

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestForgedRefreshTokenNoSideEffect: the grant id with a secret the
// family never issued is invalid_grant at the token endpoint and nothing
// at the revocation endpoint; the grant stays usable. Old secrets (up to
// maxRotated+1 generations back) still count as reuse.
func TestForgedRefreshTokenNoSideEffect(t *testing.T) {
	h, first := refreshHarness(t, nil)
	gid, _, _ := strings.Cut(first.RefreshToken, ".")
	forged := gid + "." + strings.Repeat("A", 43)
	oauthErr(t, h.refresh(h.e, forged, nil), 400, ErrCodeInvalidGrant)
	if r := h.postFormBasic("/oauth/revoke", url.Values{"token": {forged}}, confidentialClient, confidentialSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if !h.guardAllows(h.e, first.AccessToken) {
		t.Fatal("a forged token revoked the grant")
	}
	cur := tokenOK(t, h.refresh(h.e, first.RefreshToken, nil))
	// Rotate maxRotated+2 times: the first token falls out of the kept
	// verifiers and is then refused without revoking; the second-oldest
	// kept one is still reuse.
	tokens := []string{first.RefreshToken, cur.RefreshToken}
	for i := 0; i < maxRotated+1; i++ {
		h.advance(time.Minute)
		cur = tokenOK(t, h.refresh(h.e, cur.RefreshToken, nil))
		tokens = append(tokens, cur.RefreshToken)
	}
	h.advance(time.Minute)
	oauthErr(t, h.refresh(h.e, tokens[0], nil), 400, ErrCodeInvalidGrant)
	if !h.guardAllows(h.e, cur.AccessToken) {
		t.Fatal("a secret older than the kept verifiers revoked the grant")
	}
	oauthErr(t, h.refresh(h.e, tokens[1], nil), 400, ErrCodeInvalidGrant)
	if h.guardAllows(h.e, cur.AccessToken) {
		t.Fatal("reuse of a kept rotated secret did not revoke")
	}
}

// TestRevokeNeedsTheSecret: revocation by refresh token checks the secret
// (RFC 7009 §2.1) and revokes with the current one.
func TestRevokeNeedsTheSecret(t *testing.T) {
	h, first := refreshHarness(t, nil)
	if r := h.postFormBasic("/oauth/revoke", url.Values{"token": {first.RefreshToken}}, confidentialClient, confidentialSecret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if h.guardAllows(h.e, first.AccessToken) {
		t.Fatal("revocation with the real token did not revoke")
	}
}
