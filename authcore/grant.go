package authcore

import (
	"errors"
	"sync/atomic"
	"time"
)

// A grant is one user's approval of one client for one resource and set of
// scopes. It is born with its authorization code, and every token derived
// from the code carries its id (the "gid" claim of access tokens, the
// prefix of refresh tokens). Records, all in the Store:
//
//	code/<hash of code>      codeRecord, consumed once by CAS
//	grant/<gid>              grantRecord: pending, active, or revoked; for a
//	                         grant with refresh tokens, the refresh family
//	grant-revoked/<gid>      marker the resource guard checks (guard.go)
//
// The grant record is created with the code, before any redemption, so
// that every later transition (activation at redemption, rotation,
// revocation) is a compare-and-swap on an existing record (store_memory.go
// explains why that matters for proxy-wasm shared data).

// Grant record states.
const (
	grantPending = "pending"
	grantActive  = "active"
	grantRevoked = "revoked"
)

// grantRecord is stored at grant/<gid>.
type grantRecord struct {
	State    string   `json:"st"`
	ClientID string   `json:"c"`
	Subject  string   `json:"u"`
	Resource string   `json:"a"`
	Scopes   []string `json:"o,omitempty"`
	// Created is when the code was issued; the absolute refresh lifetime
	// counts from it.
	Created int64 `json:"t"`
	// Exp is when the record expires (its Store TTL, kept here so a
	// rewrite keeps it).
	Exp int64 `json:"e"`
	// Refresh tells that refresh tokens are issued for this grant.
	Refresh  bool  `json:"rt,omitempty"`
	LastUsed int64 `json:"l,omitempty"`
	// Current and Previous are hashes of the current and the just-rotated
	// refresh token secrets; RotatedAt is when Previous was rotated.
	Current   string `json:"h,omitempty"`
	Previous  string `json:"p,omitempty"`
	RotatedAt int64  `json:"r,omitempty"`
	// Successor is the current refresh token, sealed, so that a duplicate
	// refresh of Previous within the grace window gets the same one.
	Successor string `json:"n,omitempty"`
	// Claims are the user's identity claims (claims.go).
	Claims IdentityClaims `json:"cl,omitempty"`
	// Upstream is the upstream access token, sealed, for re-reading the
	// claims from the UserInfo endpoint at refresh (claims.go).
	Upstream string `json:"up,omitempty"`
	// Rotated holds the hashes of the secrets rotated before Previous,
	// newest first, at most maxRotated: the verifiers that let reuse be
	// told from a guess (token_refresh.go).
	Rotated []string `json:"o2,omitempty"`
}

// maxRotated bounds grantRecord.Rotated. A secret rotated longer ago than
// that (maxRotated+1 refreshes) is refused as invalid without revoking.
const maxRotated = 15

// wasIssued reports whether h is the hash of a secret this family issued
// and rotated: Previous or one of Rotated.
func (g *grantRecord) wasIssued(h string) bool {
	if g.Previous != "" && equalSecret(h, g.Previous) {
		return true
	}
	for _, r := range g.Rotated {
		if equalSecret(h, r) {
			return true
		}
	}
	return false
}

// codeRecord is stored at code/<hash of code>.
type codeRecord struct {
	AR      authzRequest `json:"r"`
	Subject string       `json:"u"`
	GID     string       `json:"g"`
	Used    bool         `json:"x,omitempty"`
	Exp     int64        `json:"e"`
}

func grantKey(gid string) string { return "grant/" + gid }
func codeKey(code string) string { return "code/" + hashKey(code) }

// issueCode creates a grant and its authorization code (O21 §4.1.2: "The
// authorization code MUST expire shortly after it is issued ... A maximum
// authorization code lifetime of 10 minutes is RECOMMENDED"; the lifetime is
// lifetimes.authorization_code, at most 10 minutes). Both keys are fresh
// random values, so the creates cannot race.
func (e *Engine) issueCode(ar *authzRequest, sub string, then func(code string, oe *Error) Outcome) Outcome {
	gid, err1 := e.randomString(16)
	code, err2 := e.randomString(32)
	if err1 != nil || err2 != nil {
		return then("", newError(ErrCodeServerError, 500, "internal error"))
	}
	now := e.now()
	life := e.cfg.Lifetimes.AuthorizationCode
	g := grantRecord{
		State: grantPending, ClientID: ar.ClientID, Subject: sub, Resource: ar.Resource,
		Scopes: ar.Scopes, Created: now.Unix(), Exp: now.Add(life + time.Minute).Unix(),
		Claims: ar.Claims, Upstream: ar.Upstream,
	}
	gval := g.marshal()
	return e.store.Put(grantKey(gid), gval, 0, life+time.Minute, func(err error) Outcome {
		if err != nil {
			return then("", e.storeError("storing grant failed", err))
		}
		c := codeRecord{AR: *ar, Subject: sub, GID: gid, Exp: now.Add(life).Unix()}
		cval := c.marshal()
		return e.store.Put(codeKey(code), cval, 0, life, func(err error) Outcome {
			if err != nil {
				return then("", e.storeError("storing authorization code failed", err))
			}
			e.count("mcpgate.authorize.code_issued")
			e.audit(auditEvent{Event: "code_issued", Subject: sub, ClientID: ar.ClientID, Resource: ar.Resource, Grant: gid, Scopes: ar.Scopes})
			return then(code, nil)
		})
	})
}

