package authcore

import (
	"errors"
	"time"
)

// Store keeps small records that every VM (Envoy worker) must see:
// authorization codes, refresh-token families, revocations, consent.
//
// Operations are written in continuation-passing style so that a backend
// may complete at once (proxy-wasm shared data, memory) or need a round
// trip (a replicated store reached by HTTP callout, which returns a [Call]
// whose Resume invokes the continuation). Handlers never change shape when
// the backend does.
//
// The rules a backend must follow, and what it may rely on in how authcore
// uses it:
//   - Versions are opaque to authcore, never 0 for a stored record, and
//     change on every successful Put of a key.
//   - Values are opaque bytes (small JSON records, at most a few KB). A
//     backend without native expiry (proxy-wasm shared data) must wrap each
//     value with its own expiry time and treat an expired record exactly
//     like a missing one, also for Put with version 0.
//   - Put with version 0 is used only for keys just made from fresh random
//     bytes, or for idempotent markers whose concurrent writers all write
//     the same meaning (a revocation, a remembered consent). Every contended
//     transition (consuming a code or a consent ticket, rotating or revoking
//     a refresh family) is a Put with the non-zero version a Get returned.
//     So a backend whose create-if-absent is not atomic (proxy-wasm shared
//     data: set with cas 0 always succeeds) is still correct.
//   - Nothing is ever deleted: records expire. A backend must drop expired
//     records on its own (on a tick, or lazily) to bound memory.
//   - The continuation is called exactly once, either before the method
//     returns or from a [Call]'s Resume. Errors other than [ErrNotFound] and
//     [ErrConflict] are backend failures (unreachable, timed out): authcore
//     never reads them as a missing record or a lost race.
type Store interface {
	// Get reads key. A missing or expired key yields ErrNotFound. version
	// identifies the stored value for a later compare-and-swap.
	Get(key string, then func(value []byte, version uint32, err error) Outcome) Outcome
	// Put writes value under key if the stored version still equals
	// version; version 0 means the key must not exist (or have expired).
	// A lost race yields ErrConflict. ttl bounds the record's life.
	Put(key string, value []byte, version uint32, ttl time.Duration, then func(err error) Outcome) Outcome
}

// Store errors.
var (
	ErrNotFound = errors.New("authcore: store: not found")
	ErrConflict = errors.New("authcore: store: version conflict")
)
