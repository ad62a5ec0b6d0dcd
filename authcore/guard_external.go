package authcore

import (
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jose"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// Token acceptance when trusted issuers are configured: which issuer a
// token is from, and whether the resource accepts that issuer's tokens.
// The guard's behaviour after that (challenges, per-tool scopes, no token
// passthrough, identity headers) is the same for every issuer.

// Reasons a token of a trusted issuer is refused, counted as
// "mcpgate.guard.denied.<reason>"; the client always gets 401
// invalid_token (RFC 6750 §3.1).
const (
	denyUnknownIssuer   = "unknown_issuer"   // iss is no issuer mcpgate knows
	denyUntrustedIssuer = "untrusted_issuer" // an issuer the resource does not trust
	denyBadHeader       = "bad_header"       // alg or typ not accepted for the issuer
	denyUnknownKey      = "unknown_kid"      // no key of the issuer's JWK Set fits
	denyBadSignature    = "bad_signature"
	denyBadClaims       = "bad_claims" // sub, exp or aud missing or malformed
	denyInactive        = "inactive"   // introspection: "active": false
	denyOpaque          = "opaque"     // not a JWT, and no issuer of the resource introspects
	denyUnavailable     = "issuer_unavailable"
)

// verifyAnyIssuer verifies a token not found in the cache when trusted
// issuers are configured: a JWS is routed by its (not yet verified) "iss"
// claim to mcpgate's own keys or to the trusted issuer of that name;
// anything else is an opaque token for introspection.
func (e *Engine) verifyAnyIssuer(req *Request, r *Resource, token string) Outcome {
	if len(token) > maxTokenLen {
		return e.deny(req, r, denyInvalidToken, 401, ErrCodeInvalidToken, "the access token is invalid or expired", nil)
	}
	if !looksLikeJWS(token) {
		return e.introspectFor(req, r, token)
	}
	j, err := jose.Parse(token, maxTokenLen, jose.Algorithms)
	if err != nil {
		e.log(LogDebug, "mcpgate: token refused: "+err.Error())
		return e.denyToken(req, r, denyBadHeader)
	}
	claims, err := j.Claims()
	if err != nil {
		return e.denyToken(req, r, denyBadClaims)
	}
	iss, _ := jose.String(claims, "iss")
	if iss == e.cfg.Issuer && iss != "" {
		claims, reason := e.verifyToken(token)
		if reason != "" {
			return e.denyToken(req, r, reason)
		}
		return e.admit(req, r, claims, e.now())
	}
	ti := e.cfg.trustedIssuer(iss)
	switch {
	case ti == nil:
		return e.denyToken(req, r, denyUnknownIssuer)
	case !r.trusts(ti):
		// Refused before any key is fetched for it.
		return e.denyToken(req, r, denyUntrustedIssuer)
	case !ti.acceptsHeader(j):
		return e.denyToken(req, r, denyBadHeader)
	}
	return e.issuerKeys(ti, j.Kid, func(ks *issuerKeySet, kerr *Error) Outcome {
		if kerr != nil {
			return e.unavailable(req, r, kerr)
		}
		if !ks.has(j.Kid) {
			return e.denyToken(req, r, denyUnknownKey)
		}
		if err := e.verifyIssuerToken(ks, j); err != nil {
			e.log(LogDebug, "mcpgate: token of "+ti.Issuer+" refused: "+err.Error())
			return e.denyToken(req, r, denyBadSignature)
		}
		claims, reason := ti.claims(claims)
		if reason != "" {
			return e.denyToken(req, r, reason)
		}
		now := e.now()
		e.cacheToken(token, claims, now)
		return e.admit(req, r, claims, now)
	})
}

// cacheToken remembers verified claims for token until they expire, with
// the Forward its requests become.
func (e *Engine) cacheToken(token string, c *AccessTokenClaims, now time.Time) {
	if now.Before(c.Expiry.Add(clockSkew)) {
		c.forward = Forward{Remove: e.stripHeaders, Set: e.identityHeaders(c)}
		e.tokens.put(token, c, now)
	}
}

// denyToken refuses a token: 401 invalid_token, counted under reason.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (e *Engine) denyToken(req *Request, r *Resource, reason string) Outcome {
	return e.deny(req, r, reason, 401, ErrCodeInvalidToken, "the access token is invalid or expired", nil)
}

// unavailable answers a request whose token cannot be checked now (the
// issuer's keys or introspection endpoint cannot be reached): 503, fail
// closed, never let through.
func (e *Engine) unavailable(req *Request, r *Resource, err *Error) Outcome {
	e.count("mcpgate.guard.denied." + denyUnavailable)
	reply := jsonError(err, Header{{"retry-after", "5"}})
	return e.withCORS(req, reply)
}

