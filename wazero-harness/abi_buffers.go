package harness

// proxy-wasm buffer types.
const (
	bufferRequestBody     = 0
	bufferResponseBody    = 1
	bufferDownstreamData  = 2
	bufferUpstreamData    = 3
	bufferHTTPCallBody    = 4
	bufferGrpcReceive     = 5
	bufferVMConfiguration = 6
	bufferPluginConfig    = 7
	bufferCallData        = 8
	bufferTypeMax         = bufferCallData
)

// bodyFor returns the request or response body buffer of the effective
// stream if Envoy would expose it now: during a body callback and while
// the filter buffers (paused body), not after it let the body through.
func (vm *VM) bodyFor(t uint32) *direction {
	s := vm.stream()
	if s == nil {
		return nil
	}
	d := &s.req
	if t == bufferResponseBody {
		d = &s.resp
	}
	if !d.bodyOpen {
		return nil
	}
	return d
}

// proxyGetBufferBytes implements proxy_get_buffer_bytes(type, start,
// max_size, ptr_ptr, size_ptr). An unavailable buffer is NotFound; an
// empty range returns a null pointer (the SDK reports NotFound), as Envoy.
// The VM configuration is available at any time, the plugin configuration
// only during proxy_on_configure, as in Envoy.
func proxyGetBufferBytes(vm *VM, stack []uint64) uint32 {
	t := u32(stack, 0)
	start, maxSize := uint64(u32(stack, 1)), uint64(u32(stack, 2))
	var buf []byte
	switch t {
	case bufferRequestBody, bufferResponseBody:
		d := vm.bodyFor(t)
		if d == nil {
			return statusNotFound
		}
		buf = d.body
	case bufferHTTPCallBody:
		if vm.callout == nil {
			return statusNotFound
		}
		buf = vm.callout.body
	case bufferVMConfiguration:
		buf = vm.h.opts.VMConfig
	case bufferPluginConfig:
		if !vm.configuring {
			return statusNotFound // Envoy: only during proxy_on_configure
		}
		buf = vm.h.opts.PluginConfig
	case bufferDownstreamData, bufferUpstreamData, bufferGrpcReceive, bufferCallData:
		return statusNotFound
	default:
		return statusBadArgument
	}
	size := uint64(len(buf))
	if start > size {
		return statusBadArgument
	}
	end := start + maxSize
	if end > size {
		end = size
	}
	return vm.returnBytes(buf[start:end], u32(stack, 3), u32(stack, 4))
}

// proxySetBufferBytes implements proxy_set_buffer_bytes(type, start,
// length, data_ptr, data_size) for the request and response bodies with
// Envoy's rules: start 0 and length 0 prepends; start 0 and a length at
// least the buffer size replaces; start at or past the end appends;
// anything else is BadArgument. Other buffers are read-only.
func proxySetBufferBytes(vm *VM, stack []uint64) uint32 {
	t := u32(stack, 0)
	if t > bufferTypeMax {
		return statusBadArgument
	}
	if t != bufferRequestBody && t != bufferResponseBody {
		return statusBadArgument
	}
	d := vm.bodyFor(t)
	if d == nil {
		return statusNotFound
	}
	data, ok := vm.readCopy(u32(stack, 3), u32(stack, 4))
	if !ok {
		return statusInvalidMemoryAccess
	}
	start, length := uint64(u32(stack, 1)), uint64(u32(stack, 2))
	size := uint64(len(d.body))
	switch {
	case start == 0 && length == 0:
		d.body = append(data, d.body...)
	case start == 0 && length >= size:
		d.body = data
	case start == 0:
		return statusBadArgument
	case start >= size:
		d.body = append(d.body, data...)
	default:
		return statusBadArgument
	}
	return statusOK
}
