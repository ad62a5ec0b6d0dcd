package main

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// sharedStore is the authcore.Store backed by proxy-wasm shared data, which
// every VM (Envoy worker thread) of the same vm_id sees. Each operation
// completes at once.
//
// Shared data has no expiry and no delete: a key once written stays in
// Envoy for the life of the process. So records do not get keys of their
// own. A fixed table of storeBuckets shared-data keys (created at plugin
// start) holds them, a record living in the bucket its key hashes to
// (FNV-1a); the number of shared-data keys the store uses is fixed, however
// many flows come and go. A bucket is, in binary:
//
//	counter uint64                 (bumped on every write of the bucket)
//	records, each:
//	  klen uint16, key [klen]byte
//	  expiry int64                 (Unix nanoseconds)
//	  version uint64               (the counter value that wrote it)
//	  vlen uint32, value [vlen]byte
//
// An expired record reads as not found and is dropped by the next write of
// its bucket. A record's version is the bucket counter of the write that
// stored it, so it is never 0 and never comes back after a delete.
//
// A Put reads the bucket, checks the record's version, and writes the
// bucket back with shared data's compare-and-swap on the bucket's cas. A
// CAS mismatch only says that some record of the bucket changed: the Put
// reads again and retries (storeRetries times), and reports
// authcore.ErrConflict only when its own record's version no longer
// matches. Because the bucket exists, a Put with version 0 is a CAS too:
// create-if-absent is atomic across VMs.
//
// Capacity: a bucket holds at most storeBucketRecords live records, so the
// store holds storeBuckets×storeBucketRecords (131,072) live records; a
// Put into a bucket full of live records fails with an error wrapping
// authcore.ErrUnavailable (503 temporarily_unavailable), never by
// dropping a live record.
type sharedStore struct {
	now     func() time.Time
	buckets []string // the shared-data key of each bucket
	records int      // live records a bucket may hold
}

var _ authcore.Store = (*sharedStore)(nil)

// The default table: 4096 buckets of up to 32 live records. With records
// spread uniformly, 30,000 live records (codes live a minute; grants and
// markers up to the refresh lifetime) load a bucket with 7.3 on average
// and the fullest of 4096 with under 25. A bucket of typical records (a
// grant is a few hundred bytes to a few KB) is a few KB to a few tens of
// KB: that is what a Put copies.
const (
	storeBuckets       = 4096
	storeBucketRecords = 32
	storeRetries       = 16
)

// errBucketFull: the record's bucket holds storeBucketRecords live records.
var errBucketFull = unavailable("shared-data store bucket full")

func newSharedStore(namespace string) *sharedStore {
	return newSharedStoreSized(namespace, storeBuckets, storeBucketRecords)
}

func newSharedStoreSized(namespace string, buckets, records int) *sharedStore {
	s := &sharedStore{now: time.Now, buckets: make([]string, buckets), records: records}
	prefix := "mcpgate|" + namespace + "|b"
	for i := range s.buckets {
		s.buckets[i] = prefix + strconv.Itoa(i)
	}
	return s
}

// create makes every bucket that does not exist yet, so that later writes
// are all compare-and-swaps. It runs in plugin start (shared data cannot be
// reached earlier). VMs starting together may both find a bucket missing
// and both write it empty: nothing is lost, no VM serves before its start
// is done.
func (s *sharedStore) create() error {
	var empty [8]byte
	for _, k := range s.buckets {
		_, _, err := getSharedData(k)
		if errors.Is(err, types.ErrorStatusNotFound) {
			err = setSharedData(k, empty[:], 0)
		}
		if err != nil {
			return wrap("shared-data bucket "+k+": "+err.Error(), err)
		}
	}
	return nil
}

// bucket returns the shared-data key of key's bucket (FNV-1a, 64 bits).
func (s *sharedStore) bucket(key string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return s.buckets[h%uint64(len(s.buckets))]
}

// record is one parsed record of a bucket: b[start:end] is its encoding.
type record struct {
	key        []byte
	exp        int64
	version    uint64
	value      []byte
	start, end int
}

