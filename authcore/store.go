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
//   - Versions are opaque to authcore, never 0 for a stored record, change
//     on every successful Put of a key, and are wide enough for a
//     replicated store's revision numbers (etcd's are int64).
//   - Values are opaque bytes (small JSON records, at most a few KB). A
//     backend without native expiry (proxy-wasm shared data) must wrap each
//     value with its own expiry time and treat an expired record exactly
//     like a missing one, also for Put with version 0.
//   - Put with version 0 is create-if-absent, atomic across every reader
//     of the store in the backends mcpgate has: memory, etcd (a
//     transaction on the key's create revision), and proxy-wasm shared
//     data, whose records live in a fixed table of buckets created at
//     plugin start, so that every write, a create included, is a
//     compare-and-swap on an existing bucket (plugin/store.go). authcore
//     does not rely on it beyond markers (a replayed jti, a login state):
//     version 0 is used for keys just made from fresh random bytes, or for
//     markers whose concurrent writers all write the same meaning (a
//     revocation, a remembered consent). Every contended transition
//     (consuming a code or a consent ticket, rotating or revoking a
//     refresh family) is a Put with the non-zero version a Get returned.
//   - A backend may hold a bounded number of live records; past it a Put
//     fails with an error wrapping [ErrUnavailable] (shared data: 4096
//     buckets of 32 records), never by dropping a live record.
//   - A Put with a ttl of zero or less deletes the record when the version
//     check passes; other records expire, and a backend must drop expired
//     records on its own (on a tick, lazily, or by leases) to bound memory.
//   - The continuation is called exactly once, either before the method
//     returns or from a [Call]'s Resume. Errors other than [ErrNotFound] and
//     [ErrConflict] are backend failures (unreachable, timed out) and wrap
//     [ErrUnavailable]: authcore never reads them as a missing record or a
//     lost race.
type Store interface {
	// Get reads key. A missing or expired key yields ErrNotFound. version
	// identifies the stored value for a later compare-and-swap.
	Get(key string, then func(value []byte, version uint64, err error) Outcome) Outcome
	// Put writes value under key if the stored version still equals
	// version; version 0 means the key must not exist (or have expired):
	// create-if-absent, atomic across every reader of the store. A lost
	// race yields ErrConflict. ttl bounds
	// the record's life; a ttl of zero or less deletes the record when the
	// version check passes.
	Put(key string, value []byte, version uint64, ttl time.Duration, then func(err error) Outcome) Outcome
}

// Store errors. A backend that cannot answer at the moment (a replicated
// store unreachable, slow past its timeout, or answering errors) reports an
// error that wraps ErrUnavailable; handlers answer temporarily_unavailable
// then, and never hand out a code or token whose record was not stored.
var (
	ErrNotFound    = errors.New("authcore: store: not found")
	ErrConflict    = errors.New("authcore: store: version conflict")
	ErrUnavailable = errors.New("authcore: store: unavailable")
)

// unavailableError wraps ErrUnavailable with what failed; it reads
// "authcore: store: unavailable: " and the detail.
type unavailableError struct{ detail string }

func (e *unavailableError) Error() string { return ErrUnavailable.Error() + ": " + e.detail }
func (e *unavailableError) Unwrap() error { return ErrUnavailable }

// unavailable returns an error wrapping ErrUnavailable with detail.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func unavailable(detail string) error { return &unavailableError{detail: detail} }

// storeError is the OAuth error for a failed store operation: 503
// temporarily_unavailable when the store could not answer (O21 §4.1.2.1:
// "The authorization server is currently unable to handle the request due
// to a temporary overloading or maintenance"), 500 server_error for
// anything else. The cause is logged, never sent.
func (e *Engine) storeError(what string, err error) *Error {
	e.log(LogError, "mcpgate: "+what+": "+err.Error())
	if errors.Is(err, ErrUnavailable) {
		e.count("mcpgate.store.unavailable")
		return newError(ErrCodeTemporarilyUnavailable, 503, "the authorization server is temporarily unavailable; try again shortly")
	}
	return newError(ErrCodeServerError, 500, "internal error")
}
