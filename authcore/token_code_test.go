package authcore

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCodeFlow(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, map[string]string{"scope": "mcp:tools mcp:admin"})
	tr := tokenOK(t, h.exchange(code, verifier))
	if tr.Scope != "mcp:tools mcp:admin" || tr.RefreshToken != "" || tr.ExpiresIn != 600 {
		t.Errorf("token response %+v", tr)
	}
	claims, err := h.e.parseAccessToken(tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "alice" || claims.ClientID != publicClient || len(claims.Audience) != 1 || claims.Audience[0] != testResource ||
		claims.GrantID == "" || claims.JTI == "" || strings.Join(claims.Scope, " ") != "mcp:tools mcp:admin" || claims.Issuer != testIssuer {
		t.Errorf("claims %+v", claims)
	}
	if !h.guardAllows(h.e, tr.AccessToken) {
		t.Errorf("guard refuses the new token")
	}
}

// TestCodeRedemptionErrors (OAuth 2.1 §4.1.3, §7.5.3; RFC 8707).
func TestCodeRedemptionErrors(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"consent": `{"remember":"0s"}`})))
	redeem := func(v url.Values) Reply {
		v.Set("grant_type", "authorization_code")
		if v.Get("client_id") == "" {
			v.Set("client_id", publicClient)
		}
		return h.tokenReq(h.e, v)
	}
	type tc struct {
		name   string
		mutate func(code, verifier string) url.Values
		status int
		errc   string
	}
	cases := []tc{
		{"wrong verifier", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {strings.Repeat("x", 43)}, "redirect_uri": {loopbackRedirect}}
		}, 400, ErrCodeInvalidGrant},
		{"verifier 42 chars", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v[:42]}, "redirect_uri": {loopbackRedirect}}
		}, 400, ErrCodeInvalidGrant},
		{"verifier 129 chars", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {strings.Repeat(v, 4)[:129]}, "redirect_uri": {loopbackRedirect}}
		}, 400, ErrCodeInvalidGrant},
		{"verifier bad char", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v + "+"}, "redirect_uri": {loopbackRedirect}}
		}, 400, ErrCodeInvalidGrant},
		{"challenge as verifier", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {pkceS256(v)}, "redirect_uri": {loopbackRedirect}}
		}, 400, ErrCodeInvalidGrant},
		{"other client", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v}, "redirect_uri": {loopbackRedirect}, "client_id": {confidentialClient}, "client_secret": {confidentialSecret}}
		}, 400, ErrCodeInvalidGrant},
		{"redirect_uri mismatch", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v}, "redirect_uri": {"http://127.0.0.1:9/callback"}}
		}, 400, ErrCodeInvalidGrant},
		{"redirect_uri omitted though sent", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v}}
		}, 400, ErrCodeInvalidGrant},
		{"resource not authorized", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v}, "redirect_uri": {loopbackRedirect}, "resource": {"https://mcp.example.com/other"}}
		}, 400, ErrCodeInvalidTarget},
		{"resource with fragment", func(c, v string) url.Values {
			return url.Values{"code": {c}, "code_verifier": {v}, "redirect_uri": {loopbackRedirect}, "resource": {testResource + "#x"}}
		}, 400, ErrCodeInvalidTarget},
		{"unknown code", func(c, v string) url.Values {
			return url.Values{"code": {c + "x"}, "code_verifier": {v}, "redirect_uri": {loopbackRedirect}}
		}, 400, ErrCodeInvalidGrant},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
			oauthErr(t, redeem(c.mutate(code, verifier)), c.status, c.errc)
			// None of these consumed the code or revoked anything.
			tr := tokenOK(t, h.exchange(code, verifier))
			if !h.guardAllows(h.e, tr.AccessToken) {
				t.Errorf("grant revoked by a failed attempt")
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
		h.advance(h.e.cfg.Lifetimes.AuthorizationCode)
		oauthErr(t, h.exchange(code, verifier), 400, ErrCodeInvalidGrant)
	})
	t.Run("redirect_uri omitted in both", func(t *testing.T) {
		code, verifier := h.getCode(newBrowser(), publicClient, "", map[string]string{"redirect_uri": ""})
		tokenOK(t, redeem(url.Values{"code": {code}, "code_verifier": {verifier}}))
	})
	t.Run("redirect_uri only at the token endpoint", func(t *testing.T) {
		code, verifier := h.getCode(newBrowser(), publicClient, "", map[string]string{"redirect_uri": ""})
		tokenOK(t, redeem(url.Values{"code": {code}, "code_verifier": {verifier}, "redirect_uri": {loopbackRedirect}}))
		code, verifier = h.getCode(newBrowser(), publicClient, "", map[string]string{"redirect_uri": ""})
		oauthErr(t, redeem(url.Values{"code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1:1/callback"}}), 400, ErrCodeInvalidGrant)
	})
	t.Run("loopback port kept", func(t *testing.T) {
		code, verifier := h.getCode(newBrowser(), publicClient, "http://127.0.0.1:4711/callback", nil)
		oauthErr(t, redeem(url.Values{"code": {code}, "code_verifier": {verifier}, "redirect_uri": {loopbackRedirect}}), 400, ErrCodeInvalidGrant)
		tokenOK(t, redeem(url.Values{"code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1:4711/callback"}}))
	})
	t.Run("resource alias at the token endpoint", func(t *testing.T) {
		code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
		tokenOK(t, redeem(url.Values{"code": {code}, "code_verifier": {verifier}, "redirect_uri": {loopbackRedirect}, "resource": {"HTTPS://MCP.EXAMPLE.COM/mcp"}}))
	})
}

