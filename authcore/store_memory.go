package authcore

import (
	"sync"
	"time"
)

// MemoryStore is a [Store] held in process memory: a map guarded by a
// mutex, with per-record expiry and compare-and-swap. Every operation
// completes at once (the continuation runs before Get or Put returns).
//
// One MemoryStore may be shared by several engines in one process, which is
// how tests model several proxy-wasm VMs over one shared-data region. It is
// safe for concurrent use.
//
// It follows the rules on [Store]: expired records read as missing (also
// for Put with version 0), and they are swept lazily, every
// memorySweepEvery writes.
type MemoryStore struct {
	now func() time.Time

	mu      sync.Mutex
	records map[string]memRecord
	// version is the last version handed out; versions are never 0.
	version uint64
	// puts counts writes since the last sweep of expired records.
	puts int
}

type memRecord struct {
	value   []byte
	version uint64
	expires time.Time
}

var _ Store = (*MemoryStore)(nil)

// memorySweepEvery is how many writes happen between two sweeps of expired
// records; a sweep costs one pass over the map, so it is amortised.
const memorySweepEvery = 1024

// NewMemoryStore returns an empty store that reads the time from now
// (time.Now when nil).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, records: map[string]memRecord{}}
}

// Get implements [Store]. The value passed to then is a copy.
func (s *MemoryStore) Get(key string, then func(value []byte, version uint64, err error) Outcome) Outcome {
	s.mu.Lock()
	r, ok := s.records[key]
	if ok && !s.now().Before(r.expires) {
		delete(s.records, key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return then(nil, 0, ErrNotFound)
	}
	return then(append([]byte(nil), r.value...), r.version, nil)
}

// Put implements [Store]. A ttl of zero or less stores nothing and reports
// success only when the version check passes, which makes it usable as an
// expiring delete.
func (s *MemoryStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(err error) Outcome) Outcome {
	err := s.put(key, value, version, ttl)
	return then(err)
}

func (s *MemoryStore) put(key string, value []byte, version uint64, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r, ok := s.records[key]
	if ok && !now.Before(r.expires) {
		ok = false
	}
	switch {
	case version == 0 && ok:
		return ErrConflict
	case version != 0 && (!ok || r.version != version):
		return ErrConflict
	}
	if ttl <= 0 {
		delete(s.records, key)
		return nil
	}
	s.version++
	if s.version == 0 {
		s.version = 1
	}
	s.records[key] = memRecord{value: append([]byte(nil), value...), version: s.version, expires: now.Add(ttl)}
	if s.puts++; s.puts >= memorySweepEvery {
		s.puts = 0
		for k, r := range s.records {
			if !now.Before(r.expires) {
				delete(s.records, k)
			}
		}
	}
	return nil
}

// Len reports how many records are stored, expired ones included until the
// next sweep. It is for tests and metrics.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}
