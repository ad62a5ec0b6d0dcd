package harness

import "sync"

// sharedData is the key-value store shared by all VMs of a Host, like
// Envoy's shared data of one vm_id. CAS values follow the proxy-wasm C++
// host: one counter starting at 1 (never 0) gives every successful set a
// new CAS; a set with CAS 0 is unconditional; a set with a non-zero CAS on
// an existing key must match its current CAS or fails with CasMismatch; a
// set on a missing key always succeeds.
type sharedData struct {
	mu      sync.Mutex
	m       map[string]sharedEntry
	nextCas uint32
}

type sharedEntry struct {
	value []byte
	cas   uint32
}

func (d *sharedData) init() {
	d.m = map[string]sharedEntry{}
	d.nextCas = 1
}

// get returns a copy of the value and its CAS.
func (d *sharedData) get(key string) ([]byte, uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[key]
	if !ok {
		return nil, 0, false
	}
	return append([]byte(nil), e.value...), e.cas, true
}

// set stores value (which it keeps; pass a copy) under the CAS rules and
// returns a proxy-wasm status.
func (d *sharedData) set(key string, value []byte, cas uint32) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.m[key]; ok && cas != 0 && cas != e.cas {
		return statusCasMismatch
	}
	next := d.nextCas
	d.nextCas++
	if d.nextCas == 0 {
		d.nextCas = 1
	}
	d.m[key] = sharedEntry{value: value, cas: next}
	return statusOK
}

// proxyGetSharedData implements proxy_get_shared_data(key_ptr, key_size,
// value_ptr_ptr, value_size_ptr, cas_ptr).
func proxyGetSharedData(vm *VM, stack []uint64) uint32 {
	key, ok := vm.readString(u32(stack, 0), u32(stack, 1))
	if !ok {
		return statusInvalidMemoryAccess
	}
	value, cas, found := vm.h.shared.get(key)
	if !found {
		return statusNotFound
	}
	if st := vm.returnBytes(value, u32(stack, 2), u32(stack, 3)); st != statusOK {
		return st
	}
	if !vm.putU32(u32(stack, 4), cas) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// proxySetSharedData implements proxy_set_shared_data(key_ptr, key_size,
// value_ptr, value_size, cas).
func proxySetSharedData(vm *VM, stack []uint64) uint32 {
	key, ok1 := vm.readString(u32(stack, 0), u32(stack, 1))
	value, ok2 := vm.readCopy(u32(stack, 2), u32(stack, 3))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	return vm.h.shared.set(key, value, u32(stack, 4))
}

// SharedData returns the value and CAS stored under key in the Host's
// shared data, as every VM sees it.
func (h *Host) SharedData(key string) (value []byte, cas uint32, ok bool) {
	return h.shared.get(key)
}

// SetSharedData stores value under key with the same CAS rules as
// proxy_set_shared_data (cas 0 is unconditional). It returns
// ErrCasMismatch when cas does not match the key's current CAS.
func (h *Host) SetSharedData(key string, value []byte, cas uint32) error {
	if h.shared.set(key, append([]byte(nil), value...), cas) == statusCasMismatch {
		return ErrCasMismatch
	}
	return nil
}
