package harness

// proxyLog implements proxy_log(level, message_ptr, message_size).
func proxyLog(vm *VM, stack []uint64) uint32 {
	level := u32(stack, 0)
	if level > LevelCritical {
		return statusBadArgument
	}
	msg, ok := vm.readString(u32(stack, 1), u32(stack, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	vm.h.log(vm.index, int(level), msg)
	return statusOK
}
