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

func TestNameTable(t *testing.T) {
	names := nameTable{}
	first := names.intern([]byte("x-mcpgate-subject"))
	if first != "x-mcpgate-subject" {
		t.Fatalf("intern = %q", first)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = names.intern([]byte("x-mcpgate-subject")) }); allocs != 0 {
		t.Errorf("interning a known name: %v allocations, want 0", allocs)
	}
	for i := range 2 * maxNames {
		if got, want := names.intern([]byte(strconv.Itoa(i))), strconv.Itoa(i); got != want {
			t.Fatalf("intern = %q, want %q", got, want)
		}
	}
	if len(names) != maxNames {
		t.Errorf("the table holds %d names, want the limit %d", len(names), maxNames)
	}
}
