package authcore

import (
	"strings"
	"time"
)

// A refresh token is "<gid>.<secret>": the grant id (16 random bytes) names
// the family record grant/<gid>, and the secret (32 random bytes) is kept
// there only as a hash. Every use rotates it (O21 §4.3.1: for public
// clients "MUST ... rotate refresh tokens"; mcpgate rotates for every
// client):
//
//   - the current token yields a new access token and a new refresh token;
//     the old one becomes Previous;
//   - Previous, within the grace window (refresh_tokens.grace) of its
//     rotation, yields the same successor again: a client that refreshes
//     twice at once (two tabs, two processes) keeps its session;
//   - Previous after the grace window, or an older secret of the family
//     (the hashes of the last maxRotated rotated secrets are kept), is
//     reuse: the whole family is revoked, as refresh token rotation
//     prescribes (OAuth 2.1 §4.3.1), with every access token of
//     the grant;
//   - any other secret was never issued: a guess or a forgery built from
//     the grant id (which every access token carries as "gid") is a plain
//     invalid_grant and changes nothing, so knowing a grant id does not let
//     anyone revoke the user's grant.

// parseRefreshToken splits a refresh token; ok is false for a malformed one.
func parseRefreshToken(t string) (gid, secret string, ok bool) {
	gid, secret, ok = strings.Cut(t, ".")
	if !ok || len(gid) != 22 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := b64.DecodeString(gid); err != nil {
		return "", "", false
	}
	if _, err := b64.DecodeString(secret); err != nil {
		return "", "", false
	}
	return gid, secret, true
}

// refreshGrant serves grant_type=refresh_token (O21 §4.3). The token must
// belong to the authenticated client ("MUST ... validate that the refresh
// token was issued to the client"); scope may narrow the new access token
// but never widen it (invalid_scope); resource, if sent, must name the
// grant's resource (invalid_target). The new refresh token keeps the
// grant's full scope (O21 §4.3.3: "identical to that of the refresh token
// included by the client in the request").
func (e *Engine) refreshGrant(req *Request, ca clientAuth, f form) Outcome {
	rt := f["refresh_token"]
	if rt == "" {
		return e.tokenError(req, ca.basic, newError(ErrCodeInvalidRequest, 400, "refresh_token is missing"))
	}
	gid, secret, ok := parseRefreshToken(rt)
	if !ok {
		return e.tokenError(req, ca.basic, invalidRefresh())
	}
	scopeParam, narrowing := f["scope"]
	requested, ok := parseScope(scopeParam)
	if !ok {
		return e.tokenError(req, ca.basic, newError(ErrCodeInvalidScope, 400, "scope must be space-separated scope tokens"))
	}
	var resource string
	if v, sent := f["resource"]; sent {
		r, oe := e.cfg.resolveResourceParam(v)
		if oe != nil {
			return e.tokenError(req, ca.basic, oe)
		}
		resource = r.URI
	}
	c := ca.client
	now := e.now()
	h := hashKey(secret)
	var (
		fail      *Error // a refusal decided while reading the record
		reuse     bool   // the token was reused: revoke
		successor string // the refresh token to answer with
		newToken  string
	)
	newSecret, err := e.randomString(32)
	if err != nil {
		return e.tokenError(req, ca.basic, asError(err))
	}
	newToken = gid + "." + newSecret
	return e.updateGrant(gid, func(g *grantRecord) *grantRecord {
		fail, reuse, successor = nil, false, ""
		switch {
		case g.ClientID != c.ID:
			fail = invalidRefresh()
			return nil
		case g.State != grantActive || !g.Refresh:
			fail = invalidRefresh()
			return nil
		case !now.Before(time.Unix(g.Exp, 0)):
			fail = invalidRefresh()
			return nil
		case resource != "" && resource != g.Resource:
			fail = newError(ErrCodeInvalidTarget, 400, "resource is not part of this grant")
			return nil
		}
		for _, s := range requested {
			if !containsString(g.Scopes, s) {
				fail = newError(ErrCodeInvalidScope, 400, "the scope "+quote(s)+" exceeds the grant; ask the user again with the authorization endpoint")
				return nil
			}
		}
		switch {
		case equalSecret(h, g.Current):
			sealed, err := e.seal(sealSuccessor, gid, []byte(newToken))
			if err != nil {
				fail = asError(err)
				return nil
			}
			n := *g
			if g.Previous != "" {
				n.Rotated = append([]string{g.Previous}, g.Rotated[:min(len(g.Rotated), maxRotated-1)]...)
			}
			n.Previous, n.Current = g.Current, hashKey(newSecret)
			n.RotatedAt = now.Unix()
			n.Successor = sealed
			n.LastUsed = now.Unix()
			n.Exp = e.refreshExpiry(&n, now).Unix()
			successor = newToken
			return &n
		case g.Previous != "" && equalSecret(h, g.Previous) && g.Successor != "" &&
			now.Sub(time.Unix(g.RotatedAt, 0)) <= e.cfg.AS.Refresh.Grace:
			plain, _, err := e.unseal(sealSuccessor, gid, g.Successor)
			if err != nil {
				fail = asError(err)
				return nil
			}
			e.count("mcpgate.token.refresh_grace")
			successor = string(plain)
			return nil
		case !g.wasIssued(h):
			fail = invalidRefresh()
			return nil
		}
		reuse = true
		return nil
	}, func(g *grantRecord, written bool, err error) Outcome {
		switch {
		case err != nil:
			return e.tokenError(req, ca.basic, e.storeError("refresh failed", err))
		case g == nil:
			return e.tokenError(req, ca.basic, invalidRefresh())
		case fail != nil:
			return e.tokenError(req, ca.basic, fail)
		case reuse:
			e.count("mcpgate.token.refresh_reuse")
			e.audit(auditEvent{Event: "refresh_reuse", Subject: g.Subject, ClientID: g.ClientID, Resource: g.Resource, Grant: gid, RequestID: requestID(req)})
			return e.revokeGrant(gid, "refresh token reused", func(error) Outcome {
				return e.tokenError(req, ca.basic, invalidRefresh())
			})
		}
		scopes := g.Scopes
		if narrowing {
			scopes = requested
		}
		return e.refreshIdentity(g, func(claims IdentityClaims, oe *Error) Outcome {
			if oe != nil {
				return e.tokenError(req, ca.basic, oe)
			}
			scopes, oe := e.refreshChecks(req, g, gid, scopes, claims)
			if oe != nil {
				return e.tokenError(req, ca.basic, oe)
			}
			tr, oe := e.mintFor(c.ID, g.Subject, g.Resource, gid, scopes, claims)
			if oe != nil {
				return e.tokenError(req, ca.basic, oe)
			}
			tr.RefreshToken = successor
			return e.tokenReply(req, tr)
		})
	})
}

// invalidRefresh is the one answer to a refresh token that cannot be
// used, whatever the reason (RFC 6749 §5.2: invalid_grant).
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func invalidRefresh() *Error {
	return newError(ErrCodeInvalidGrant, 400, "the refresh token is invalid, expired or revoked")
}
