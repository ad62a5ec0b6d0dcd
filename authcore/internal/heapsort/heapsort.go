// Package heapsort sorts slices in place: insertion sort up to 12
// elements, heapsort beyond, so O(n log n) on any input and no allocation.
//
// It exists for the wasm module's size (issue 14): slices.Sort and
// sort.Strings link pdqsort's instance for strings, and slices.SortFunc one
// per element type, each about 20 KB; this is one small function per type.
// It is not stable, which no caller needs: the keys it sorts are distinct
// or indistinguishable.
package heapsort

// Func sorts s so that less never reports an element smaller than the one
// before it.
func Func[T any](s []T, less func(a, b *T) bool) {
	if len(s) <= 12 {
		for i := 1; i < len(s); i++ {
			for j := i; j > 0 && less(&s[j], &s[j-1]); j-- {
				s[j], s[j-1] = s[j-1], s[j]
			}
		}
		return
	}
	down := func(root, end int) {
		for {
			child := 2*root + 1
			if child >= end {
				return
			}
			if child+1 < end && less(&s[child], &s[child+1]) {
				child++
			}
			if !less(&s[root], &s[child]) {
				return
			}
			s[root], s[child] = s[child], s[root]
			root = child
		}
	}
	for i := len(s)/2 - 1; i >= 0; i-- {
		down(i, len(s))
	}
	for end := len(s) - 1; end > 0; end-- {
		s[0], s[end] = s[end], s[0]
		down(0, end)
	}
}

// Strings sorts s in increasing order, as sort.Strings does.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func Strings(s []string) { Func(s, func(a, b *string) bool { return *a < *b }) }
