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
// The table is bounded by maxKeys and degrades gracefully: when it is full,
// expired windows are dropped (at most four times a window), and if it is
// still full an arbitrary entry is evicted for the newcomer, so a flood
// from many sources never locks out everyone else. An evicted key starts a
// fresh window when it comes back; what that lets a many-source flood
// through is capped by the global backstop: when globalMax > 0, at most
// globalMax events are allowed per window across all keys.
type limiter struct {
	max       int
	window    time.Duration
	maxKeys   int
	globalMax int

	mu        sync.Mutex
	buckets   map[string]*bucket
	global    bucket
	nextSweep time.Time
}

type bucket struct {
	start time.Time
	n     int
}

// newLimiter returns a limiter of perKey events per key and window over at
// most maxKeys keys, and of globalMax events per window in all (0: no
// global bound).
func newLimiter(perKey int, window time.Duration, maxKeys, globalMax int) *limiter {
	return &limiter{max: perKey, window: window, maxKeys: maxKeys, globalMax: globalMax, buckets: map[string]*bucket{}}
}

// allow counts one event for key and reports whether it is within the
// limits.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.globalMax > 0 {
		if now.Sub(l.global.start) >= l.window {
			l.global = bucket{start: now}
		}
		if l.global.n >= l.globalMax {
			return false
		}
	}
	b := l.bucketLocked(key, now)
	if b.n >= l.max {
		return false
	}
	b.n++
	l.global.n++
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
// needed and making room for it when the table is full.
func (l *limiter) bucketLocked(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b != nil && now.Sub(b.start) < l.window {
		return b
	}
	if b == nil && len(l.buckets) >= l.maxKeys {
		if !now.Before(l.nextSweep) {
			for k, old := range l.buckets {
				if now.Sub(old.start) >= l.window {
					delete(l.buckets, k)
				}
			}
			l.nextSweep = now.Add(l.window / 4)
		}
		for k := range l.buckets {
			if len(l.buckets) < l.maxKeys {
				break
			}
			delete(l.buckets, k)
		}
	}
	if b == nil {
		b = &bucket{}
		l.buckets[key] = b
	}
	*b = bucket{start: now}
	return b
}
