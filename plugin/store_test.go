//go:build !wasm

package main

import (
	"errors"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

// storeGet and storePut run the store's continuations synchronously.
func storeGet(s *sharedStore, key string) (v []byte, version uint64, err error) {
	s.Get(key, func(b []byte, ver uint64, e error) authcore.Outcome {
		v, version, err = append([]byte(nil), b...), ver, e
		return nil
	})
	return
}

func storePut(s *sharedStore, key, value string, version uint64, ttl time.Duration) (err error) {
	s.Put(key, []byte(value), version, ttl, func(e error) authcore.Outcome { err = e; return nil })
	return
}

// TestSharedStoreContract runs the authcore.Store contract on the slot
// table over the SDK's shared-data emulator, with one bucket of three
// records so every record shares it: versions, create-if-absent, expiry,
// delete, a full bucket, and a CAS mismatch caused by another record of
// the bucket, which is retried and is not a conflict.
func TestSharedStoreContract(t *testing.T) {
	_, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption())
	defer reset()
	clock := time.Unix(1_700_000_000, 0)
	s := newSharedStoreSized("ns", 1, 3)
	s.now = func() time.Time { return clock }
	if err := s.create(); err != nil {
		t.Fatal(err)
	}

	if _, _, err := storeGet(s, "a"); !errors.Is(err, authcore.ErrNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if err := storePut(s, "a", "one", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	v, ver, err := storeGet(s, "a")
	if err != nil || string(v) != "one" || ver == 0 {
		t.Fatalf("get a = %q %d %v", v, ver, err)
	}
	if err := storePut(s, "a", "two", 0, time.Minute); !errors.Is(err, authcore.ErrConflict) {
		t.Fatalf("create of an existing key: %v, want conflict", err)
	}
	if err := storePut(s, "a", "two", ver+1, time.Minute); !errors.Is(err, authcore.ErrConflict) {
		t.Fatalf("put with a wrong version: %v, want conflict", err)
	}
	// Another record written to the same bucket does not change a's version.
	if err := storePut(s, "b", "bee", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := storePut(s, "a", "two", ver, time.Minute); err != nil {
		t.Fatalf("put with the version read: %v", err)
	}
	v, ver2, err := storeGet(s, "a")
	if err != nil || string(v) != "two" || ver2 == ver || ver2 == 0 {
		t.Fatalf("get a after update = %q %d (was %d) %v", v, ver2, ver, err)
	}
	if err := storePut(s, "a", "three", ver, time.Minute); !errors.Is(err, authcore.ErrConflict) {
		t.Fatalf("put with a stale version: %v, want conflict", err)
	}
	if v, _, err := storeGet(s, "b"); err != nil || string(v) != "bee" {
		t.Fatalf("get b = %q %v", v, err)
	}

	// A CAS mismatch from a write of another record between this Put's
	// read and write: retried, not a conflict.
	other := newSharedStoreSized("ns", 1, 3)
	other.now = func() time.Time { return clock }
	raced := false
	s.now = func() time.Time {
		if !raced {
			raced = true
			if err := storePut(other, "c", "sea", 0, time.Minute); err != nil {
				t.Errorf("concurrent put: %v", err)
			}
		}
		return clock
	}
	if err := storePut(s, "a", "three", ver2, time.Minute); err != nil || !raced {
		t.Fatalf("put racing a write of another record: %v (raced %v)", err, raced)
	}
	s.now = func() time.Time { return clock }
	if v, _, err := storeGet(s, "c"); err != nil || string(v) != "sea" {
		t.Fatalf("the racing record was lost: %q %v", v, err)
	}

	// Three live records fill the bucket: a fourth is unavailable.
	if err := storePut(s, "d", "dee", 0, time.Minute); !errors.Is(err, authcore.ErrUnavailable) {
		t.Fatalf("put into a full bucket: %v, want unavailable", err)
	}
	// Delete frees a slot; the deleted key reads as missing.
	_, verb, _ := storeGet(s, "b")
	if err := storePut(s, "b", "", verb, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := storeGet(s, "b"); !errors.Is(err, authcore.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := storePut(s, "d", "dee", 0, 2*time.Minute); err != nil {
		t.Fatalf("put after a delete: %v", err)
	}

	// Expired records read as missing, can be created again, and their
	// slots are reused.
	clock = clock.Add(90 * time.Second)
	if _, _, err := storeGet(s, "a"); !errors.Is(err, authcore.ErrNotFound) {
		t.Fatalf("get of an expired key: %v", err)
	}
	for _, k := range []string{"a", "e"} {
		if err := storePut(s, k, k, 0, time.Minute); err != nil {
			t.Fatalf("create %s over expired records: %v", k, err)
		}
	}
	if v, _, err := storeGet(s, "d"); err != nil || string(v) != "dee" {
		t.Fatalf("live record d lost: %q %v", v, err)
	}
}

// TestSharedStoreSpreads: keys spread over the buckets and records of
// every bucket are found again.
func TestSharedStoreSpreads(t *testing.T) {
	_, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption())
	defer reset()
	s := newSharedStoreSized("ns", 64, 32)
	if err := s.create(); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for i := range 1000 {
		k := "code:" + string(rune('a'+i%26)) + time.Duration(i).String()
		used[s.bucket(k)] = true
		if err := storePut(s, k, k, 0, time.Minute); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if len(used) != 64 {
		t.Errorf("1000 keys used %d of 64 buckets", len(used))
	}
	for i := range 1000 {
		k := "code:" + string(rune('a'+i%26)) + time.Duration(i).String()
		if v, _, err := storeGet(s, k); err != nil || string(v) != k {
			t.Fatalf("get %d = %q %v", i, v, err)
		}
	}
}

// BenchmarkSharedStore measures a Get and a CAS Put of a 1 KB record in a
// bucket that also holds 16 other live records, on the SDK's emulator.
func BenchmarkSharedStore(b *testing.B) {
	_, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption())
	defer reset()
	s := newSharedStoreSized("ns", 1, 32)
	if err := s.create(); err != nil {
		b.Fatal(err)
	}
	value := string(make([]byte, 1024))
	for i := range 16 {
		if err := storePut(s, "other"+time.Duration(i).String(), value, 0, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	if err := storePut(s, "grant/x", value, 0, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, ver, err := storeGet(s, "grant/x")
		if err != nil {
			b.Fatal(err)
		}
		if err := storePut(s, "grant/x", value, ver, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
