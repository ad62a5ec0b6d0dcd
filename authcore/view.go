package authcore

import "unsafe"

// view returns the bytes of b as a string without copying them. The
// caller promises that nothing writes b while the string, or any string cut
// from it, is in use: b is then as immutable as a string's bytes must be.
// The three callers: an audit line handed to the log once built (its
// buffer is never written again), a JSON-RPC body read while the guard
// decides (what outlives the decision is copied out, rpcOp.detach), and
// the buffer detach itself fills.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
