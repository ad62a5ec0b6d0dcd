package harness

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestHeaderNameConversions(t *testing.T) {
	for _, name := range append(commonHeaders, "x-custom-thing", "X-Custom-Thing", "already-lower", "ÄÖ-Weird", "Bad Name") {
		if got, want := lowerName(name), strings.ToLower(name); got != want {
			t.Errorf("lowerName(%q) = %q, want %q", name, got, want)
		}
		if got, want := lowerName(http.CanonicalHeaderKey(name)), strings.ToLower(http.CanonicalHeaderKey(name)); got != want {
			t.Errorf("lowerName(%q) = %q, want %q", http.CanonicalHeaderKey(name), got, want)
		}
		lower := strings.ToLower(name)
		if got, want := canonicalName(lower), http.CanonicalHeaderKey(lower); got != want {
			t.Errorf("canonicalName(%q) = %q, want %q", lower, got, want)
		}
	}
	for _, n := range []int{0, 42, 99, 100, 200, 418, 503, 599, 600, 999, 1000, -1} {
		if got, want := statusString(n), strconv.Itoa(n); got != want {
			t.Errorf("statusString(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHeaderNameConversionsDoNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = lowerName("Content-Type")
		_ = lowerName("x-lower-already")
		_ = canonicalName("authorization")
		_ = statusString(503)
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}

func TestHeaderMapKey(t *testing.T) {
	m := headerMap{{":path", "/"}, {"content-type", "text/plain"}}
	for _, tt := range []struct{ name, want string }{
		{"content-type", "content-type"},
		{"Content-Type", "content-type"},
		{"x-absent", "x-absent"},
		{"X-Absent", "x-absent"},
		{"X-ÄBC", "x-äbc"},
		{"", ""},
	} {
		if got := m.key([]byte(tt.name)); got != tt.want {
			t.Errorf("key(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = m.key([]byte("content-type")) }); allocs != 0 {
		t.Errorf("key of a present lower-case name: %v allocations, want 0", allocs)
	}
}
