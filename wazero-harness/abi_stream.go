package harness

import "strconv"

// proxy-wasm stream types of proxy_continue_stream and proxy_close_stream.
const (
	streamRequest    = 0
	streamResponse   = 1
	streamDownstream = 2
	streamUpstream   = 3
)

// proxySendLocalResponse implements proxy_send_local_response(status,
// details_ptr, details_size, body_ptr, body_size, headers_ptr,
// headers_size, grpc_status). The reply replaces the request (or, during
// the response phase, the upstream response) once the current callback
// returns; the gRPC status is ignored. From the root context it does
// nothing, as in Envoy.
func proxySendLocalResponse(vm *VM, stack []uint64) uint32 {
	s := vm.stream()
	details, ok1 := vm.readString(u32(stack, 1), u32(stack, 2))
	body, ok2 := vm.readCopy(u32(stack, 3), u32(stack, 4))
	raw, ok3 := vm.read(u32(stack, 5), u32(stack, 6))
	if !ok1 || !ok2 || !ok3 {
		return statusInvalidMemoryAccess
	}
	pairs, err := decodePairs(raw)
	if err != nil {
		return statusBadArgument
	}
	if s == nil {
		return statusOK
	}
	status := int(u32(stack, 0))
	if s.local != nil {
		// Envoy sends the first local reply; a second one has no effect.
		return statusOK
	}
	rep := localReply(status, pairs, body, details)
	s.local = &rep
	s.notify()
	return statusOK
}

// localReply builds the response Envoy's sendLocalReply makes: :status,
// the filter's headers (added, so repeated names such as set-cookie stay),
// content-type text/plain when there is a body and none was given, and
// content-length.
func localReply(status int, pairs [][2]string, body []byte, details string) reply {
	hm := make(headerMap, 1, 1+len(pairs)+2)
	hm[0] = [2]string{":status", statusString(status)}
	for _, p := range pairs {
		hm.add(p[0], p[1])
	}
	if len(body) > 0 {
		if _, ok := hm.lookup("content-type"); !ok {
			hm.add("content-type", "text/plain")
		}
	}
	hm.replace("content-length", strconv.Itoa(len(body)))
	return reply{headers: hm, body: body, details: details}
}

// proxyContinueStream implements proxy_continue_stream(stream_type).
func proxyContinueStream(vm *VM, stack []uint64) uint32 {
	switch u32(stack, 0) {
	case streamRequest:
		if s := vm.stream(); s != nil {
			s.req.release()
			s.req.continues++
			s.notify()
		}
		return statusOK
	case streamResponse:
		if s := vm.stream(); s != nil {
			s.resp.release()
			s.resp.continues++
			s.notify()
		}
		return statusOK
	case streamDownstream:
		return statusOK
	case streamUpstream:
		return statusUnimplemented
	}
	return statusBadArgument
}

// proxyCloseStream implements proxy_close_stream(stream_type): for HTTP
// streams Envoy resets the stream, so the client's connection is aborted.
func proxyCloseStream(vm *VM, stack []uint64) uint32 {
	switch u32(stack, 0) {
	case streamRequest, streamResponse:
		if s := vm.stream(); s != nil {
			s.reset = true
			s.notify()
		}
		return statusOK
	case streamDownstream, streamUpstream:
		return statusOK
	}
	return statusBadArgument
}

// proxySetEffectiveContext implements proxy_set_effective_context(id).
func proxySetEffectiveContext(vm *VM, stack []uint64) uint32 {
	id := u32(stack, 0)
	if id != vm.rootID {
		if _, ok := vm.streams[id]; !ok {
			return statusBadArgument
		}
	}
	vm.effective = id
	return statusOK
}

// proxyDone implements proxy_done(): the plugin finished a pending
// proxy_on_done. The harness does not wait for it.
func proxyDone(*VM, []uint64) uint32 { return statusOK }

// proxySetTickPeriod implements proxy_set_tick_period_milliseconds(ms).
func proxySetTickPeriod(vm *VM, stack []uint64) uint32 {
	vm.setTickLocked(u32(stack, 0))
	return statusOK
}
