package authcore

import (
	"strconv"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// AccessTokenClaims are the claims of an RFC 9068 JWT access token.
type AccessTokenClaims struct {
	Issuer   string
	Subject  string
	Audience []string
	ClientID string
	Scope    []string
	IssuedAt time.Time
	Expiry   time.Time
	// NotBefore is zero when absent.
	NotBefore time.Time
	JTI       string
	// GrantID links the token to its authorization grant (the code or
	// refresh family) so a revoked grant can be recognised.
	GrantID string
	// Identity holds the user's identity claims configured for access
	// tokens ("authorization_server.claims.access_token", claims.go),
	// written as top-level claims of the same names.
	Identity IdentityClaims

	// scopeString is the "scope" claim as received, for the identity header.
	scopeString string
	// forward is what an allowed request with this token becomes, set
	// when the verified token is cached, so the hot path allocates nothing.
	forward Outcome
	// grantLiveUntil (Unix nanoseconds, read and written atomically) is
	// until when this VM need not look up the grant's revocation again
	// (guard_revocation.go).
	grantLiveUntil int64
	// grantEpoch is the Engine's grantEpoch when the grant was found live.
	grantEpoch int64
	// issuer is the trusted external issuer of the token, nil for
	// mcpgate's own (guard_external.go).
	issuer *TrustedIssuer
	// recheckAt (Unix nanoseconds) is when an introspected token must be
	// introspected again; 0 for a JWT.
	recheckAt int64
}

// Limits of what the token parser accepts.
const (
	maxTokenLen = 8192
	// clockSkew is the allowance for exp, nbf and iat between hosts.
	clockSkew = 30 * time.Second
)

// TokenError says why a token was refused. The reason is for logs and
// metrics; clients only ever see invalid_token.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return "authcore: invalid token: " + e.Reason }

// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func tokenErr(reason string) error { return &TokenError{Reason: reason} }

// MintAccessToken signs an RFC 9068 access token with the active key. The
// header carries "typ": "at+jwt" (RFC 9068 §2.1) and the key's kid; the
// claims carry iss, sub, aud, client_id, scope, iat, exp and jti (§2.2).
func (e *Engine) MintAccessToken(c AccessTokenClaims) (string, error) {
	k := e.cfg.activeKey
	header := []byte(`{"alg":"` + k.Alg + `","typ":"at+jwt","kid":` + quote(k.Kid) + `}`)
	p := make([]byte, 0, 256)
	p = append(p, `{"iss":`...)
	p = appendJSONString(p, c.Issuer)
	p = append(p, `,"sub":`...)
	p = appendJSONString(p, c.Subject)
	p = append(p, `,"aud":`...)
	if len(c.Audience) == 1 {
		p = appendJSONString(p, c.Audience[0])
	} else {
		p = append(p, '[')
		for i, a := range c.Audience {
			if i > 0 {
				p = append(p, ',')
			}
			p = appendJSONString(p, a)
		}
		p = append(p, ']')
	}
	p = append(p, `,"client_id":`...)
	p = appendJSONString(p, c.ClientID)
	if len(c.Scope) > 0 {
		p = append(p, `,"scope":`...)
		p = appendJSONString(p, strings.Join(c.Scope, " "))
	}
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, c.IssuedAt.Unix(), 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, c.Expiry.Unix(), 10)
	p = append(p, `,"jti":`...)
	p = appendJSONString(p, c.JTI)
	if c.GrantID != "" {
		p = append(p, `,"gid":`...)
		p = appendJSONString(p, c.GrantID)
	}
	p = e.appendTokenClaims(p, c.Identity)
	p = append(p, '}')
	return e.signJWS(k, header, p)
}

