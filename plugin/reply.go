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
	if e, ok := c.m[key]; ok && samePairs(e.h, h) {
		return e.ser
	}
	ser := serializeHeaderPairs(h)
	if c.m == nil || len(c.m) >= replyHeadersMax {
		c.m = map[*[2]string]cachedPairs{}
	}
	c.m[key] = cachedPairs{h: append([][2]string(nil), h...), ser: ser}
	return ser
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