// TestCodeReplay: a second valid redemption fails and revokes what the
// first issued; a replay with a bad verifier revokes nothing (OAuth 2.1 §7.5.3,
// G.10).
func TestCodeReplay(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	body := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {webRedirect}}
	}
	code, verifier := h.getCode(newBrowser(), confidentialClient, webRedirect, nil)
	first := tokenOK(t, h.tokenReq(h.e, body(code, verifier), confidentialClient, confidentialSecret))
	if first.RefreshToken == "" {
		t.Fatal("web-app gets no refresh token")
	}

	// Bad verifier: invalid_grant, nothing revoked.
	oauthErr(t, h.tokenReq(h.e, body(code, strings.Repeat("b", 43)), confidentialClient, confidentialSecret), 400, ErrCodeInvalidGrant)
	// Another client: invalid_grant (here: public ide), nothing revoked.
	oauthErr(t, h.tokenReq(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "client_id": {publicClient}}), 400, ErrCodeInvalidGrant)
	if !h.guardAllows(h.e, first.AccessToken) {
		t.Fatal("a bad replay revoked the grant")
	}

	// A valid replay: invalid_grant, and the first tokens die.
	oauthErr(t, h.tokenReq(h.e, body(code, verifier), confidentialClient, confidentialSecret), 400, ErrCodeInvalidGrant)
	if h.guardAllows(h.e, first.AccessToken) {
		t.Errorf("access token of a replayed code still accepted")
	}
	r := h.tokenReq(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}, confidentialClient, confidentialSecret)
	oauthErr(t, r, 400, ErrCodeInvalidGrant)
	// The marker outlives any access token of the grant.
	var ttlOK bool
	h.store.Get(revokedGrantKey(claimsOf(t, h.e, first.AccessToken).GrantID), func(_ []byte, _ uint64, err error) Outcome {
		ttlOK = err == nil
		return nil
	})
	h.advance(h.e.cfg.Lifetimes.AccessToken + clockSkew)
	h.store.Get(revokedGrantKey(claimsOf(t, h.e, first.AccessToken).GrantID), func(_ []byte, _ uint64, err error) Outcome {
		ttlOK = ttlOK && err == nil
		return nil
	})
	if !ttlOK {
		t.Errorf("revocation marker gone before the access token expired")
	}
}

