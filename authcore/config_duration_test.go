package authcore

import (
	"testing"
	"time"
)

// FuzzParseDuration holds parseDuration to time.ParseDuration: the same
// strings accepted, with the same values.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "-0", "+0", "90s", "1.5h", "2h45m", ".5s", "5.s", ".s", "1", "1x", "300ms", "1µs", "1μs", "1us", "1ns",
		"9223372036854775807ns", "9223372036854775808ns", "-9223372036854775808ns", "2562047h47m16.854775807s", "2562047h47m16.854775808s",
		"0.00000000000000000000000000001s", "1.23456789012345678901234567890h", "", "-", "+", "h", "1h-1m", "1.2.3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDuration(s)
		want, err := time.ParseDuration(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseDuration(%q) = %v, %v; time.ParseDuration: %v, %v", s, got, ok, want, err)
		}
	})
}
