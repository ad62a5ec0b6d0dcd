package authcore

import (
	"crypto/sha256"
	"errors"
	"time"
)

// codeGrant redeems an authorization code (O21 §4.1.3). In order:
//
//  1. the code exists and was issued to this client ("MUST ... ensure that
//     the authorization code was issued to the authenticated confidential
//     client, or if the client is public, ensure that the code was issued
//     to client_id in the request");
//  2. BASE64URL(SHA256(code_verifier)) equals the bound code_challenge
//     (RFC 7636 §4.6);
//  3. a code already used, presented again by its client with a valid
//     verifier, is a replay: invalid_grant, and the grant is revoked (RFC
//     6749 §4.1.2, kept by O21: "SHOULD revoke (when possible) all tokens
//     previously issued based on that authorization code"). A wrong verifier or another client does not
//     revoke anything (O21 §7.5.3), or anyone holding a stolen code could
//     kill the user's session;
//  4. redirect_uri equals the one of the authorization request when that
//     one was sent ("their values MUST be identical"), and if sent here
//     otherwise, equals the one used;
//  5. resource, if sent, names the bound resource (invalid_target);
//  6. the code is consumed with compare-and-swap: of concurrent
//     redemptions exactly one wins, and the losers are replays. A code
//     whose consumption could not be recorded yields no token;
//  7. the grant turns active (with a refresh family when the policy says
//     so) by compare-and-swap; a grant a racing replay revoked in between
//     yields an access token that is already revoked, so that of
//     concurrent redemptions exactly one succeeds.
func (e *Engine) codeGrant(req *Request, ca clientAuth, f form) Outcome {
	c := ca.client
	code, verifier := f["code"], f["code_verifier"]
	switch {
	case code == "":
		return e.tokenError(req, ca.basic, newError(ErrCodeInvalidRequest, 400, "code is missing"))
	case verifier == "":
		return e.tokenError(req, ca.basic, newError(ErrCodeInvalidRequest, 400, "code_verifier is missing (PKCE is required)"))
	case !c.hasGrant(GrantAuthorizationCode):
		return e.tokenError(req, ca.basic, newError(ErrCodeUnauthorizedClient, 400, "this client may not use the authorization code grant"))
	case len(code) > 256:
		return e.tokenError(req, ca.basic, invalidCode())
	}
	var tokenResource string
	if v, ok := f["resource"]; ok {
		r, oe := e.cfg.resolveResourceParam(v)
		if oe != nil {
			return e.tokenError(req, ca.basic, oe)
		}
		tokenResource = r.URI
	}
	key := codeKey(code)
	return e.store.Get(key, func(val []byte, ver uint64, err error) Outcome {
		var rec codeRecord
		switch {
		case errors.Is(err, ErrNotFound):
			return e.tokenError(req, ca.basic, invalidCode())
		case err != nil:
			return e.tokenError(req, ca.basic, e.storeError("code lookup failed", err))
		case rec.unmarshal(val) != nil:
			return e.tokenError(req, ca.basic, newError(ErrCodeServerError, 500, "internal error"))
		case !e.now().Before(time.Unix(rec.Exp, 0)):
			return e.tokenError(req, ca.basic, invalidCode())
		case rec.AR.ClientID != c.ID:
			return e.tokenError(req, ca.basic, invalidCode().withCause(errors.New("code issued to another client")))
		case !validPKCEString(verifier) || !equalSecret(pkceS256(verifier), rec.AR.Challenge):
			return e.tokenError(req, ca.basic, newError(ErrCodeInvalidGrant, 400, "code_verifier does not match the code challenge"))
		case rec.Used:
			return e.codeReplay(req, ca, rec.GID)
		}
		ru, sent := f["redirect_uri"]
		if (rec.AR.Explicit || sent) && ru != rec.AR.RedirectURI {
			return e.tokenError(req, ca.basic, newError(ErrCodeInvalidGrant, 400, "redirect_uri does not match the authorization request"))
		}
		if tokenResource != "" && tokenResource != rec.AR.Resource {
			return e.tokenError(req, ca.basic, newError(ErrCodeInvalidTarget, 400, "resource was not authorized with this code"))
		}
		// Keep the used record for the code's full lifetime from now, so a
		// replay in that time is recognised.
		life := e.cfg.Lifetimes.AuthorizationCode
		rec.Used = true
		rec.Exp = e.now().Add(life).Unix()
		used := rec.marshal()
		return e.store.Put(key, used, ver, life, func(err error) Outcome {
			switch {
			case errors.Is(err, ErrConflict):
				return e.codeReplay(req, ca, rec.GID)
			case err != nil:
				return e.tokenError(req, ca.basic, e.storeError("consuming code failed", err))
			}
			return e.activateGrant(req, ca, &rec)
		})
	})
}

