package authcore

import (
	"sync"
	"time"
)

// limiter counts events per key in fixed windows and refuses beyond max. It
// lives in one engine, so in the filter it counts per proxy-wasm VM (Envoy
// worker thread): the bound for a whole host is workers × max. That is
// enough to stop floods without a shared-data round trip on every request.
//
// The table is bounded: when it is full, expired windows are dropped, and if
// it is still full, unknown keys are refused (fail closed), which only
// happens under a flood from more than maxKeys sources.
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	start time.Time
	n     int
}

func newLimiter(max int, window time.Duration, maxKeys int) *limiter {
	return &limiter{max: max, window: window, maxKeys: maxKeys, buckets: map[string]*bucket{}}
}

// allow counts one event for key and reports whether it is within the limit.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, now)
	if b == nil {
		return false
	}
	if b.n >= l.max {
		return false
	}
	b.n++
	return true
}

// exceeded reports whether key is at its limit, without counting.
func (l *limiter) exceeded(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	return b != nil && now.Sub(b.start) < l.window && b.n >= l.max
}

// bucketLocked returns the current window of key, starting a new one when
// needed; nil when the table is full.
func (l *limiter) bucketLocked(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b != nil && now.Sub(b.start) < l.window {
		return b
	}
	if b == nil && len(l.buckets) >= l.maxKeys {
		for k, old := range l.buckets {
			if now.Sub(old.start) >= l.window {
				delete(l.buckets, k)
			}
		}
		if len(l.buckets) >= l.maxKeys {
			return nil
		}
	}
	b = &bucket{start: now}
	l.buckets[key] = b
	return b
}
