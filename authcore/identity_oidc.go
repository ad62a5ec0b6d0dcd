package authcore

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jose"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// Upstream login (identity mode "oidc"): the OpenID Connect authorization
// code flow with PKCE and nonce (OpenID Connect Core 1.0 §3.1), with
// mcpgate as the relying party.
//
//  1. /authorize sends the browser to the provider's authorization
//     endpoint. The pending authorization request, the nonce and the PKCE
//     verifier travel sealed in the upstream "state" (no store write), with
//     the hash of a browser cookie: the callback is accepted only from the
//     browser that started the login, which defeats login CSRF and state
//     replay from elsewhere.
//  2. The callback exchanges the code at the provider's token endpoint by
//     an outbound [Call] on the configured cluster.
//  3. The ID token is verified (§3.1.3.7): signature with the provider's
//     JWKS (fetched by [Call], cached per engine), iss, aud, azp, exp, iat
//     and nonce. The configured claim becomes the user's subject.
//  4. Consent follows (consent.go).

// upstreamStateTTL bounds the upstream login: the upstream state is
// single-use and expires with the login attempt (MCP 2026-07-28 security
// considerations, confused deputy).
const upstreamStateTTL = 10 * time.Minute

// upstreamState is sealed into the upstream state parameter.
type upstreamState struct {
	AR       authzRequest `json:"r"`
	Nonce    string       `json:"n"`
	Verifier string       `json:"v"`
	Bind     string       `json:"b"`
	Exp      int64        `json:"e"`
}

// startUpstreamLogin redirects the browser to the upstream provider.
func (e *Engine) startUpstreamLogin(req *Request, c *Client, ar *authzRequest) Outcome {
	o := e.cfg.AS.Identity.OIDC
	var extra Header
	bid := readCookie(req.Headers, e.cfg.cookieName(browserCookie))
	if !validBrowserID(bid) {
		var err error
		if bid, err = e.randomString(32); err != nil {
			return e.errorPage(500, asError(err))
		}
		extra = Header{{"set-cookie", e.cfg.setCookie(browserCookie, bid, 0)}}
	}
	nonce, err1 := e.randomString(16)
	verifier, err2 := e.randomString(32)
	if err1 != nil || err2 != nil {
		return e.errorPage(500, newError(ErrCodeServerError, 500, "internal error"))
	}
	st := upstreamState{AR: *ar, Nonce: nonce, Verifier: verifier, Bind: hashKey(bid), Exp: e.now().Add(upstreamStateTTL).Unix()}
	plain := st.marshal()
	sealed, err := e.seal(sealUpstreamState, "", plain)
	if err != nil {
		return e.errorPage(500, asError(err))
	}
	// The state travels sealed with the browser: starting a login stores
	// nothing, so unauthenticated floods of /authorize cost no store
	// record. It is single-use, recorded when the callback
	// consumes it (consumeLoginState).
	return e.redirectUpstream(o, sealed, nonce, verifier, extra)
}

// loginUsed is the value of a consumed login-state record.
const loginUsed = "used"

// loginStateKey is the Store key of one upstream login, by its nonce.
func loginStateKey(nonce string) string { return "login-state/" + hashKey(nonce) }

// redirectUpstream sends the browser to the upstream authorization
// endpoint with PKCE, nonce and the sealed state.
func (e *Engine) redirectUpstream(o *OIDCConfig, sealed, nonce, verifier string, extra Header) Outcome {
	loc := appendQuery(o.AuthorizationEndpoint, [][2]string{
		{"response_type", "code"},
		{"client_id", o.ClientID},
		{"redirect_uri", e.cfg.url(e.cfg.Endpoints.Callback)},
		{"scope", strings.Join(o.Scopes, " ")},
		{"state", sealed},
		{"nonce", nonce},
		{"code_challenge", pkceS256(verifier)},
		{"code_challenge_method", "S256"},
	})
	e.count("mcpgate.login.started")
	h := Header{{"location", loc}, {"cache-control", "no-store"}, {"referrer-policy", "no-referrer"}}
	return Reply{Status: 302, Headers: append(h, extra...)}
}

