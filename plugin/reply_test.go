package main

import (
	"strings"
	"testing"
	"unsafe"
)

// TestReplyHeadersCache: a reply header list seen again is not serialized
// again; a list whose strings changed, or a different list, is.
func TestReplyHeadersCache(t *testing.T) {
	var c replyHeaders
	h := [][2]string{{"content-type", "application/json"}, {"cache-control", "no-cache"}}
	first := c.serialized(h)
	if got, err := parseHeaderPairs(nil, append([]byte(nil), first...)); err != nil || len(got) != 2 || got[1] != h[1] {
		t.Fatalf("serialized form %q, %v", got, err)
	}
	if again := c.serialized(h); unsafe.SliceData(again) != unsafe.SliceData(first) {
		t.Error("the same list was serialized again")
	}
	h[1][1] = strings.Clone("max-age=60") // same slot, new string
	changed := c.serialized(h)
	if got, _ := parseHeaderPairs(nil, append([]byte(nil), changed...)); got[1][1] != "max-age=60" {
		t.Errorf("a changed list was served from the cache: %q", got)
	}
	for i := 0; i < 3*replyHeadersMax; i++ {
		c.serialized([][2]string{{"x", "y"}})
	}
	if len(c.m) > replyHeadersMax {
		t.Errorf("%d cached lists", len(c.m))
	}
	if got, err := parseHeaderPairs(nil, c.serialized(nil)); err != nil || len(got) != 0 {
		t.Errorf("empty list: %q %v", got, err)
	}
}
