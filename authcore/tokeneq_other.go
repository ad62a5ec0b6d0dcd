//go:build !wasm

package authcore

// tokenEqual reports whether a and b are the same string (natively, Go's
// comparison is already vectorised).
func tokenEqual(a, b string) bool { return a == b }