// handleCallback receives the browser back from the upstream provider.
func (e *Engine) handleCallback(req *Request) Outcome {
	o := e.cfg.AS.Identity.OIDC
	_, query := req.splitPath()
	f, err := parseForm(query)
	if err != nil {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the sign-in response is malformed"))
	}
	plain, _, err := e.unseal(sealUpstreamState, "", f["state"])
	var st upstreamState
	if err != nil || st.unmarshal(plain) != nil {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the sign-in response is not one this server started; start again from the application"))
	}
	if !e.now().Before(time.Unix(st.Exp, 0)) {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the sign-in took too long; start again from the application"))
	}
	bid := readCookie(req.Headers, e.cfg.cookieName(browserCookie))
	if !validBrowserID(bid) || !equalSecret(hashKey(bid), st.Bind) {
		e.count("mcpgate.login.browser_mismatch")
		return e.errorPage(403, newError(ErrCodeAccessDenied, 403, "the sign-in was started in another browser; start again from the application"))
	}
	// RFC 9207 §2.4: a client that receives iss must compare it with the
	// issuer it sent the request to, by simple string comparison.
	if iss, ok := f["iss"]; ok && iss != o.Issuer {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the sign-in response came from an unexpected issuer"))
	}
	if upstreamErr, ok := f["error"]; ok {
		e.log(LogInfo, "mcpgate: upstream login failed: "+truncate(upstreamErr, 64))
		return e.errorPage(403, newError(ErrCodeAccessDenied, 403, "sign-in at the identity provider did not succeed"))
	}
	code := f["code"]
	if code == "" {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the sign-in response has no code"))
	}
	return e.consumeLoginState(st.Nonce, func() Outcome { return e.exchangeUpstreamCode(req, o, &st, code) })
}

// consumeLoginState records the login as used, exactly once across VMs
// (create-if-absent; see Store.Put for shared data); a second callback with
// the same state is refused.
func (e *Engine) consumeLoginState(nonce string, then func() Outcome) Outcome {
	key := loginStateKey(nonce)
	replay := func() Outcome {
		e.count("mcpgate.login.replay")
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "this sign-in response was already used; start again from the application"))
	}
	return e.store.Get(key, func(_ []byte, version uint64, err error) Outcome {
		if err == nil {
			return replay()
		}
		if err != ErrNotFound {
			oe := e.storeError("reading login state", err)
			return e.errorPage(oe.Status, oe)
		}
		// The record outlives the sealed state (upstreamStateTTL from the
		// callback, at least as long as the state's own expiry).
		return e.store.Put(key, []byte(loginUsed), version, upstreamStateTTL, func(err error) Outcome {
			if err == ErrConflict {
				return replay()
			}
			if err != nil {
				oe := e.storeError("consuming login state", err)
				return e.errorPage(oe.Status, oe)
			}
			return then()
		})
	})
}

// exchangeUpstreamCode redeems the upstream code and verifies the ID token.
func (e *Engine) exchangeUpstreamCode(req *Request, o *OIDCConfig, st *upstreamState, code string) Outcome {
	ar := &st.AR
	params := [][2]string{
		{"grant_type", "authorization_code"},
		{"code", code},
		{"redirect_uri", e.cfg.url(e.cfg.Endpoints.Callback)},
		{"code_verifier", st.Verifier},
	}
	headers := Header{{"content-type", "application/x-www-form-urlencoded"}, {"accept", "application/json"}}
	switch o.TokenEndpointAuthMethod {
	case AuthMethodSecretBasic:
		headers = append(headers, [2]string{"authorization", basicAuth(o.ClientID, o.ClientSecret)})
	case AuthMethodSecretPost:
		params = append(params, [2]string{"client_id", o.ClientID}, [2]string{"client_secret", o.ClientSecret})
	default:
		params = append(params, [2]string{"client_id", o.ClientID})
	}
	body := strings.TrimPrefix(appendQuery("", params), "?")
	return Call{
		Cluster:   o.Cluster,
		Method:    "POST",
		Authority: o.tokenURL.Host,
		Path:      o.tokenURL.RequestURI(),
		Headers:   headers,
		Body:      []byte(body),
		Timeout:   o.Timeout,
		Resume: func(res CallResult) Outcome {
			idToken, err := idTokenFromResponse(res)
			if err != nil {
				e.log(LogError, "mcpgate: upstream token exchange failed: "+err.Error())
				if res.Err == nil && res.Status >= 400 && res.Status < 500 {
					// The provider refused the code (invalid_grant...):
					// retrying this response can never work.
					return e.errorPage(400, newError(ErrCodeAccessDenied, 400, "the identity provider refused the sign-in; start again from the application"))
				}
				return e.errorPage(502, newError(ErrCodeTemporarilyUnavailable, 502, "the identity provider could not complete the sign-in; try again"))
			}
			return e.verifyIDToken(idToken, st.Nonce, func(sub string, err error) Outcome {
				if err != nil {
					e.log(LogWarn, "mcpgate: upstream ID token refused: "+err.Error())
					return e.errorPage(403, newError(ErrCodeAccessDenied, 403, "the identity provider's answer could not be verified"))
				}
				e.count("mcpgate.login.ok")
				return e.loginClaims(res.Body, idToken, ar, func() Outcome {
					return e.resolveClient(ar.ClientID, func(c *Client, oe *Error) Outcome {
						if oe != nil {
							return e.errorPage(400, oe)
						}
						return e.consent(req, c, ar, sub)
					})
				})
			})
		},
	}
}

