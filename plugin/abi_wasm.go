//go:build wasm

package main

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The filter speaks the proxy-wasm ABI 0.2.1 itself, without the Go SDK's
// proxywasm package (whose internal package would export the same
// functions). The SDK looks every callback's context up in a map, records
// the active context and wraps each host call's status; measured under
// the harness, its no-op filter costs 1.1-2.3 µs more per request than a
// module exporting the same callbacks bare (e2e BenchmarkSDKOverhead,
// several runs), paid on every request mcpgate sees. Here:
//
//   - a stream's callbacks find it in a table indexed by its context ID
//     (streamTable), without hashing;
//   - the response callbacks, proxy_on_log and proxy_on_done are not
//     exported at all: mcpgate never acts on responses and ends a stream
//     (and the plugin) at proxy_on_delete, and a host calls no callback a
//     module lacks (proxy-wasm cpp-host: "if
//     (!wasm_->on_response_headers_abi_02_) return Continue"; the harness
//     does the same): a request enters the VM four times (with its body)
//     where the SDK's filters enter it eight;
//   - each host call is one import call, its status mapped to the SDK's
//     error values (package types), which the rest of the filter checks
//     with errors.Is.
//
// The native build (the SDK's emulator, for plugin tests) keeps the SDK:
// abi_native.go forwards the same functions to it.

// abi is this VM's proxy-wasm state.
var abi struct {
	// plugins are the root contexts (one per plugin configuration that
	// shares this VM), by context ID; root is the last one created, the
	// only one in the usual VM.
	plugins map[uint32]*pluginContext
	root    *pluginContext
	// streams are the HTTP contexts (streams.go).
	streams streamTable
	// active is the context whose callback runs: an HTTP call is
	// registered for it (its response resumes that stream).
	active uint32
	// callouts are the HTTP calls in flight, by root context and the
	// host's token (calloutKey).
	callouts map[uint64]callout
	// free holds contexts of ended streams for new ones (recycle).
	free []*httpContext
	// into is where the next proxy_on_memory_allocate places the data a
	// host call returns, if it fits: a stream's own buffer (readInto).
	into []byte
}

// maxFree bounds abi.free: enough for the streams a worker has open at
// once in the usual case, little memory when traffic ebbs.
const maxFree = 16

// recycle keeps h, whose stream the host has deleted, for a new stream. An
// httpContext is about 900 bytes (its request and header pairs live in
// it), and in wasm the garbage collector's work grows with every byte
// allocated: reusing it made a cached-token request 9-17% faster under
// the harness (BenchmarkBuilds, 100000 requests). Nothing may point to h any more: a
// stream with a call in flight (whose callback holds h) or parked on the
// engine is left to the collector.
func recycle(h *httpContext) {
	if h.calling || h.ticket != 0 || len(abi.free) >= maxFree {
		return
	}
	bufs, req := h.bufs, h.request
	*h = httpContext{bufs: bufs, request: req}
	h.request.Reuse()
	abi.free = append(abi.free, h)
}

// calloutKey keys a callout: the host answers on the root context, with a
// token that is unique in it.
func calloutKey(root, token uint32) uint64 { return uint64(root)<<32 | uint64(token) }

// callout is an HTTP call in flight: the stream (or root context) that
// made it and what to do with the response.
type callout struct {
	_        [0]func() // not comparable: no equality function in the wasm module
	caller   uint32
	callback func(numHeaders, bodySize, numTrailers int)
}

// stream returns the HTTP context id, or nil.
func stream(id uint32) *httpContext { return abi.streams.get(id) }

// mustStream is stream for a callback that cannot go on without it; the
// SDK panics the same way (the host never names a context it did not
// create).
func mustStream(id uint32, callback string) *httpContext {
	h := stream(id)
	if h == nil {
		panic("mcpgate: " + callback + " for unknown context " + strconv.FormatUint(uint64(id), 10))
	}
	abi.active = id
	return h
}

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

