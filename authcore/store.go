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