// idTokenFromResponse reads id_token from a token endpoint response.
func idTokenFromResponse(res CallResult) (string, error) {
	switch {
	case res.Err != nil:
		return "", res.Err
	case res.Status != 200:
		return "", errors.New("status " + itoa(res.Status) + ": " + truncate(string(res.Body), 200))
	case !strictjson.Valid(res.Body, strictjson.Options{AllowDuplicates: true}):
		return "", errors.New("response is not JSON")
	}
	v := jsonv.GetBytes(res.Body, "id_token")
	if v.Type != jsonv.String || v.Str == "" {
		return "", errors.New("response has no id_token")
	}
	return v.Str, nil
}

// idTokenSigningAlgs are the ID token algorithms accepted: RS256, which
// OpenID Connect Core 1.0 §15.1 makes mandatory to implement, and the
// algorithms of the server's own keys.
var idTokenSigningAlgs = []string{jose.RS256, AlgES256, AlgEdDSA}

// maxIDTokenLen bounds the ID tokens read.
const maxIDTokenLen = 16 << 10

// verifyIDToken verifies an ID token (OpenID Connect Core 1.0 §3.1.3.7) and
// returns the configured subject claim. It may need the provider's JWKS,
// fetched by a [Call].
func (e *Engine) verifyIDToken(tok, nonce string, then func(sub string, err error) Outcome) Outcome {
	t, err := jose.Parse(tok, maxIDTokenLen, idTokenSigningAlgs)
	if err != nil {
		return then("", errors.New("ID token refused: "+err.Error()))
	}
	return e.upstreamKey(t.Kid, t.Alg, func(key *jose.Key, err error) Outcome {
		if err != nil {
			return then("", err)
		}
		if e.verifySignature(t.Alg, key.Public, t.SigningInput, t.Signature) != nil {
			return then("", errors.New("bad ID token signature"))
		}
		sub, err := e.checkIDTokenClaims(t, nonce)
		return then(sub, err)
	})
}

// checkIDTokenClaims checks the claims of a signature-verified ID token.
func (e *Engine) checkIDTokenClaims(t *jose.Token, nonce string) (string, error) {
	o := e.cfg.AS.Identity.OIDC
	cl, err := t.Claims()
	if err != nil {
		return "", errors.New("ID token has " + err.Error())
	}
	now := e.now()
	if iss, _ := jose.String(cl, "iss"); iss != o.Issuer {
		return "", errors.New("ID token iss is not the configured issuer")
	}
	auds, ok := jose.Audience(cl)
	if !ok || !containsString(auds, o.ClientID) {
		return "", errors.New("ID token aud does not contain the client id")
	}
	// §3.1.3.7 items 4 and 5: with several audiences azp should be there,
	// and when there it must be our client id.
	if azp, ok := jose.String(cl, "azp"); (ok && azp != o.ClientID) || (!ok && len(auds) > 1) {
		return "", errors.New("ID token azp is not the client id")
	}
	exp, _, ok := jose.NumericDate(cl, "exp")
	if !ok || !now.Before(exp.Add(clockSkew)) {
		return "", errors.New("ID token expired")
	}
	if iat, _, ok := jose.NumericDate(cl, "iat"); ok && now.Add(clockSkew).Before(iat) {
		return "", errors.New("ID token issued in the future")
	}
	if n, _ := jose.String(cl, "nonce"); !equalSecret(n, nonce) {
		return "", errors.New("ID token nonce does not match")
	}
	sub, ok := jose.String(cl, o.SubjectClaim)
	if !ok || sub == "" || len(sub) > maxSubjectLen || clientmeta.HasControl(sub) {
		return "", errors.New("ID token lacks a usable " + o.SubjectClaim + " claim")
	}
	return sub, nil
}

