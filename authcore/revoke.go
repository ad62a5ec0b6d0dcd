package authcore

import (
	"errors"
	"strings"
)

// handleRevoke serves the revocation endpoint (RFC 7009 §2). The client
// authenticates as at the token endpoint. Then:
//
//   - a refresh token of this client revokes its grant: the refresh family
//     and the access tokens derived from it (§2.1: the server "MAY revoke
//     the respective access tokens as well"). The token must be one the
//     family issued (its current secret or a rotated one, checked against
//     their hashes): the grant id alone, which every access token carries,
//     with a made-up secret revokes nothing (§2.1: the server "first
//     validates the client credentials ... and then verifies whether the
//     token was issued to the client making the revocation request");
//   - an access token of this client (a JWT mcpgate signed, with a grant
//     id) revokes its grant the same way, since a JWT cannot be revoked
//     alone;
//   - anything else, including a token of another client, changes nothing.
//     The answer is 200 in every case: "invalid tokens do not cause an
//     error response since the client cannot handle such an error in a
//     reasonable way" (§2.2), and a uniform answer tells a client nothing
//     about tokens that are not its own.
//
// token_type_hint is accepted and ignored: mcpgate recognises both kinds.
func (e *Engine) handleRevoke(req *Request) Outcome {
	return e.readTokenForm(req, func(f form) Outcome {
		token := f["token"]
		if token == "" {
			return e.tokenError(req, false, newError(ErrCodeInvalidRequest, 400, "token is missing"))
		}
		return e.authenticateClient(req, f, func(ca clientAuth, oe *Error) Outcome {
			if oe != nil {
				return e.tokenError(req, ca.basic, oe)
			}
			// A revocation the store could not record is not
			// answered 200: the client would believe it done.
			done := func(err error) Outcome {
				if err != nil {
					return e.tokenError(req, ca.basic, e.storeError("revocation failed", err))
				}
				return e.withCORS(req, Reply{Status: 200, Headers: Header{{"cache-control", "no-store"}, {"pragma", "no-cache"}}})
			}
			if gid, secret, ok := parseRefreshToken(token); ok {
				return e.store.Get(grantKey(gid), func(val []byte, _ uint64, err error) Outcome {
					if err != nil && !errors.Is(err, ErrNotFound) {
						return done(err)
					}
					var g grantRecord
					if err != nil || g.unmarshal(val) != nil || g.ClientID != ca.client.ID || g.State == grantRevoked {
						return done(nil)
					}
					if h := hashKey(secret); !equalSecret(h, g.Current) && !g.wasIssued(h) {
						return done(nil)
					}
					e.count("mcpgate.revoke.refresh_token")
					return e.revokeGrant(gid, "revoked by the client", done)
				})
			}
			if strings.Count(token, ".") == 2 {
				claims, err := e.parseAccessToken(token)
				if err == nil && claims.ClientID == ca.client.ID && claims.GrantID != "" {
					e.count("mcpgate.revoke.access_token")
					return e.revokeGrant(claims.GrantID, "revoked by the client", done)
				}
			}
			return done(nil)
		})
	})
}
