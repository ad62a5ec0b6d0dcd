package authcore

import (
	"strings"
	"sync/atomic"
)

// nameTable interns the method and target names of the JSON-RPC
// operations the guard reads, so that the copies taken out of a body
// (rpcOp.detach: a name reaches the audit trail and the host's filter
// state, which may keep it) are shared between requests instead of
// allocated for each. In wasm every allocation costs its share of the
// collector's work, and a resource's methods and tool names are few.
//
// It is a direct-mapped table: a name's slot is chosen by the token
// cache's hash (its length and its last 32 bytes), a hit is confirmed by comparing the whole name, and a miss takes
// a copy and replaces the slot's name. An interned string is never
// written, so it is as immutable as any copy; a client sending many
// names can only make misses, which cost what a copy always cost.
type nameTable struct {
	slots [nameSlots]atomic.Pointer[string]
}

const (
	nameSlots = 256
	// maxInterned is the longest name the table keeps.
	maxInterned = 64
)

// intern returns a string equal to s that no request buffer backs. s may
// be a view of one.
func (t *nameTable) intern(s string) string {
	if s == "" {
		return ""
	}
	if t == nil || len(s) > maxInterned {
		return strings.Clone(s)
	}
	slot := &t.slots[tokenHash(s)%nameSlots]
	if p := slot.Load(); p != nil && *p == s {
		return *p
	}
	c := strings.Clone(s)
	slot.Store(&c)
	return c
}
