package authcore

import (
	"strings"
	"time"
)

// tokenCache remembers verified tokens, keyed by the exact token string,
// so a token pays signature verification once per VM. It is bounded and
// its entries expire with their token. It lives in the Engine, which is
// rebuilt on every configuration change, so no entry outlives the keys it
// was verified with.
//
// It is a hash table of its own rather than a map[string]: in wasm, Go's
// string hashing and comparison go byte by byte, which for a token of
// several hundred bytes cost microseconds on every request. Entries are
// found by a cheap hash of the token's tail (the signature, which differs
// between any two tokens) and confirmed by comparing the whole token
// (tokenEqual, word by word where that is safe), so a hash collision can
// only cost time, never return another token's claims. Only verified
// tokens are ever inserted, so a client cannot fill a bucket.
type tokenCache struct {
	mu      vmLock
	entries map[uint64]*cachedToken
	n       int
	max     int
}

// cachedToken is one verified token; tokens whose hashes collide chain.
type cachedToken struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	token  string
	claims *AccessTokenClaims
	next   *cachedToken
}

const tokenCacheSize = 4096

// tokenHashTail is how many trailing bytes of a token its hash covers.
const tokenHashTail = 32

// tokenHash is FNV-1a over the token's length and its last tokenHashTail
// bytes.
func tokenHash(token string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(len(token))
	h *= 1099511628211
	for i := max(len(token)-tokenHashTail, 0); i < len(token); i++ {
		h ^= uint64(token[i])
		h *= 1099511628211
	}
	return h
}

// get returns the claims cached for token, or nil. Nothing between Lock
// and Unlock can panic, so the unlock is not deferred (a deferred call is
// two more calls in wasm, on every request).
func (c *tokenCache) get(token string) *AccessTokenClaims {
	c.mu.Lock()
	var claims *AccessTokenClaims
	for e := c.entries[tokenHash(token)]; e != nil; e = e.next {
		if tokenEqual(e.token, token) {
			claims = e.claims
			break
		}
	}
	c.mu.Unlock()
	return claims
}

// put caches claims for token (a copy of it: the caller's string may be a
// view of a request buffer).
func (c *tokenCache) put(token string, claims *AccessTokenClaims, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[uint64]*cachedToken{}
	}
	h := tokenHash(token)
	for e := c.entries[h]; e != nil; e = e.next {
		if tokenEqual(e.token, token) {
			e.claims = claims
			return
		}
	}
	if c.n >= c.max {
		c.evict(now)
	}
	c.entries[h] = &cachedToken{token: strings.Clone(token), claims: claims, next: c.entries[h]}
	c.n++
}

// evict drops expired entries and, if the cache is still full, an
// arbitrary eighth of it (map order is random). c.mu must be held.
func (c *tokenCache) evict(now time.Time) {
	for h, e := range c.entries {
		var head, tail *cachedToken
		for ; e != nil; e = e.next {
			if !now.Before(e.claims.Expiry.Add(clockSkew)) {
				c.n--
				continue
			}
			if tail == nil {
				head = e
			} else {
				tail.next = e
			}
			tail = e
		}
		if tail != nil {
			tail.next = nil
		}
		if head == nil {
			delete(c.entries, h)
		} else {
			c.entries[h] = head
		}
	}
	for h := range c.entries {
		if c.n < c.max-c.max/8 {
			break
		}
		for e := c.entries[h]; e != nil; e = e.next {
			c.n--
		}
		delete(c.entries, h)
	}
}
