package authcore

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncGet and syncPut run a store operation whose continuation completes
// at once and return its results.
func syncGet(s Store, key string) (value []byte, version uint64, err error) {
	s.Get(key, func(v []byte, ver uint64, e error) Outcome {
		value, version, err = v, ver, e
		return nil
	})
	return
}

func syncPut(s Store, key string, value []byte, version uint64, ttl time.Duration) (err error) {
	s.Put(key, value, version, ttl, func(e error) Outcome {
		err = e
		return nil
	})
	return
}

func TestMemoryStoreCAS(t *testing.T) {
	clk := newFakeClock()
	s := NewMemoryStore(clk.Now)
	if _, _, err := syncGet(s, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if err := syncPut(s, "k", []byte("a"), 7, time.Minute); !errors.Is(err, ErrConflict) {
		t.Fatalf("put with a version on a missing key: %v", err)
	}
	if err := syncPut(s, "k", []byte("a"), 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := syncPut(s, "k", []byte("b"), 0, time.Minute); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over an existing key: %v", err)
	}
	v, ver, err := syncGet(s, "k")
	if err != nil || string(v) != "a" || ver == 0 {
		t.Fatalf("get = %q %d %v", v, ver, err)
	}
	if err := syncPut(s, "k", []byte("b"), ver, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := syncPut(s, "k", []byte("c"), ver, time.Minute); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale version accepted: %v", err)
	}
	v2, ver2, _ := syncGet(s, "k")
	if string(v2) != "b" || ver2 == ver {
		t.Fatalf("after swap: %q %d", v2, ver2)
	}
	// The returned value is a copy.
	v2[0] = 'x'
	if v3, _, _ := syncGet(s, "k"); string(v3) != "b" {
		t.Fatalf("store aliased the caller's slice")
	}
}

func TestMemoryStoreExpiry(t *testing.T) {
	clk := newFakeClock()
	s := NewMemoryStore(clk.Now)
	_ = syncPut(s, "k", []byte("a"), 0, time.Minute)
	_, ver, _ := syncGet(s, "k")
	clk.Advance(time.Minute)
	if _, _, err := syncGet(s, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired record still readable: %v", err)
	}
	if err := syncPut(s, "k", []byte("b"), ver, time.Minute); !errors.Is(err, ErrConflict) {
		t.Fatalf("CAS on an expired record: %v", err)
	}
	if err := syncPut(s, "k", []byte("b"), 0, time.Minute); err != nil {
		t.Fatalf("create over an expired record: %v", err)
	}
	// ttl <= 0 deletes when the version matches.
	_, ver, _ = syncGet(s, "k")
	if err := syncPut(s, "k", nil, ver, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := syncGet(s, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record readable: %v", err)
	}
}

func TestMemoryStoreSweep(t *testing.T) {
	clk := newFakeClock()
	s := NewMemoryStore(clk.Now)
	for i := 0; i < memorySweepEvery-1; i++ {
		_ = syncPut(s, string(rune('a'+i%26))+itoa64(int64(i)), []byte("x"), 0, time.Second)
	}
	clk.Advance(2 * time.Second)
	_ = syncPut(s, "last", []byte("x"), 0, time.Minute)
	if n := s.Len(); n != 1 {
		t.Errorf("after sweep %d records remain, want 1", n)
	}
}

func TestMemoryStoreConcurrentCAS(t *testing.T) {
	s := NewMemoryStore(nil)
	_ = syncPut(s, "n", []byte{0}, 0, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	_, ver, _ := syncGet(s, "n")
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if syncPut(s, "n", []byte{1}, ver, time.Minute) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d writers won the same CAS, want 1", wins)
	}
}