// next parses the record at b[off:]; ok is false at the end of the bucket
// or on a truncated record (the rest of the bucket is then ignored).
func next(b []byte, off int) (r record, ok bool) {
	if len(b)-off < 2 {
		return r, false
	}
	kl := int(binary.BigEndian.Uint16(b[off:]))
	p := off + 2
	if len(b)-p < kl+20 {
		return r, false
	}
	r.key = b[p : p+kl]
	p += kl
	r.exp = int64(binary.BigEndian.Uint64(b[p:]))
	r.version = binary.BigEndian.Uint64(b[p+8:])
	vl := int(binary.BigEndian.Uint32(b[p+16:]))
	p += 20
	if vl < 0 || len(b)-p < vl {
		return r, false
	}
	r.value = b[p : p+vl : p+vl]
	r.start, r.end = off, p+vl
	return r, true
}

// Get implements authcore.Store.
func (s *sharedStore) Get(key string, then func([]byte, uint64, error) authcore.Outcome) authcore.Outcome {
	b, _, err := getSharedData(s.bucket(key))
	if errors.Is(err, types.ErrorStatusNotFound) {
		return then(nil, 0, authcore.ErrNotFound)
	}
	if err != nil {
		return then(nil, 0, unavailable("shared data: "+err.Error()))
	}
	now := s.now().UnixNano()
	for off := 8; ; {
		r, ok := next(b, off)
		if !ok {
			break
		}
		if string(r.key) == key {
			if now >= r.exp {
				break
			}
			return then(r.value, r.version, nil)
		}
		off = r.end
	}
	return then(nil, 0, authcore.ErrNotFound)
}

// Put implements authcore.Store.
func (s *sharedStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(error) authcore.Outcome) authcore.Outcome {
	if len(key) > 0xffff || uint64(len(value)) > 0xffffffff {
		return then(errors.New("shared-data store: record " + strconv.Quote(key) + " too large"))
	}
	bk := s.bucket(key)
	for range storeRetries {
		err := s.put(bk, key, value, version, ttl)
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			return then(err)
		}
		// Another record of the bucket changed since the read: read again.
	}
	return then(unavailable("shared-data bucket " + bk + ": contended " + strconv.Itoa(storeRetries) + " times"))
}

// put is one read-check-write attempt of Put. It returns
// types.ErrorStatusCasMismatch when the bucket changed under it.
func (s *sharedStore) put(bk, key string, value []byte, version uint64, ttl time.Duration) error {
	b, cas, err := getSharedData(bk)
	if errors.Is(err, types.ErrorStatusNotFound) {
		// Not created at start (a failed create): the first write is
		// blind, every later one a CAS.
		b, cas, err = make([]byte, 8), 0, nil
	}
	if err != nil {
		return unavailable("shared data: " + err.Error())
	}
	if len(b) < 8 {
		b = make([]byte, 8)
	}
	now := s.now().UnixNano()
	counter := binary.BigEndian.Uint64(b) + 1
	size := len(b)
	if ttl > 0 {
		size += 2 + len(key) + 20 + len(value)
	}
	out := make([]byte, 8, size)
	binary.BigEndian.PutUint64(out, counter)
	var found uint64
	live := 0
	for off := 8; ; {
		r, ok := next(b, off)
		if !ok {
			break
		}
		off = r.end
		if now >= r.exp {
			continue // expired: dropped
		}
		if string(r.key) == key {
			found = r.version
			continue
		}
		out = append(out, b[r.start:r.end]...)
		live++
	}
	if found != version {
		return authcore.ErrConflict
	}
	if ttl > 0 {
		if live >= s.records {
			return errBucketFull
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(key)))
		out = append(out, key...)
		exp := now + int64(ttl)
		if exp < now {
			exp = math.MaxInt64 // overflow: never expires
		}
		out = binary.BigEndian.AppendUint64(out, uint64(exp))
		out = binary.BigEndian.AppendUint64(out, counter)
		out = binary.BigEndian.AppendUint32(out, uint32(len(value)))
		out = append(out, value...)
	}
	err = setSharedData(bk, out, cas)
	if err != nil && !errors.Is(err, types.ErrorStatusCasMismatch) {
		return unavailable("shared data: " + err.Error())
	}
	return err
}
