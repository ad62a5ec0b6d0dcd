//go:build wasm || amd64 || arm64

package authcore

import (
	"strings"
	"testing"
)

func TestWordEqual(t *testing.T) {
	base := strings.Repeat("eyJhbGciOiJFUzI1NiJ9.", 30)
	cases := []struct{ a, b string }{
		{"", ""}, {"a", ""}, {"a", "a"}, {"a", "b"}, {"abcdefgh", "abcdefgh"}, {"abcdefgh", "abcdefgX"},
		{"abcdefghi", "abcdefghi"}, {"abcdefghi", "abcdefghX"}, {"Xbcdefghi", "abcdefghi"},
		{base, base[:len(base)-1] + "x"}, {base, "x" + base[1:]}, {base, base[:300] + "!" + base[301:]},
		{base, strings.Clone(base)}, {base[1:], base[:len(base)-1]},
		// The same bytes (the pointer check), and the same start with
		// another length.
		{base, base}, {base[:9], base[:9]}, {base[:9], base[:10]}, {base[:0], base[:0]},
	}
	for _, c := range cases {
		if got := wordEqual(c.a, c.b); got != (c.a == c.b) {
			t.Errorf("wordEqual(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func FuzzWordEqual(f *testing.F) {
	f.Add("abcdefgh12345", "abcdefgh12345")
	f.Add("abcdefgh12345", "abcdefgh12346")
	f.Fuzz(func(t *testing.T, a, b string) {
		if wordEqual(a, b) != (a == b) {
			t.Fatalf("wordEqual(%q, %q) != (a == b)", a, b)
		}
		// Every suffix too, so unaligned starts are covered.
		for i := 0; i < len(a) && i < 9; i++ {
			if !wordEqual(a[i:], strings.Clone(a[i:])) {
				t.Fatalf("suffix %d of %q not equal to its copy", i, a)
			}
		}
	})
}
