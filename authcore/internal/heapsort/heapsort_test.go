package heapsort

import (
	"slices"
	"strings"
	"testing"
)

// FuzzStrings: Strings orders any list as slices.Sort does, at every
// length around the switch from insertion sort to heapsort.
func FuzzStrings(f *testing.F) {
	f.Add("")
	f.Add("b a")
	f.Add("m l k j i h g f e d c b a")
	f.Add("a a a b b b c c c a a a b b b")
	f.Add("z y x w v u t s r q p o n m l k j i h g f e d c b a z")
	f.Fuzz(func(t *testing.T, words string) {
		s := strings.Split(words, " ")
		want := slices.Clone(s)
		slices.Sort(want)
		Strings(s)
		if !slices.Equal(s, want) {
			t.Fatalf("Strings = %q, want %q", s, want)
		}
	})
}

// FuzzFunc: Func with a two-key order agrees with slices.SortFunc on the
// keys (the order of equal elements is not kept, and not compared).
func FuzzFunc(f *testing.F) {
	f.Add([]byte{3, 1, 2})
	f.Add([]byte{9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		type pair struct{ hi, lo byte }
		s := make([]pair, len(b))
		for i, c := range b {
			s[i] = pair{c >> 4, c & 15}
		}
		want := slices.Clone(s)
		slices.SortFunc(want, func(a, b pair) int {
			if a.hi != b.hi {
				return int(a.hi) - int(b.hi)
			}
			return int(a.lo) - int(b.lo)
		})
		Func(s, func(a, b *pair) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo })
		if !slices.Equal(s, want) {
			t.Fatalf("Func = %v, want %v", s, want)
		}
	})
}
