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

// addr returns p's address, for a table indexed by an object's identity
// (toolCallHead): Go's collector does not move heap objects, and the
// table keeps the objects it indexes alive, so an address is not reused
// while it is in the table.
func addr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }
