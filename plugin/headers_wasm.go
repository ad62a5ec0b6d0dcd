//go:build wasm

package main

import (
	"errors"
	"strconv"
	"unsafe"
)

// The SDK's GetHttpRequestHeaders copies every name and value into a
// string of its own. In wasm each Go allocation is dear (a few hundred
// bytes cost microseconds), and the host has already allocated one buffer
// in the VM for the whole map (proxy_on_memory_allocate), so this reads
// the map with the same host call and makes the strings views of that
// buffer: one allocation for the buffer, one for the slice. The buffer is
// ordinary Go memory, kept alive by the strings that point into it.

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, returnData unsafe.Pointer, returnSize *uint32) uint32

// mapTypeRequestHeaders is proxy-wasm's MapType for the request headers.
const mapTypeRequestHeaders = 0

// requestHeaders returns the request's header map, pseudo-headers
// included, in the host's order, stored in dst's array when it has room,
// as views of raw: the map as the host wrote it, into buf when it fitted
// (inBuf).
func requestHeaders(dst [][2]string, buf []byte) (headers [][2]string, raw []byte, inBuf bool, err error) {
	readInto(buf)
	st := proxyGetHeaderMapPairs(mapTypeRequestHeaders, unsafe.Pointer(&out.data), &out.size)
	raw = outBytes()
	inBuf = readDone(buf, raw)
	if st != 0 {
		return nil, nil, false, errors.New("proxy_get_header_map_pairs: status " + strconv.Itoa(int(st)))
	}
	if len(raw) == 0 {
		return nil, nil, false, nil
	}
	headers, err = parseHeaderPairs(dst, raw)
	return headers, raw, inBuf, err
}

//go:wasmimport env proxy_set_property
func proxySetProperty(pathData *byte, pathSize uint32, valueData *byte, valueSize uint32) uint32

// setFilterState records a guard decision as a property of the current
// stream. Envoy keeps a property set by proxy_set_property as filter state
// under "wasm." + name, so the access log prints it with
// %FILTER_STATE(wasm.mcpgate.subject:PLAIN)% and rate-limit descriptors can
// read it. Failures are ignored: the decision itself is already made.
//
// A one-element property path is serialized as the element itself, so the
// name and value are handed to the host as they are: the SDK's SetProperty
// would allocate the serialized path and a copy of the value on every
// request, three times per guarded request. The host copies both before
// returning, so pointing at the strings' bytes is safe. An empty name or
// value is skipped, as SetProperty refuses it.
func setFilterState(name, value string) {
	if name == "" || value == "" {
		return
	}
	_ = proxySetProperty(unsafe.StringData(name), uint32(len(name)), unsafe.StringData(value), uint32(len(value)))
}

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, keyData *byte, keySize uint32, valueData *byte, valueSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, keyData *byte, keySize uint32) uint32

// The SDK's RemoveHttpRequestHeader and ReplaceHttpRequestHeader are the
// same host calls behind three Go calls each (its wrapper, the import's
// and a status conversion); a guarded request makes four of them. The host
// copies the name and value before returning, so the strings' bytes are
// handed over as they are.

// removeRequestHeader removes every request header called name.
func removeRequestHeader(name string) error {
	if st := proxyRemoveHeaderMapValue(mapTypeRequestHeaders, stringData(name), uint32(len(name))); st != 0 {
		return errors.New("proxy_remove_header_map_value: status " + strconv.Itoa(int(st)))
	}
	return nil
}

// replaceRequestHeader sets the request header name to value, replacing
// any it had.
func replaceRequestHeader(name, value string) error {
	if st := proxyReplaceHeaderMapValue(mapTypeRequestHeaders, stringData(name), uint32(len(name)), stringData(value), uint32(len(value))); st != 0 {
		return errors.New("proxy_replace_header_map_value: status " + strconv.Itoa(int(st)))
	}
	return nil
}

// emptyString is where an empty string's data points: the host reads no
// byte of it, but a pointer into the module's memory is what it expects.
var emptyString byte

// stringData is a pointer to s's bytes (never nil).
func stringData(s string) *byte {
	if len(s) == 0 {
		return &emptyString
	}
	return unsafe.StringData(s)
}
