package main

// streamSlots is the size of a streamTable's array, a power of two well
// above the streams a worker has open at once.
const streamSlots = 256

// streamTable holds a VM's HTTP contexts by context ID: each in the slot
// its ID modulo streamSlots names, or, when another stream has that slot,
// in overflow. A host numbers contexts with a counter, so streams open
// together rarely share a slot, and neither finding nor forgetting one
// hashes anything (a map did both on every request).
type streamTable struct {
	_        [0]func() // not comparable: no equality function in the wasm module
	slots    [streamSlots]*httpContext
	overflow map[uint32]*httpContext
}

// get returns stream id, or nil.
func (t *streamTable) get(id uint32) *httpContext {
	if h := t.slots[id&(streamSlots-1)]; h != nil && h.id == id {
		return h
	}
	if len(t.overflow) == 0 {
		return nil
	}
	return t.overflow[id]
}

// add files h under its ID, which no stream in t has.
func (t *streamTable) add(h *httpContext) {
	if slot := &t.slots[h.id&(streamSlots-1)]; *slot == nil {
		*slot = h
		return
	}
	if t.overflow == nil {
		t.overflow = map[uint32]*httpContext{}
	}
	t.overflow[h.id] = h
}

// remove forgets stream id.
func (t *streamTable) remove(id uint32) {
	if slot := &t.slots[id&(streamSlots-1)]; *slot != nil && (*slot).id == id {
		*slot = nil
		return
	}
	delete(t.overflow, id)
}