// acceptsToken says why r refuses verified claims, or "" when it accepts
// them: the issuer must be one r trusts and "aud" must name r (its
// resource URI, or an audience configured for the issuer).
func (r *Resource) acceptsToken(c *AccessTokenClaims) string {
	if c.issuer == nil {
		switch {
		case !r.trustsOwn:
			return denyUntrustedIssuer
		case !c.hasAudience(r.URI):
			return denyWrongAudience
		}
		return ""
	}
	if !r.trusts(c.issuer) {
		return denyUntrustedIssuer
	}
	if auds := c.issuer.Audiences; auds != nil {
		if !anyIn(c.Audience, auds) {
			return denyWrongAudience
		}
	} else if !c.hasAudience(r.URI) {
		return denyWrongAudience
	}
	return ""
}

// acceptsHeader checks a JWS header against the issuer's settings: "alg"
// one of Algorithms (never "none" or HMAC: RFC 8725 §3.1, §3.2), "typ"
// one of TokenTypes (RFC 9068 §4: "Resource servers MUST verify that the
// typ header value is "at+jwt" or "application/at+jwt"" when only at+jwt
// is configured; RFC 7515 §4.1.9 lets "application/" be left out).
func (ti *TrustedIssuer) acceptsHeader(j *jose.Token) bool {
	if !containsString(ti.Algorithms, j.Alg) {
		return false
	}
	typ := j.Typ
	if typ == "" && j.Header.Get("typ").Exists() {
		return false // present but empty
	}
	if len(typ) > 12 && strings.EqualFold(typ[:12], "application/") {
		typ = typ[12:]
	}
	return containsFold(ti.TokenTypes, typ)
}

// claims reads the claims of a verified token of ti in the shapes real
// issuers produce: "aud" a string or an array (RFC 7519 §4.1.3); scopes
// in the first present of ScopeClaims, a space-separated string
// (Keycloak, Auth0, Entra ID "scp") or an array (Okta "scp"); the client
// in "client_id" (RFC 9068 §2.2), "azp" (Keycloak, Auth0, Entra ID v2),
// "appid" (Entra ID v1) or "cid" (Okta); "sub" and "exp" required (RFC
// 9068 §2.2).
func (ti *TrustedIssuer) claims(cl jsonv.Result) (*AccessTokenClaims, string) {
	c := &AccessTokenClaims{issuer: ti}
	var ok bool
	if c.Issuer, ok = jose.String(cl, "iss"); !ok || c.Issuer != ti.Issuer {
		return nil, denyUnknownIssuer
	}
	if c.Subject, ok = jose.String(cl, "sub"); !ok || c.Subject == "" {
		return nil, denyBadClaims
	}
	if c.Audience, ok = jose.Audience(cl); !ok || len(c.Audience) == 0 {
		return nil, denyBadClaims
	}
	if !readTimes(cl, c, true) {
		return nil, denyBadClaims
	}
	for _, name := range []string{"client_id", "azp", "appid", "cid"} {
		if id, ok := jose.String(cl, name); ok && id != "" {
			c.ClientID = id
			break
		}
	}
	c.JTI, _ = jose.String(cl, "jti")
	if c.Scope, ok = ti.scopes(cl); !ok {
		return nil, denyBadClaims
	}
	c.scopeString = strings.Join(c.Scope, " ")
	return c, ""
}

// readTimes reads "exp" (required when needExp), "iat" and "nbf" into c;
// ok is false when one is malformed.
func readTimes(cl jsonv.Result, c *AccessTokenClaims, needExp bool) bool {
	var present, ok bool
	if c.Expiry, present, ok = jose.NumericDate(cl, "exp"); present && !ok || needExp && !present {
		return false
	}
	if c.IssuedAt, present, ok = jose.NumericDate(cl, "iat"); present && !ok {
		return false
	}
	if c.NotBefore, present, ok = jose.NumericDate(cl, "nbf"); present && !ok {
		return false
	}
	return true
}

// scopes reads the first present of the issuer's scope claims.
func (ti *TrustedIssuer) scopes(cl jsonv.Result) ([]string, bool) {
	for _, name := range ti.ScopeClaims {
		v := cl.Get(name)
		switch {
		case !v.Exists():
			continue
		case v.Type == jsonv.String:
			return clientmeta.SplitScope(v.Str), true
		case v.IsArray():
			var out []string
			for _, s := range v.Array() {
				if s.Type != jsonv.String || strings.ContainsAny(s.Str, " \t\n") {
					return nil, false
				}
				out = append(out, s.Str)
			}
			return out, true
		}
		return nil, false
	}
	return nil, true
}
