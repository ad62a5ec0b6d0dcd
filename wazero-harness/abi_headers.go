package harness

import (
	"strings"
	"unicode/utf8"
)

// proxy-wasm header map types.
const (
	mapRequestHeaders       = 0
	mapRequestTrailers      = 1
	mapResponseHeaders      = 2
	mapResponseTrailers     = 3
	mapGrpcInitialMetadata  = 4
	mapGrpcTrailingMetadata = 5
	mapHTTPCallHeaders      = 6
	mapHTTPCallTrailers     = 7
)

// headerMapFor returns the header map of type t in the effective context,
// following Envoy's availability rules (an unavailable map makes the value
// and edit calls BadArgument, and reads as empty through
// proxy_get_header_map_pairs):
//   - request (response) headers are available from proxy_on_request_headers
//     (proxy_on_response_headers) until the filter lets them through, by
//     returning Continue or calling proxy_continue_stream; after that Envoy
//     has forwarded them and answers BadArgument;
//   - during proxy_on_log both are readable (not writable);
//   - the callout response maps only during proxy_on_http_call_response
//     of a successful callout;
//   - trailers are never delivered: BadArgument (NotFound during
//     proxy_on_log).
func (vm *VM) headerMapFor(t uint32, write bool) (*headerMap, uint32) {
	switch t {
	case mapHTTPCallHeaders, mapHTTPCallTrailers:
		if vm.callout == nil {
			return nil, statusBadArgument
		}
		if t == mapHTTPCallHeaders {
			return &vm.callout.headers, statusOK
		}
		return &vm.callout.trailers, statusOK
	case mapGrpcInitialMetadata, mapGrpcTrailingMetadata:
		return nil, statusBadArgument
	case mapRequestHeaders, mapRequestTrailers, mapResponseHeaders, mapResponseTrailers:
	default:
		return nil, statusBadArgument
	}
	s := vm.stream()
	if s == nil {
		return nil, statusBadArgument
	}
	d := &s.req
	if t == mapResponseHeaders || t == mapResponseTrailers {
		d = &s.resp
	}
	if s.inLog {
		if write {
			return nil, statusBadArgument
		}
		if t == mapRequestTrailers || t == mapResponseTrailers {
			return nil, statusNotFound
		}
		if !d.active {
			return nil, statusNotFound
		}
		if d.released {
			return &d.fwdHeaders, statusOK
		}
		return &d.headers, statusOK
	}
	if t == mapRequestTrailers || t == mapResponseTrailers {
		return nil, statusBadArgument
	}
	if !d.headersOpen {
		return nil, statusBadArgument
	}
	return &d.headers, statusOK
}

// proxyGetHeaderMapValue implements proxy_get_header_map_value(type,
// key_ptr, key_size, value_ptr_ptr, value_size_ptr): the first value of
// the key, as Envoy returns.
func proxyGetHeaderMapValue(vm *VM, stack []uint64) uint32 {
	m, st := vm.headerMapFor(u32(stack, 0), false)
	if st != statusOK {
		return st
	}
	key, ok := vm.readKey(u32(stack, 1), u32(stack, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	v, found := m.lookup(key)
	if !found {
		return statusNotFound
	}
	return vm.returnString(v, u32(stack, 3), u32(stack, 4))
}

// readKey reads a header name argument and returns it in lower case, as
// Envoy compares names. A lower-case name the VM has seen before comes
// from its table of names, so the usual calls allocate nothing for it.
// vm.mu must be held.
func (vm *VM) readKey(ptr, size uint32) (string, bool) {
	b, ok := vm.read(ptr, size)
	if !ok {
		return "", false
	}
	if isLowerASCII(b) {
		return vm.names.intern(b), true
	}
	return strings.ToLower(string(b)), true
}

// maxNames bounds a VM's table of header names, so a filter that makes up
// names cannot grow it without end.
const maxNames = 1024

// nameTable interns header names: it returns one string per name instead
// of a new one per call.
type nameTable map[string]string

// intern returns name as a string, the table's own when it has it.
func (t nameTable) intern(name []byte) string {
	if s, ok := t[string(name)]; ok {
		return s
	}
	s := string(name)
	if len(t) < maxNames {
		t[s] = s
	}
	return s
}

// isLowerASCII reports whether b has neither upper-case nor non-ASCII
// bytes, so lower-casing it changes nothing.
func isLowerASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// headerKV reads the key (in lower case) and value arguments of the
// add/replace calls.
func headerKV(vm *VM, stack []uint64) (string, string, bool) {
	k, ok1 := vm.readKey(u32(stack, 1), u32(stack, 2))
	v, ok2 := vm.readString(u32(stack, 3), u32(stack, 4))
	return k, v, ok1 && ok2
}

// proxyAddHeaderMapValue implements proxy_add_header_map_value.
func proxyAddHeaderMapValue(vm *VM, stack []uint64) uint32 {
	m, st := vm.headerMapFor(u32(stack, 0), true)
	if st != statusOK {
		return st
	}
	k, v, ok := headerKV(vm, stack)
	if !ok {
		return statusInvalidMemoryAccess
	}
	m.add(k, v)
	return statusOK
}

// proxyReplaceHeaderMapValue implements proxy_replace_header_map_value.
func proxyReplaceHeaderMapValue(vm *VM, stack []uint64) uint32 {
	m, st := vm.headerMapFor(u32(stack, 0), true)
	if st != statusOK {
		return st
	}
	k, v, ok := headerKV(vm, stack)
	if !ok {
		return statusInvalidMemoryAccess
	}
	m.replace(k, v)
	return statusOK
}

// proxyRemoveHeaderMapValue implements proxy_remove_header_map_value.
func proxyRemoveHeaderMapValue(vm *VM, stack []uint64) uint32 {
	m, st := vm.headerMapFor(u32(stack, 0), true)
	if st != statusOK {
		return st
	}
	k, ok := vm.readKey(u32(stack, 1), u32(stack, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	m.remove(k)
	return statusOK
}

// proxyGetHeaderMapPairs implements proxy_get_header_map_pairs(type,
// ptr_ptr, size_ptr). As in Envoy, a map that is not available now is not
// an error: it reads as an empty map.
func proxyGetHeaderMapPairs(vm *VM, stack []uint64) uint32 {
	t := u32(stack, 0)
	if t > mapHTTPCallTrailers {
		return statusBadArgument
	}
	var pairs headerMap
	if m, st := vm.headerMapFor(t, false); st == statusOK {
		pairs = *m
	}
	return vm.returnPairs(pairs, u32(stack, 1), u32(stack, 2))
}

// proxySetHeaderMapPairs implements proxy_set_header_map_pairs(type, ptr,
// size): the map is replaced.
func proxySetHeaderMapPairs(vm *VM, stack []uint64) uint32 {
	m, st := vm.headerMapFor(u32(stack, 0), true)
	if st != statusOK {
		return st
	}
	raw, ok := vm.read(u32(stack, 1), u32(stack, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	pairs, err := decodePairs(raw)
	if err != nil {
		return statusBadArgument
	}
	m.set(pairs)
	return statusOK
}
