package authcore

import (
	"net/url"
	"sync"
	"testing"
	"time"
)

// refreshHarness issues web-app a grant with a refresh token.
func refreshHarness(t *testing.T, over map[string]string) (*harness, TokenResponse) {
	h := newHarness(t, asConfigJSON(over))
	code, verifier := h.getCode(newBrowser(), confidentialClient, webRedirect, map[string]string{"scope": "mcp:tools mcp:admin"})
	tr := tokenOK(t, h.tokenReq(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {webRedirect}}, confidentialClient, confidentialSecret))
	if tr.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return h, tr
}

func (h *harness) refresh(e *Engine, rt string, extra map[string]string) Reply {
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, x := range extra {
		v.Set(k, x)
	}
	return h.tokenReq(e, v, confidentialClient, confidentialSecret)
}

// TestRefreshRotation (OAuth 2.1 §4.3.1, §4.3.3).
func TestRefreshRotation(t *testing.T) {
	h, first := refreshHarness(t, nil)
	second := tokenOK(t, h.refresh(h.e, first.RefreshToken, nil))
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.Scope != "mcp:tools mcp:admin" {
		t.Fatalf("rotation: %+v", second)
	}
	if !h.guardAllows(h.e, second.AccessToken) || claimsOf(t, h.e, second.AccessToken).GrantID != claimsOf(t, h.e, first.AccessToken).GrantID {
		t.Errorf("refreshed access token")
	}
	// Within the grace window the old token yields the same successor.
	h.advance(5 * time.Second)
	again := tokenOK(t, h.refresh(h.e, first.RefreshToken, nil))
	if again.RefreshToken != second.RefreshToken {
		t.Errorf("grace window gave another successor")
	}
	// The successor rotates normally.
	third := tokenOK(t, h.refresh(h.e, second.RefreshToken, nil))
	// Reusing the first token now (two generations back) revokes the family.
	oauthErr(t, h.refresh(h.e, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	oauthErr(t, h.refresh(h.e, third.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	if h.guardAllows(h.e, third.AccessToken) {
		t.Errorf("access token of a revoked family accepted")
	}
}

func TestRefreshReuseAfterGrace(t *testing.T) {
	h, first := refreshHarness(t, nil)
	second := tokenOK(t, h.refresh(h.e, first.RefreshToken, nil))
	h.advance(11 * time.Second)
	oauthErr(t, h.refresh(h.e, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	// Reuse killed the successor too.
	oauthErr(t, h.refresh(h.e, second.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	if h.guardAllows(h.e, second.AccessToken) {
		t.Errorf("access token survives reuse")
	}
}

func TestRefreshNoGrace(t *testing.T) {
	h, first := refreshHarness(t, withAS(map[string]string{"refresh_tokens": `{"grace":"0s"}`}))
	second := tokenOK(t, h.refresh(h.e, first.RefreshToken, nil))
	h.advance(time.Second)
	oauthErr(t, h.refresh(h.e, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	oauthErr(t, h.refresh(h.e, second.RefreshToken, nil), 400, ErrCodeInvalidGrant)
}

// TestRefreshConcurrentDuplicates: a client refreshing the same token many
// times at once through two VMs gets one successor; reuse after the grace
// window revokes the family.
func TestRefreshConcurrentDuplicates(t *testing.T) {
	h, first := refreshHarness(t, nil)
	other := h.engine(h.e.cfg, h.store)
	var wg sync.WaitGroup
	var mu sync.Mutex
	successors := map[string]int{}
	failures := 0
	for i := 0; i < 20; i++ {
		e := h.e
		if i%2 == 1 {
			e = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.refresh(e, first.RefreshToken, nil)
			mu.Lock()
			defer mu.Unlock()
			if r.Status != 200 {
				failures++
				return
			}
			var tr TokenResponse
			jsonUnmarshal(t, r.Body, &tr)
			successors[tr.RefreshToken]++
		}()
	}
	wg.Wait()
	if failures != 0 || len(successors) != 1 {
		t.Fatalf("%d failures, %d distinct successors: %v", failures, len(successors), successors)
	}
	var successor string
	for s := range successors {
		successor = s
	}
	h.advance(30 * time.Second)
	oauthErr(t, h.refresh(other, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	oauthErr(t, h.refresh(h.e, successor, nil), 400, ErrCodeInvalidGrant)
}

func TestRefreshScopeAndResource(t *testing.T) {
	h, first := refreshHarness(t, nil)
	narrow := tokenOK(t, h.refresh(h.e, first.RefreshToken, map[string]string{"scope": "mcp:tools"}))
	if narrow.Scope != "mcp:tools" || len(claimsOf(t, h.e, narrow.AccessToken).Scope) != 1 {
		t.Errorf("narrowed: %+v", narrow)
	}
	// The new refresh token keeps the whole grant (O21 §4.3.3).
	full := tokenOK(t, h.refresh(h.e, narrow.RefreshToken, nil))
	if full.Scope != "mcp:tools mcp:admin" {
		t.Errorf("scope after narrowing: %q", full.Scope)
	}
	oauthErr(t, h.refresh(h.e, full.RefreshToken, map[string]string{"scope": "mcp:tools files:write"}), 400, ErrCodeInvalidScope)
	oauthErr(t, h.refresh(h.e, full.RefreshToken, map[string]string{"scope": "mcp:tools offline_access"}), 400, ErrCodeInvalidScope)
	oauthErr(t, h.refresh(h.e, full.RefreshToken, map[string]string{"scope": "a  b"}), 400, ErrCodeInvalidScope)
	oauthErr(t, h.refresh(h.e, full.RefreshToken, map[string]string{"resource": "https://mcp.example.com/other"}), 400, ErrCodeInvalidTarget)
	// None of the refused requests consumed the token.
	last := tokenOK(t, h.refresh(h.e, full.RefreshToken, map[string]string{"resource": testResource}))
	if !h.guardAllows(h.e, last.AccessToken) {
		t.Errorf("refused requests revoked the grant")
	}
}

func TestRefreshBindings(t *testing.T) {
	h, first := refreshHarness(t, nil)
	// Another client: invalid_grant, and the family lives on (OAuth 2.1 §4.3.1).
	r := h.tokenReq(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "client_id": {publicClient}})
	oauthErr(t, r, 400, ErrCodeInvalidGrant)
	for _, bad := range []string{"nope", first.RefreshToken + "x", "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", first.RefreshToken[:22] + ".!!"} {
		oauthErr(t, h.refresh(h.e, bad, nil), 400, ErrCodeInvalidGrant)
	}
	tokenOK(t, h.refresh(h.e, first.RefreshToken, nil))
}

func TestRefreshLifetimes(t *testing.T) {
	lt := map[string]string{"lifetimes": `{"refresh_token":"3h","refresh_idle":"1h"}`}
	t.Run("idle", func(t *testing.T) {
		h, first := refreshHarness(t, lt)
		h.advance(time.Hour)
		oauthErr(t, h.refresh(h.e, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	})
	t.Run("absolute", func(t *testing.T) {
		h, tr := refreshHarness(t, lt)
		for i := 0; i < 3; i++ {
			h.advance(50 * time.Minute)
			tr = tokenOK(t, h.refresh(h.e, tr.RefreshToken, nil))
		}
		h.advance(31 * time.Minute) // 3h01m after the grant
		oauthErr(t, h.refresh(h.e, tr.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	})
}