func claimsOf(t testing.TB, e *Engine, tok string) *AccessTokenClaims {
	t.Helper()
	c, err := e.parseAccessToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCodeConcurrentRedemption: 50 concurrent redemptions of one code
// through two engines (two VMs) over one shared store: exactly one wins.
func TestCodeConcurrentRedemption(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	second := h.engine(h.e.cfg, h.store)
	code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var winner string
	for i := 0; i < 50; i++ {
		e := h.e
		if i%2 == 1 {
			e = second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.tokenReq(e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
				"client_id": {publicClient}, "redirect_uri": {loopbackRedirect}})
			mu.Lock()
			statuses[r.Status]++
			if r.Status == 200 {
				winner = string(r.Body)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[400] != 49 {
		t.Fatalf("statuses %v, want one 200 and 49 400", statuses)
	}
	// The losers were valid replays: the winner's grant is revoked.
	var tr TokenResponse
	jsonUnmarshal(t, []byte(winner), &tr)
	if h.guardAllows(second, tr.AccessToken) {
		t.Errorf("winner's token survives 49 replays")
	}
}

// TestCodeConsumptionFailure: a code whose consumption cannot be recorded
// yields no token.
func TestCodeConsumptionFailure(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
	broken := h.engine(h.e.cfg, &failingStore{Store: h.store, failPut: "code/"})
	r := h.tokenReq(broken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {publicClient}, "redirect_uri": {loopbackRedirect}})
	oauthErr(t, r, 500, ErrCodeServerError)
	if strings.Contains(string(r.Body), "injected") {
		t.Errorf("internal error leaked: %s", r.Body)
	}
}

// failingStore fails every Put whose key starts with failPut.
type failingStore struct {
	Store
	failPut string
}

func (s *failingStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(error) Outcome) Outcome {
	if strings.HasPrefix(key, s.failPut) {
		return then(errInjected)
	}
	return s.Store.Put(key, value, version, ttl, then)
}

var errInjected = &TokenError{Reason: "injected store failure"}

// TestRefreshPolicy: whether a refresh token is issued follows
// refresh_tokens.policy (SEP-2207).
func TestRefreshPolicy(t *testing.T) {
	type want struct{ ide, ideOffline, web bool }
	for policy, w := range map[string]want{
		RefreshGrantType:     {false, true, true},
		RefreshOfflineAccess: {false, true, false},
		RefreshAlways:        {true, true, true},
		RefreshNever:         {false, false, false},
	} {
		t.Run(policy, func(t *testing.T) {
			h := newHarness(t, asConfigJSON(withAS(map[string]string{"refresh_tokens": `{"policy":"` + policy + `"}`})))
			get := func(client, redirect, scope string) TokenResponse {
				code, verifier := h.getCode(newBrowser(), client, redirect, map[string]string{"scope": scope})
				v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
				if client == publicClient {
					v.Set("client_id", client)
					return tokenOK(t, h.tokenReq(h.e, v))
				}
				return tokenOK(t, h.tokenReq(h.e, v, client, confidentialSecret))
			}
			ide := get(publicClient, loopbackRedirect, "mcp:tools")
			off := get(publicClient, loopbackRedirect, "mcp:tools offline_access")
			web := get(confidentialClient, webRedirect, "mcp:tools")
			if (ide.RefreshToken != "") != w.ide || (off.RefreshToken != "") != w.ideOffline || (web.RefreshToken != "") != w.web {
				t.Errorf("refresh issued: ide %v, ide+offline_access %v, web-app %v; want %+v", ide.RefreshToken != "", off.RefreshToken != "", web.RefreshToken != "", w)
			}
			// offline_access stays in the grant only where the policy gives it a meaning.
			wantScope := "mcp:tools offline_access"
			if policy == RefreshAlways || policy == RefreshNever {
				wantScope = "mcp:tools"
			}
			if off.Scope != wantScope {
				t.Errorf("scope %q, want %q", off.Scope, wantScope)
			}
			if strings.Contains(strings.Join(claimsOf(t, h.e, off.AccessToken).Scope, " "), ScopeOfflineAccess) {
				t.Errorf("offline_access in the access token")
			}
			if policy == RefreshNever {
				oauthErr(t, h.tokenReq(h.e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {publicClient}}), 400, ErrCodeUnsupportedGrantType)
			}
		})
	}
}