// parseAccessToken verifies an access token's signature and form and
// returns its claims. It checks (RFC 9068 §4): three base64url parts;
// "typ" at+jwt; "alg" equal to the algorithm the "kid" key is pinned to
// (so "none" and algorithm confusion are impossible); no "crit"; the
// signature; "iss" exactly the issuer. Time and audience are checked by
// the caller, per request, since a cached result outlives the moment.
func (e *Engine) parseAccessToken(token string) (*AccessTokenClaims, error) {
	t, err := jose.Parse(token, maxTokenLen, accessTokenAlgs)
	if err != nil {
		return nil, tokenErr(err.Error())
	}
	if !(strings.EqualFold(t.Typ, "at+jwt") || strings.EqualFold(t.Typ, "application/at+jwt")) {
		return nil, tokenErr("typ is not at+jwt")
	}
	key := e.keyByKid(t.Kid)
	if key == nil {
		return nil, tokenErr("unknown kid")
	}
	if t.Alg != key.Alg {
		return nil, tokenErr("alg does not match the key")
	}
	valid, share := e.verifyTokenSignature(token, key, t.SigningInput, t.Signature)
	if !valid {
		return nil, tokenErr("bad signature")
	}
	claims, err := t.Claims()
	if err != nil {
		return nil, tokenErr(err.Error())
	}
	c := &AccessTokenClaims{}
	var ok bool
	if c.Issuer, ok = jose.String(claims, "iss"); !ok || c.Issuer != e.cfg.Issuer {
		return nil, tokenErr("wrong issuer")
	}
	if c.Subject, ok = jose.String(claims, "sub"); !ok {
		return nil, tokenErr("sub missing")
	}
	c.ClientID, _ = jose.String(claims, "client_id")
	c.JTI, _ = jose.String(claims, "jti")
	c.GrantID, _ = jose.String(claims, "gid")
	if sc, ok := jose.String(claims, "scope"); ok {
		c.Scope = clientmeta.SplitScope(sc)
		c.scopeString = strings.Join(c.Scope, " ")
	}
	var audOK bool
	if c.Audience, audOK = jose.Audience(claims); !audOK {
		return nil, tokenErr("malformed aud")
	}
	if c.Audience == nil {
		return nil, tokenErr("aud missing")
	}
	var present bool
	if c.Expiry, _, ok = jose.NumericDate(claims, "exp"); !ok {
		return nil, tokenErr("exp missing")
	}
	if c.IssuedAt, present, ok = jose.NumericDate(claims, "iat"); present && !ok {
		return nil, tokenErr("malformed iat")
	}
	if c.NotBefore, present, ok = jose.NumericDate(claims, "nbf"); present && !ok {
		return nil, tokenErr("malformed nbf")
	}
	e.share.record(share, c.Expiry)
	return c, nil
}

// accessTokenAlgs are the algorithms of the server's own keys.
var accessTokenAlgs = []string{AlgES256, AlgEdDSA}

// checkTime enforces exp, nbf and iat against now with a bounded skew.
// The times are compared as Unix nanoseconds (unixNano), which is exact
// for every time the clock can read; checkTimeSlow, the same rules in
// time.Time arithmetic, is its test oracle.
func (c *AccessTokenClaims) checkTime(now time.Time) error {
	n, late := unixNano(now), addSat(unixNano(now), int64(clockSkew))
	if n >= addSat(unixNano(c.Expiry), int64(clockSkew)) {
		return tokenErr("expired")
	}
	if !c.NotBefore.IsZero() && late < unixNano(c.NotBefore) {
		return tokenErr("not yet valid")
	}
	if !c.IssuedAt.IsZero() && late < unixNano(c.IssuedAt) {
		return tokenErr("issued in the future")
	}
	return nil
}

// hasAudience reports whether aud contains uri exactly.
func (c *AccessTokenClaims) hasAudience(uri string) bool {
	for _, a := range c.Audience {
		if tokenEqual(a, uri) { // one call in wasm, where == is two
			return true
		}
	}
	return false
}

func (e *Engine) keyByKid(kid string) *SigningKey {
	for _, k := range e.cfg.Keys {
		if k.Kid == kid {
			return k
		}
	}
	return nil
}
