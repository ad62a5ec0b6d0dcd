package authcore

import "strconv"

// itoa and quote are strconv.Itoa and strconv.Quote kept out of line. The
// compiler inlined them at each of their some 190 call sites in the engine,
// nearly all of them building error messages, and in wasm every inlined
// copy is code: out of line they made the module smaller (issue 14).
//
//go:noinline
func itoa(i int) string { return strconv.Itoa(i) }

// quote: see [itoa].
//
//go:noinline
func quote(s string) string { return strconv.Quote(s) }
