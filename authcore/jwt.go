package authcore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
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

func tokenErr(reason string) error { return &TokenError{Reason: reason} }

// signJWT signs header.payload with k (JWS compact serialization, RFC 7515
// §7.1). ES256 signatures are the 64-byte R || S form of RFC 7518 §3.4.
func signJWT(k *SigningKey, rand interface{ Read([]byte) (int, error) }, header, payload []byte) (string, error) {
	n := b64.EncodedLen(len(header)) + 1 + b64.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+b64.EncodedLen(64))
	b64.Encode(buf, header)
	buf[b64.EncodedLen(len(header))] = '.'
	b64.Encode(buf[b64.EncodedLen(len(header))+1:], payload)
	var sig []byte
	switch priv := k.Private.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(buf)
		r, s, err := ecdsa.Sign(rand, priv, h[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, buf)
	default:
		return "", errors.New("authcore: key " + k.Kid + " cannot sign")
	}
	buf = append(buf, '.')
	return string(b64.AppendEncode(buf, sig)), nil
}

// MintAccessToken signs an RFC 9068 access token with the active key. The
// header carries "typ": "at+jwt" (RFC 9068 §2.1) and the key's kid; the
// claims carry iss, sub, aud, client_id, scope, iat, exp and jti (§2.2).
func (e *Engine) MintAccessToken(c AccessTokenClaims) (string, error) {
	k := e.cfg.activeKey
	header := []byte(`{"alg":"` + k.Alg + `","typ":"at+jwt","kid":` + strconv.Quote(k.Kid) + `}`)
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
	p = append(p, '}')
	return signJWT(k, e.rand, header, p)
}

// parseAccessToken verifies an access token's signature and form and
// returns its claims. It checks (RFC 9068 §4): three base64url parts;
// "typ" at+jwt; "alg" equal to the algorithm the "kid" key is pinned to
// (so "none" and algorithm confusion are impossible); no "crit"; the
// signature; "iss" exactly the issuer. Time and audience are checked by
// the caller, per request, since a cached result outlives the moment.
func (e *Engine) parseAccessToken(token string) (*AccessTokenClaims, error) {
	if len(token) > maxTokenLen {
		return nil, tokenErr("too long")
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return nil, tokenErr("not a JWS compact serialization")
	}
	hb, err := b64.DecodeString(h)
	if err != nil || !gjson.ValidBytes(hb) {
		return nil, tokenErr("malformed header")
	}
	hdr := gjson.ParseBytes(hb)
	if !hdr.IsObject() {
		return nil, tokenErr("malformed header")
	}
	if typ := hdr.Get("typ"); typ.Type != gjson.String || !(strings.EqualFold(typ.Str, "at+jwt") || strings.EqualFold(typ.Str, "application/at+jwt")) {
		return nil, tokenErr("typ is not at+jwt")
	}
	if hdr.Get("crit").Exists() {
		return nil, tokenErr("crit header not supported")
	}
	kid, alg := hdr.Get("kid"), hdr.Get("alg")
	if kid.Type != gjson.String || alg.Type != gjson.String {
		return nil, tokenErr("kid or alg missing")
	}
	key := e.keyByKid(kid.Str)
	if key == nil {
		return nil, tokenErr("unknown kid")
	}
	if alg.Str != key.Alg {
		return nil, tokenErr("alg does not match the key")
	}
	sig, err := b64.DecodeString(s)
	if err != nil {
		return nil, tokenErr("malformed signature")
	}
	if !verifySignature(key, token[:len(h)+1+len(p)], sig) {
		return nil, tokenErr("bad signature")
	}
	pb, err := b64.DecodeString(p)
	if err != nil || !gjson.ValidBytes(pb) {
		return nil, tokenErr("malformed claims")
	}
	claims := gjson.ParseBytes(pb)
	if !claims.IsObject() {
		return nil, tokenErr("malformed claims")
	}
	c := &AccessTokenClaims{}
	var ok bool
	if c.Issuer, ok = claimString(claims, "iss"); !ok || c.Issuer != e.cfg.Issuer {
		return nil, tokenErr("wrong issuer")
	}
	if c.Subject, ok = claimString(claims, "sub"); !ok {
		return nil, tokenErr("sub missing")
	}
	c.ClientID, _ = claimString(claims, "client_id")
	c.JTI, _ = claimString(claims, "jti")
	c.GrantID, _ = claimString(claims, "gid")
	if sc, ok := claimString(claims, "scope"); ok {
		c.Scope = strings.Fields(sc)
		c.scopeString = strings.Join(c.Scope, " ")
	}
	var audOK bool
	if c.Audience, audOK = claimAudience(claims); !audOK {
		return nil, tokenErr("malformed aud")
	}
	if c.Audience == nil {
		return nil, tokenErr("aud missing")
	}
	exp, ok := claimTime(claims, "exp")
	if !ok {
		return nil, tokenErr("exp missing")
	}
	c.Expiry = exp
	if c.IssuedAt, ok = claimTime(claims, "iat"); !ok && claims.Get("iat").Exists() {
		return nil, tokenErr("malformed iat")
	}
	if c.NotBefore, ok = claimTime(claims, "nbf"); !ok && claims.Get("nbf").Exists() {
		return nil, tokenErr("malformed nbf")
	}
	return c, nil
}

// checkTime enforces exp, nbf and iat against now with a bounded skew.
func (c *AccessTokenClaims) checkTime(now time.Time) error {
	if !now.Before(c.Expiry.Add(clockSkew)) {
		return tokenErr("expired")
	}
	if !c.NotBefore.IsZero() && now.Add(clockSkew).Before(c.NotBefore) {
		return tokenErr("not yet valid")
	}
	if !c.IssuedAt.IsZero() && now.Add(clockSkew).Before(c.IssuedAt) {
		return tokenErr("issued in the future")
	}
	return nil
}

// hasAudience reports whether aud contains uri exactly.
func (c *AccessTokenClaims) hasAudience(uri string) bool {
	for _, a := range c.Audience {
		if a == uri {
			return true
		}
	}
	return false
}

func claimString(claims gjson.Result, name string) (string, bool) {
	v := claims.Get(name)
	if v.Type != gjson.String {
		return "", false
	}
	return v.Str, true
}

// claimAudience reads "aud", a string or an array of strings (RFC 7519
// §4.1.3): nil when absent, ok false when malformed.
func claimAudience(claims gjson.Result) (aud []string, ok bool) {
	switch v := claims.Get("aud"); {
	case !v.Exists():
		return nil, true
	case v.Type == gjson.String:
		return []string{v.Str}, true
	case v.IsArray():
		for _, a := range v.Array() {
			if a.Type != gjson.String {
				return nil, false
			}
			aud = append(aud, a.Str)
		}
		return aud, true
	}
	return nil, false
}

func claimTime(claims gjson.Result, name string) (time.Time, bool) {
	v := claims.Get(name)
	if v.Type != gjson.Number || v.Num < 0 || v.Num > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(v.Num), 0), true
}

func (e *Engine) keyByKid(kid string) *SigningKey {
	for _, k := range e.cfg.Keys {
		if k.Kid == kid {
			return k
		}
	}
	return nil
}

// verifySignature checks sig over signed with k, in k's pinned algorithm.
func verifySignature(k *SigningKey, signed string, sig []byte) bool {
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256([]byte(signed))
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, h[:], r, s)
	case ed25519.PublicKey:
		return ed25519.Verify(pub, []byte(signed), sig)
	}
	return false
}