// proxyOnMemoryAllocate gives the host a buffer in Go memory for data it
// returns from a host call. The buffer is referenced only by the pointer
// the host writes back into the call's out-parameter (out.data), which
// then keeps it alive; no Go code that allocates runs in between.
//
//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	if b := abi.into; b != nil {
		abi.into = nil
		if size > 0 && int(size) <= cap(b) {
			return &b[:1][0]
		}
	}
	b := make([]byte, max(size, 1))
	return &b[0]
}

// readInto makes the next host call that returns data write it into buf
// when it fits (see streamBuffers). The caller ends the arrangement with
// readDone right after that call, whether or not the host called
// proxy_on_memory_allocate (an empty header map, a failed call), so that
// no later call writes into buf.
func readInto(buf []byte) {
	if cap(buf) > 0 {
		abi.into = buf
	}
}

// readDone ends readInto and reports whether b, the data the call
// returned, is in buf.
func readDone(buf, b []byte) bool {
	abi.into = nil
	return len(b) > 0 && cap(buf) > 0 && unsafe.SliceData(b) == unsafe.SliceData(buf)
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, parent uint32) {
	if parent == 0 {
		if abi.plugins == nil {
			abi.plugins = map[uint32]*pluginContext{}
		}
		abi.root = &pluginContext{id: id}
		abi.plugins[id] = abi.root
		return
	}
	p := abi.root
	if p == nil || p.id != parent {
		p = abi.plugins[parent]
	}
	if p == nil {
		panic("mcpgate: proxy_on_context_create under unknown root context " + strconv.FormatUint(uint64(parent), 10))
	}
	var h *httpContext
	if n := len(abi.free); n > 0 {
		h = abi.free[n-1]
		abi.free[n-1] = nil
		abi.free = abi.free[:n-1]
	} else {
		h = new(httpContext)
	}
	p.startStream(h, id)
	abi.streams.add(h)
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(uint32, uint32) bool { return true }

//go:wasmexport proxy_on_configure
func proxyOnConfigure(id, size uint32) bool {
	p := abi.plugins[id]
	if p == nil {
		return false
	}
	abi.active = id
	return p.OnPluginStart(int(size)) == types.OnPluginStartStatusOK
}

//go:wasmexport proxy_on_tick
func proxyOnTick(id uint32) {
	if p := abi.plugins[id]; p != nil {
		abi.active = id
		p.OnTick()
	}
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, numHeaders uint32, endOfStream bool) types.Action {
	return mustStream(id, "proxy_on_request_headers").OnHttpRequestHeaders(int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, bodySize uint32, endOfStream bool) types.Action {
	return mustStream(id, "proxy_on_request_body").OnHttpRequestBody(int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_http_call_response
func proxyOnHTTPCallResponse(root, token, numHeaders, bodySize, numTrailers uint32) {
	c, ok := abi.callouts[calloutKey(root, token)]
	if !ok {
		return
	}
	delete(abi.callouts, calloutKey(root, token))
	abi.active = c.caller
	// A stream deleted meanwhile (its client went away) still gets the
	// answer, on the root context: the engine takes it (a shared fetch's
	// result is cached and wakes the requests parked on it) and the
	// stream's outcome is dropped (httpContext.gone). The SDK dropped the
	// answer, and the requests parked on the fetch waited for its timeout.
	if c.caller != root && stream(c.caller) != nil && enterContext(c.caller) != nil {
		return
	}
	c.callback(int(numHeaders), int(bodySize), int(numTrailers))
}

// proxy_on_log is not exported either: a stream's end is handled at
// proxy_on_delete, which the host calls right after it for every stream
// it created (cpp-host ContextBase::onDelete), one VM entry fewer per
// request.

// Nor is proxy_on_done: without it a host takes every context as done at
// once (cpp-host ContextBase::onDone returns true) and deletes it, a root
// context at shutdown too (WasmBase::startShutdown), so the plugin's end
// is handled at proxy_on_delete as well.

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {
	if h := stream(id); h != nil {
		abi.active = id
		abi.streams.remove(id)
		h.OnHttpStreamDone()
		recycle(h)
		return
	}
	if p := abi.plugins[id]; p != nil {
		abi.active = id
		p.OnPluginDone()
		delete(abi.plugins, id)
		if abi.root == p {
			abi.root = nil
		}
	}
}

// statusError is a host call's status as the SDK's error values.
func statusError(st uint32) error {
	switch st {
	case 0:
		return nil
	case 1:
		return types.ErrorStatusNotFound
	case 2:
		return types.ErrorStatusBadArgument
	case 7:
		return types.ErrorStatusEmpty
	case 8:
		return types.ErrorStatusCasMismatch
	case 10:
		return types.ErrorInternalFailure
	case 12:
		return types.ErrorUnimplemented
	}
	return errors.New("proxy-wasm status " + strconv.FormatUint(uint64(st), 10))
}

// The host calls, as the ABI declares them.

//go:wasmimport env proxy_log
func proxyLog(level uint32, msgData *byte, msgSize uint32) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(keyData *byte, keySize uint32, valueData unsafe.Pointer, valueSize *uint32, cas *uint32) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(keyData *byte, keySize uint32, valueData *byte, valueSize uint32, cas uint32) uint32

//go:wasmimport env proxy_call_foreign_function
func proxyCallForeignFunction(nameData *byte, nameSize uint32, argData *byte, argSize uint32, retData unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType, start, maxSize uint32, retData unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriodMilliseconds(period uint32) uint32

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(id uint32) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType uint32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(pathData *byte, pathSize uint32, retData unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_http_call
func proxyHTTPCall(upstreamData *byte, upstreamSize uint32, headersData *byte, headersSize uint32, bodyData *byte, bodySize uint32,
	trailersData *byte, trailersSize uint32, timeoutMs uint32, token *uint32) uint32

// proxy-wasm buffer and map types.
const (
	bufferRequestBody      = 0
	bufferCallResponseBody = 4
	bufferPluginConfig     = 7
	mapCallResponseHeaders = 6
)

// out holds the host's out-parameters. A local passed by pointer to an
// imported function escapes to the heap (the compiler cannot see what the
// host does with it): three allocations per guarded request went to the
// header map's pointer and size and the clock's reading. A VM runs one
// callback at a time, and nothing the host calls back during a host call
// (proxy_on_memory_allocate) touches these, so one set of slots serves
// every call, read right after it returns (outBytes).
var out struct {
	data  *byte
	size  uint32
	cas   uint32
	token uint32
	id    uint32
	ns    uint64
}

// outBytes returns the bytes the last host call returned, nil if none,
// and forgets them (the slot would otherwise keep them alive).
func outBytes() []byte {
	d := out.data
	out.data = nil
	if d == nil {
		return nil
	}
	return unsafe.Slice(d, out.size)
}

// logAt writes msg to the host's log at a proxy-wasm log level.
func logAt(level uint32, msg string) {
	proxyLog(level, stringData(msg), uint32(len(msg)))
}

// getSharedData reads key from the VM's shared data.
func getSharedData(key string) ([]byte, uint32, error) {
	if err := statusError(proxyGetSharedData(stringData(key), uint32(len(key)), unsafe.Pointer(&out.data), &out.size, &out.cas)); err != nil {
		out.data = nil
		return nil, 0, err
	}
	return outBytes(), out.cas, nil
}

// setSharedData writes key in the VM's shared data if its version is
// still cas (0: unconditionally).
func setSharedData(key string, value []byte, cas uint32) error {
	return statusError(proxySetSharedData(stringData(key), uint32(len(key)), sliceData(value), uint32(len(value)), cas))
}

// callForeignFunction calls a function the host registered by name.
func callForeignFunction(name string, arg []byte) ([]byte, error) {
	if err := statusError(proxyCallForeignFunction(stringData(name), uint32(len(name)), sliceData(arg), uint32(len(arg)), unsafe.Pointer(&out.data), &out.size)); err != nil {
		out.data = nil
		return nil, err
	}
	return outBytes(), nil
}

// getBuffer reads up to maxSize bytes from start of a host buffer; a
// buffer the host has not got reads as NotFound (as in the SDK).
func getBuffer(bufferType uint32, start, maxSize int) ([]byte, error) {
	if err := statusError(proxyGetBufferBytes(bufferType, uint32(start), uint32(maxSize), unsafe.Pointer(&out.data), &out.size)); err != nil {
		out.data = nil
		return nil, err
	}
	if b := outBytes(); b != nil {
		return b, nil
	}
	return nil, types.ErrorStatusNotFound
}

// pluginConfiguration returns the plugin configuration (during
// proxy_on_configure).
func pluginConfiguration() ([]byte, error) { return getBuffer(bufferPluginConfig, 0, 1<<31-1) }

// requestBody returns the request body buffered so far, written into buf
// when it fits; inBuf tells whether it was.
func requestBody(buf []byte, size int) (body []byte, inBuf bool, err error) {
	readInto(buf)
	body, err = getBuffer(bufferRequestBody, 0, size)
	return body, readDone(buf, body), err
}

// callResponseBody returns an HTTP call's response body (in its callback).
func callResponseBody(start, size int) ([]byte, error) {
	return getBuffer(bufferCallResponseBody, start, size)
}

// callResponseHeaders returns an HTTP call's response headers (in its
// callback), as views of the buffer the host filled.
func callResponseHeaders() ([][2]string, error) {
	if err := statusError(proxyGetHeaderMapPairs(mapCallResponseHeaders, unsafe.Pointer(&out.data), &out.size)); err != nil {
		out.data = nil
		return nil, err
	}
	if b := outBytes(); b != nil {
		return parseHeaderPairs(nil, b)
	}
	return nil, types.ErrorStatusNotFound
}

// setTickPeriod starts the root context's tick.
func setTickPeriod(ms uint32) error { return statusError(proxySetTickPeriodMilliseconds(ms)) }

// enterContext makes the next host calls act on context id, as when one of
// its callbacks runs: a stream resumed from another's callback or from the
// tick (pluginContext.wake) registers its HTTP calls as its own, so their
// responses resume it and edit its headers. (The SDK kept the context of
// the callback that ran, so such a call's response acted on that one.)
func enterContext(id uint32) error {
	if err := statusError(proxySetEffectiveContext(id)); err != nil {
		return err
	}
	abi.active = id
	return nil
}

// resumeRequest resumes the paused request of the effective context.
func resumeRequest() error { return statusError(proxyContinueStream(0)) }

// getProperty reads a host property; the path's elements are joined by NUL
// bytes, as the ABI serializes a path.
func getProperty(path ...string) ([]byte, error) {
	var p []byte
	for i, e := range path {
		if i > 0 {
			p = append(p, 0)
		}
		p = append(p, e...)
	}
	if err := statusError(proxyGetProperty(sliceData(p), uint32(len(p)), unsafe.Pointer(&out.data), &out.size)); err != nil {
		out.data = nil
		return nil, err
	}
	return outBytes(), nil
}

// dispatchHTTPCall sends an HTTP request to cluster; callback runs with the
// response, in the context that made the call.
func dispatchHTTPCall(cluster string, headers [][2]string, body []byte, timeoutMs uint32, callback func(numHeaders, bodySize, numTrailers int)) error {
	h, t := serializeHeaderPairs(headers), serializeHeaderPairs(nil)
	st := proxyHTTPCall(stringData(cluster), uint32(len(cluster)), sliceData(h), uint32(len(h)), sliceData(body), uint32(len(body)),
		sliceData(t), uint32(len(t)), timeoutMs, &out.token)
	if err := statusError(st); err != nil {
		return err
	}
	token := out.token
	if abi.callouts == nil {
		abi.callouts = map[uint64]callout{}
	}
	// The host answers on the root context of the caller (Envoy's
	// http_call runs on contextOrEffectiveContext()->root_context()).
	root := abi.active
	if h := stream(abi.active); h != nil {
		root = h.plugin.id
	}
	abi.callouts[calloutKey(root, token)] = callout{caller: abi.active, callback: callback}
	return nil
}

// sliceData is a pointer to b's bytes, or nil for an empty b (the host
// reads none).
func sliceData(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return unsafe.SliceData(b)
}

// auditToHost writes an audit line to the host's log at Info, handing the
// host a view of the engine's buffer: proxy_log copies it before
// returning (Options.Audit lets the engine reuse the buffer).
func auditToHost(line []byte) {
	if len(line) > 0 {
		proxyLog(logLevelInfo, unsafe.SliceData(line), uint32(len(line)))
	}
}