// jwksCache holds the upstream provider's keys for one engine. A fetch
// happens when the cache is empty or older than jwksMaxAge, or when a
// token names an unknown kid (key rotation) and the last fetch is older
// than jwksMinRefetch, which bounds the fetches a stream of forged kids
// can cause.
type jwksCache struct {
	mu      sync.Mutex
	keys    []*jose.Key
	fetched time.Time
}

const (
	jwksMaxAge     = time.Hour
	jwksMinRefetch = 30 * time.Second
	maxJWKSBody    = 64 << 10
)

// lookup returns the key for kid that accepts alg. A token without kid
// matches the only key that accepts its algorithm.
func (c *jwksCache) lookup(kid, alg string) *jose.Key {
	var found *jose.Key
	for _, k := range c.keys {
		if !k.Accepts(alg) || kid != "" && k.Kid != kid {
			continue
		}
		if kid != "" {
			return k
		}
		if found != nil {
			return nil
		}
		found = k
	}
	return found
}

// upstreamKey finds the verification key for kid, fetching the JWKS when
// the cache cannot answer.
func (e *Engine) upstreamKey(kid, alg string, then func(*jose.Key, error) Outcome) Outcome {
	c := &e.as.jwks
	now := e.now()
	c.mu.Lock()
	fresh := c.keys != nil && now.Sub(c.fetched) < jwksMaxAge
	k := c.lookup(kid, alg)
	mayFetch := c.keys == nil || now.Sub(c.fetched) >= jwksMinRefetch
	c.mu.Unlock()
	if k != nil && fresh {
		return then(k, nil)
	}
	if !mayFetch {
		if k != nil {
			return then(k, nil)
		}
		return then(nil, errors.New("no upstream key for kid "+truncate(kid, 64)))
	}
	o := e.cfg.AS.Identity.OIDC
	return Call{
		Cluster:   o.Cluster,
		Method:    "GET",
		Authority: o.jwksURL.Host,
		Path:      o.jwksURL.RequestURI(),
		Headers:   Header{{"accept", "application/json"}},
		Timeout:   o.Timeout,
		Resume: func(res CallResult) Outcome {
			keys, err := parseUpstreamJWKS(res)
			c.mu.Lock()
			if err == nil {
				c.keys, c.fetched = keys, e.now()
			} else if c.keys != nil {
				// Do not refetch at once after a failure either.
				c.fetched = e.now().Add(-jwksMaxAge + jwksMinRefetch)
			}
			k := c.lookup(kid, alg)
			c.mu.Unlock()
			if err != nil {
				e.log(LogError, "mcpgate: fetching upstream JWKS failed: "+err.Error())
			}
			if k == nil {
				return then(nil, errors.New("no upstream key for kid "+truncate(kid, 64)))
			}
			return then(k, nil)
		},
	}
}

// parseUpstreamJWKS reads the provider's JWK Set (RFC 7517 §5) under
// upstreamKeyPolicy, keeping the signature keys mcpgate can verify: RSA of
// 2048 to 8192 bits, EC P-256 and Ed25519. Other keys are skipped, not
// fatal.
func parseUpstreamJWKS(res CallResult) ([]*jose.Key, error) {
	switch {
	case res.Err != nil:
		return nil, res.Err
	case res.Status != 200:
		return nil, errors.New("JWKS status " + itoa(res.Status))
	case len(res.Body) > maxJWKSBody:
		return nil, errors.New("JWKS too large")
	}
	return jose.ParseJWKS(res.Body, &upstreamKeyPolicy)
}