// codeReplay answers a second valid redemption and revokes its grant.
func (e *Engine) codeReplay(req *Request, ca clientAuth, gid string) Outcome {
	e.count("mcpgate.token.code_replay")
	return e.revokeGrant(gid, "authorization code redeemed twice", func(error) Outcome {
		return e.tokenError(req, ca.basic, newError(ErrCodeInvalidGrant, 400, "the authorization code was already used"))
	})
}

func invalidCode() *Error {
	return newError(ErrCodeInvalidGrant, 400, "the authorization code is invalid or expired")
}

// pkceS256 is BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) (RFC 7636
// §4.2).
func pkceS256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return b64.EncodeToString(h[:])
}

// activateGrant turns the pending grant of a just-consumed code active and
// issues the tokens.
func (e *Engine) activateGrant(req *Request, ca clientAuth, rec *codeRecord) Outcome {
	c := ca.client
	withRefresh := e.issuesRefresh(c, rec.AR.Scopes)
	var refreshToken, secret string
	if withRefresh {
		var err error
		if secret, err = e.randomString(32); err != nil {
			return e.tokenError(req, ca.basic, asError(err))
		}
		refreshToken = rec.GID + "." + secret
	}
	now := e.now()
	return e.updateGrant(rec.GID, func(g *grantRecord) *grantRecord {
		if g.State != grantPending {
			return nil
		}
		n := *g
		n.State = grantActive
		n.LastUsed = now.Unix()
		if withRefresh {
			n.Refresh = true
			n.Current = hashKey(secret)
			n.Exp = e.refreshExpiry(&n, now).Unix()
		} else {
			// No refresh family: the record only needs to outlive a late
			// replay of the code.
			n.Exp = now.Add(e.cfg.Lifetimes.AuthorizationCode).Unix()
		}
		return &n
	}, func(g *grantRecord, written bool, err error) Outcome {
		switch {
		case err != nil:
			return e.tokenError(req, ca.basic, e.storeError("activating grant failed", err))
		case !written && g != nil && g.State == grantRevoked:
			// A replay of this code, racing, revoked the grant after this
			// request consumed the code: this is still the one
			// redemption, and it gets its access token, which is dead on
			// arrival (the revocation marker was written before the grant
			// record), and no refresh token.
			tr, oe := e.mintFor(c.ID, g.Subject, g.Resource, rec.GID, g.Scopes, g.Claims)
			if oe != nil {
				return e.tokenError(req, ca.basic, oe)
			}
			return e.tokenReply(req, tr)
		case !written:
			// Missing (expired).
			return e.tokenError(req, ca.basic, newError(ErrCodeInvalidGrant, 400, "the authorization grant is no longer valid"))
		}
		if oe := e.codeGrantChecks(req, g, rec.GID); oe != nil {
			return e.tokenError(req, ca.basic, oe)
		}
		tr, oe := e.mintFor(c.ID, g.Subject, g.Resource, rec.GID, g.Scopes, g.Claims)
		if oe != nil {
			return e.tokenError(req, ca.basic, oe)
		}
		tr.RefreshToken = refreshToken
		return e.tokenReply(req, tr)
	})
}

// issuesRefresh applies refresh_tokens.policy (config_as.go) to a client
// and its granted scopes. O21 §4.3 and SEP-2207: issuing a refresh token is
// at the server's discretion; clients must not count on one.
func (e *Engine) issuesRefresh(c *Client, scopes []string) bool {
	offline := containsString(scopes, ScopeOfflineAccess)
	switch e.cfg.AS.Refresh.Policy {
	case RefreshAlways:
		return true
	case RefreshOfflineAccess:
		return offline
	case RefreshGrantType:
		return offline || c.hasGrant(GrantRefreshToken)
	}
	return false
}

// refreshExpiry is when a refresh family dies: at the absolute lifetime
// from the grant's creation, or after the idle lifetime without use,
// whichever comes first (O21 §4.3.1 "refresh tokens SHOULD expire if the
// client has been inactive for some time").
func (e *Engine) refreshExpiry(g *grantRecord, now time.Time) time.Time {
	abs := time.Unix(g.Created, 0).Add(e.cfg.Lifetimes.RefreshToken)
	idle := now.Add(e.cfg.Lifetimes.RefreshIdle)
	if idle.Before(abs) {
		return idle
	}
	return abs
}
