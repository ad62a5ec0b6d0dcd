package authcore

import (
	"sync"
	"sync/atomic"
	"time"
)

// Revocation across VMs and instances. A JWT access token cannot be
// recalled, so revoking a grant (a replayed code, a reused refresh token, a
// revocation request; RFC 7009 §2.1: the server "MAY revoke the respective
// access tokens as well") writes a grant-revoked marker to the Store, and
// the guard looks for it. To keep that read off the hot path, a VM trusts
// a "not revoked" answer for store.revocation_recheck (default 1 s), per
// token (fields of the cached claims, read without a lock) and per grant
// (a bounded map, so a grant's fresh access token after a refresh does not
// read again): each VM reads a grant's marker at most once per interval,
// however many of its tokens arrive. A revocation therefore stops the
// grant's tokens at once on the VM that made it (which forgets every
// cached answer) and on every other VM and instance within the interval.
//
// When the store cannot answer the read, store.revocation_outage decides:
// "deny" (the default) answers 503 temporarily_unavailable, "allow" lets
// the otherwise valid token through without the recheck.

// revokedGrantKey is the Store key that marks a grant (an authorization
// code and every token derived from it) as revoked.
func revokedGrantKey(gid string) string { return "grant-revoked/" + gid }

// grantLiveMax bounds the per-VM map of grants found live.
const grantLiveMax = 4096

// grantLive is the per-VM map of grants found not revoked; the zero value
// is ready.
type grantLive struct {
	mu sync.Mutex
	m  map[string]grantLiveEntry
}

type grantLiveEntry struct {
	until int64 // Unix nanoseconds
	epoch int64 // the Engine's grantEpoch when found live
}

// get returns the entry for gid when it is still valid at now for epoch.
func (g *grantLive) get(gid string, now int64, epoch int64) (grantLiveEntry, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	en, ok := g.m[gid]
	return en, ok && now < en.until && en.epoch == epoch
}

// put records gid live until en.until, dropping stale entries when full.
func (g *grantLive) put(gid string, en grantLiveEntry, now int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]grantLiveEntry{}
	}
	if _, ok := g.m[gid]; !ok && len(g.m) >= grantLiveMax {
		for k, v := range g.m {
			if now >= v.until {
				delete(g.m, k)
			}
		}
		if len(g.m) >= grantLiveMax {
			clear(g.m)
		}
	}
	g.m[gid] = en
}

// grantKnownLive reports whether this VM found claims' grant not revoked
// less than the recheck interval ago and has revoked no grant since.
func (e *Engine) grantKnownLive(claims *AccessTokenClaims, now time.Time) bool {
	return now.UnixNano() < atomic.LoadInt64(&claims.grantLiveUntil) &&
		atomic.LoadInt64(&claims.grantEpoch) == atomic.LoadInt64(&e.grantEpoch)
}

// checkGrant finishes the guard for a token whose grant this VM has not
// found live within the interval: from the per-grant map, or by reading
// the revocation marker.
func (e *Engine) checkGrant(req *Request, r *Resource, claims *AccessTokenClaims, now time.Time) Outcome {
	epoch := atomic.LoadInt64(&e.grantEpoch)
	remember := func(en grantLiveEntry) {
		atomic.StoreInt64(&claims.grantEpoch, en.epoch)
		atomic.StoreInt64(&claims.grantLiveUntil, en.until)
	}
	if en, ok := e.grantsLive.get(claims.GrantID, now.UnixNano(), epoch); ok {
		remember(en)
		return e.authorize(req, r, claims, now)
	}
	return e.store.Get(revokedGrantKey(claims.GrantID), func(_ []byte, _ uint64, err error) Outcome {
		switch {
		case err == ErrNotFound:
			en := grantLiveEntry{until: now.Add(e.cfg.Store.RevocationRecheck).UnixNano(), epoch: epoch}
			remember(en)
			e.grantsLive.put(claims.GrantID, en, now.UnixNano())
			// The store may have answered after a callout: read the
			// clock again for the admin state's freshness.
			return e.authorize(req, r, claims, e.now())
		case err == nil:
			return e.deny(req, r, denyRevoked, 401, ErrCodeInvalidToken, "the access token is invalid or expired", nil)
		}
		e.log(LogError, "mcpgate: revocation lookup failed: "+err.Error())
		// Not remembered: the next request tries the store again.
		return e.revocationOutage(req, func() Outcome { return e.authorize(req, r, claims, e.now()) })
	})
}

// revocationOutage answers a guarded request whose revocation status the
// store cannot tell (a grant's marker, the operators' record): by
// store.revocation_outage, let it on (then) or answer 503.
func (e *Engine) revocationOutage(req *Request, then func() Outcome) Outcome {
	if e.cfg.Store.RevocationOutage == RevocationOutageAllow {
		e.count("mcpgate.guard.revocation_unchecked")
		return then()
	}
	e.count("mcpgate.guard.denied.store_unavailable")
	oe := newError(ErrCodeTemporarilyUnavailable, 503, "the revocation status of this token cannot be checked right now; try again shortly")
	return e.withCORS(req, jsonError(oe, Header{{"retry-after", "1"}, {"cache-control", "no-store"}}))
}
