package main

import "unsafe"

// replyHeaders keeps the serialized form of reply header lists the engine
// hands out again and again (the prebuilt discovery replies), so sending
// such a reply allocates nothing. An entry is found by the address of the
// list's first element and used only when every name and value is still
// the very same string (same data pointer and length; strings are
// immutable), so a list that changed, or a new list at a reused address,
// is serialized afresh. It is bounded and emptied when full.
type replyHeaders struct {
	m map[*[2]string]cachedPairs
	// last is the entry used last, checked before the map: a run of
	// requests for one discovery document finds it without hashing.
	last    cachedPairs
	lastKey *[2]string
}

type cachedPairs struct {
	h   [][2]string
	ser []byte
}

const replyHeadersMax = 32

// serialized returns h in proxy-wasm's header map encoding.
func (c *replyHeaders) serialized(h [][2]string) []byte {
	if len(h) == 0 {
		return serializeHeaderPairs(nil)
	}
	key := &h[0]
	if key == c.lastKey && samePairs(c.last.h, h) {
		return c.last.ser
	}
	e, ok := c.m[key]
	if !ok || !samePairs(e.h, h) {
		e = cachedPairs{h: append([][2]string(nil), h...), ser: serializeHeaderPairs(h)}
		if c.m == nil || len(c.m) >= replyHeadersMax {
			c.m = map[*[2]string]cachedPairs{}
		}
		c.m[key] = e
	}
	c.last, c.lastKey = e, key
	return e.ser
}

// samePairs reports whether a and b hold the same strings, by identity.
func samePairs(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		for j := 0; j < 2; j++ {
			if len(a[i][j]) != len(b[i][j]) || unsafe.StringData(a[i][j]) != unsafe.StringData(b[i][j]) {
				return false
			}
		}
	}
	return true
}