// maxCASAttempts bounds retries of a compare-and-swap lost to a concurrent
// writer of the same record.
const maxCASAttempts = 5

// updateGrant reads grant/<gid>, lets change decide the new record, and
// writes it with compare-and-swap, retrying a lost race. change returns
// the record to write, or nil to write nothing; done receives the record
// as last read (nil when missing), whether change's record was written,
// and a store failure.
func (e *Engine) updateGrant(gid string, change func(g *grantRecord) *grantRecord, done func(g *grantRecord, written bool, err error) Outcome) Outcome {
	var attempt func(n int) Outcome
	attempt = func(n int) Outcome {
		return e.store.Get(grantKey(gid), func(val []byte, ver uint64, err error) Outcome {
			if errors.Is(err, ErrNotFound) {
				return done(nil, false, nil)
			}
			if err != nil {
				return done(nil, false, err)
			}
			var g grantRecord
			if err := g.unmarshal(val); err != nil {
				return done(nil, false, err)
			}
			next := change(&g)
			if next == nil {
				return done(&g, false, nil)
			}
			nval := next.marshal()
			ttl := time.Unix(next.Exp, 0).Sub(e.now())
			if ttl < time.Second {
				ttl = time.Second
			}
			return e.store.Put(grantKey(gid), nval, ver, ttl, func(err error) Outcome {
				switch {
				case errors.Is(err, ErrConflict) && n+1 < maxCASAttempts:
					return attempt(n + 1)
				case err != nil:
					return done(&g, false, err)
				}
				return done(next, true, nil)
			})
		})
	}
	return attempt(0)
}

// revokeGrant revokes a grant and everything derived from it: on code
// replay (RFC 6749 §4.1.2, kept by O21: the server "MUST deny the request
// and SHOULD revoke (when possible) all tokens previously issued based on
// that authorization code") and on refresh token reuse (O21 §4.3.1). It
// writes the grant-revoked marker, which the resource guard checks for the
// access tokens already out, for as long as any can live, and marks the
// grant record revoked, which kills the refresh family. then receives the
// first store failure (logged), or nil once both are written.
func (e *Engine) revokeGrant(gid, why string, then func(err error) Outcome) Outcome {
	e.log(LogWarn, "mcpgate: revoking grant "+gid+": "+why)
	e.count("mcpgate.grant.revoked")
	e.audit(auditEvent{Event: "grant_revoked", Grant: gid, Reason: why})
	markerTTL := e.cfg.Lifetimes.AccessToken + 2*clockSkew + time.Minute
	return e.store.Get(revokedGrantKey(gid), func(_ []byte, ver uint64, err error) Outcome {
		if err != nil && !errors.Is(err, ErrNotFound) {
			e.log(LogError, "mcpgate: revocation marker lookup failed: "+err.Error())
			return then(err)
		}
		// Already marked: extend it, as tokens may have been minted
		// since. Missing: create it (ver is then 0, or an expired
		// marker's version).
		return e.store.Put(revokedGrantKey(gid), []byte(why), ver, markerTTL, func(err error) Outcome {
			if err != nil && !errors.Is(err, ErrConflict) {
				// A conflict is a concurrent revocation: marked anyway.
				e.log(LogError, "mcpgate: writing revocation marker failed: "+err.Error())
				return then(err)
			}
			// This VM's cached "grant live" answers end now (guard.go).
			atomic.AddInt64(&e.grantEpoch, 1)
			return e.updateGrant(gid, func(g *grantRecord) *grantRecord {
				if g.State == grantRevoked {
					return nil
				}
				n := *g
				n.State = grantRevoked
				n.Successor = ""
				// Keep the revoked record at least as long as the marker,
				// so a late activation of a pending grant finds it.
				if min := e.now().Add(markerTTL).Unix(); n.Exp < min {
					n.Exp = min
				}
				return &n
			}, func(_ *grantRecord, _ bool, err error) Outcome {
				if err != nil {
					e.log(LogError, "mcpgate: revoking grant record failed: "+err.Error())
				}
				return then(err)
			})
		})
	})
}
