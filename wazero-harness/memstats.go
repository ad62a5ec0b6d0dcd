package harness

// MemoryBytes returns the size of the VM's linear memory in bytes: what
// the module has grown to (wasm memory never shrinks), or 0 for a VM that
// is dead or closed.
func (vm *VM) MemoryBytes() uint64 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.mod == nil || vm.closed || vm.dead.Load() {
		return 0
	}
	return uint64(vm.mod.Memory().Size())
}

// SharedDataStats returns the number of keys in the Host's shared data and
// the bytes of their names and values, as Envoy keeps them (a key, once
// set, is never removed).
func (h *Host) SharedDataStats() (keys int, bytes int64) {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	for k, e := range h.shared.m {
		bytes += int64(len(k) + len(e.value))
	}
	return len(h.shared.m), bytes
}
