package main

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// sharedStore is the authcore.Store backed by proxy-wasm shared data, which
// every VM (Envoy worker thread) of the same vm_id sees. Each operation
// completes at once.
//
// Shared data has no expiry and no delete, so a record is stored as an
// 8-byte big-endian expiry (Unix nanoseconds) followed by the value; an
// expired or empty record reads as not found, and the VM that wrote a
// record blanks it on a tick after it expires.
//
// Shared data's compare-and-swap checks the version only for existing
// keys: a Put with version 0 is a blind write. authcore only creates keys
// with fresh random names (codes, refresh-token hashes, grants), and every
// contended transition (code consumption, refresh rotation) is a CAS on an
// existing record, which shared data makes atomic across VMs.
type sharedStore struct {
	prefix string
	now    func() time.Time
	// written remembers this VM's records for expiry cleanup.
	written map[string]time.Time
}

var _ authcore.Store = (*sharedStore)(nil)

// maxTracked bounds the records a VM remembers for cleanup (about 100
// bytes each). Unauthenticated requests write no record, so this fills
// only with consumed flows; past it, a record is not tracked and keeps
// its (expired, unreadable) value in shared data.
const maxTracked = 1 << 14

func newSharedStore(issuer string) *sharedStore {
	return &sharedStore{prefix: "mcpgate|" + issuer + "|", now: time.Now, written: map[string]time.Time{}}
}

// Get implements authcore.Store.
func (s *sharedStore) Get(key string, then func([]byte, uint64, error) authcore.Outcome) authcore.Outcome {
	v, cas, err := proxywasm.GetSharedData(s.prefix + key)
	if errors.Is(err, types.ErrorStatusNotFound) {
		return then(nil, 0, authcore.ErrNotFound)
	}
	if err != nil {
		return then(nil, 0, err)
	}
	if len(v) < 8 || s.now().UnixNano() >= int64(binary.BigEndian.Uint64(v)) {
		// Expired or blanked: not found, but a CAS against cas still
		// protects a concurrent re-creation.
		return then(nil, uint64(cas), authcore.ErrNotFound)
	}
	return then(v[8:], uint64(cas), nil)
}

// Put implements authcore.Store.
func (s *sharedStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(error) authcore.Outcome) authcore.Outcome {
	if version > math.MaxUint32 {
		// Not a version this store handed out: it cannot match.
		return then(authcore.ErrConflict)
	}
	exp := s.now().Add(ttl)
	rec := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(rec, uint64(exp.UnixNano()))
	copy(rec[8:], value)
	err := proxywasm.SetSharedData(s.prefix+key, rec, uint32(version))
	if errors.Is(err, types.ErrorStatusCasMismatch) {
		return then(authcore.ErrConflict)
	}
	if err != nil {
		return then(err)
	}
	if len(s.written) < maxTracked {
		s.written[key] = exp
	}
	return then(nil)
}

// sweep blanks this VM's expired records. It runs on the plugin tick.
func (s *sharedStore) sweep() {
	now := s.now()
	for key, exp := range s.written {
		if now.Before(exp) {
			continue
		}
		delete(s.written, key)
		v, cas, err := proxywasm.GetSharedData(s.prefix + key)
		if err != nil || len(v) < 8 || now.UnixNano() < int64(binary.BigEndian.Uint64(v)) {
			continue // gone, or rewritten with a later expiry
		}
		_ = proxywasm.SetSharedData(s.prefix+key, nil, cas)
	}
}
