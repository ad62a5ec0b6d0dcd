//go:build wasm

package authcore

// tokenEqual reports whether a and b are the same string. In wasm, Go's
// string comparison runs a byte loop (internal/bytealg memeqbody, about
// 2.5 µs for a 600-byte token under wazero); wordEqual compares eight bytes
// per step, about five times faster.
func tokenEqual(a, b string) bool { return wordEqual(a, b) }
