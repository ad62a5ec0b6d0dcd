package harness

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// bodyChunkSize is the largest body chunk delivered in one
// proxy_on_request_body or proxy_on_response_body call.
const bodyChunkSize = 64 << 10

var (
	errHostClosed = errors.New("harness: host closed")
	errClientGone = errors.New("harness: client went away")
)

// reply is a response: headers start with :status.
type reply struct {
	headers headerMap
	body    []byte
	details string // Envoy's response code details
}

// direction is the request or the response half of a stream as the filter
// sees it. Envoy exposes headers until the filter lets them through
// (Continue or proxy_continue_stream) and exposes the body while it is
// delivered and while the filter buffers it; once let through, headers and
// body are frozen in fwdHeaders and fwdBody, which is what goes on.
type direction struct {
	active      bool // the phase has started
	headers     headerMap
	headersOpen bool
	body        []byte // body buffered in the host, visible to the filter
	bodyOpen    bool
	stopped     bool // the filter holds this direction
	released    bool // headers were let through
	fwdHeaders  headerMap
	fwdBody     []byte // let through, not yet sent on (the response writer drains it)
	fwdBytes    int    // body bytes let through in total
	taken       bool   // fwdHeaders were handed to the response writer
	continues   int    // proxy_continue_stream calls
}

// release lets headers (once) and the buffered body through. The headers
// need no copy: once let through they are no longer editable (headersOpen
// is false), so headers and fwdHeaders stay the same frozen map; the full
// slice expression makes any append to either one reallocate. The body
// buffer is handed over, not copied, when nothing is pending before it.
func (d *direction) release() {
	if !d.active {
		return
	}
	if !d.released {
		d.released = true
		d.fwdHeaders = d.headers[:len(d.headers):len(d.headers)]
	}
	if len(d.fwdBody) == 0 {
		d.fwdBody = d.body
	} else {
		d.fwdBody = append(d.fwdBody, d.body...)
	}
	d.fwdBytes += len(d.body)
	d.body = nil
	d.headersOpen, d.bodyOpen, d.stopped = false, false, false
}

// current returns the headers as they are now: the forwarded ones once let
// through.
func (d *direction) current() headerMap {
	if d.released {
		return d.fwdHeaders
	}
	return d.headers
}

// outcome says how ServeHTTP ends a stream.
type outcome int

const (
	outDone  outcome = iota // the response was written
	outGone                 // the client went away: nothing (more) to write
	outReset                // the stream is reset: abort the client connection
)

// stream is one HTTP request through a VM (an Envoy stream context).
type stream struct {
	vm          *VM
	r           *http.Request
	start       time.Time
	scheme      string
	id          uint32 // set under vm.mu; 0 until created
	reqBodySize int    // guarded by vm.mu

	// guarded by vm.mu
	wake        chan struct{} // created by wakeLocked when the stream first waits
	req, resp   direction
	local       *reply // proxy_send_local_response, pending
	reset       bool   // proxy_close_stream
	inLog       bool   // inside proxy_on_log
	props       map[string][]byte
	respDetails string
}

// notify wakes the goroutine serving the stream, if it waits. vm.mu must
// be held. Without a wake channel the goroutine has not waited yet: it
// sees the change when it next looks at the stream under vm.mu.
func (s *stream) notify() {
	if s.wake == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wakeLocked returns the channel notify signals, creating it on first use
// (most streams never wait). vm.mu must be held, and the caller must look
// at the stream's state in the same critical section, so no change is
// missed between the two.
func (s *stream) wakeLocked() <-chan struct{} {
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	return s.wake
}

// localAddress returns the address the request came in on ("" when the
// request did not come through an http.Server), for destination.address.
func (s *stream) localAddress() string {
	if a, ok := s.r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

func (s *stream) elapsed() time.Duration { return time.Since(s.start) }

// ServeHTTP runs the request through the filter on this VM, forwards it to
// the upstream if the filter lets it through, runs the response through
// the filter and streams out what it lets through. A dead VM answers 503;
// a trap during this request answers 500 (or resets the stream if the
// response had started).
func (vm *VM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := &stream{vm: vm, r: r, start: time.Now(), scheme: "http"}
	if r.TLS != nil {
		s.scheme = "https"
	}
	out := s.serve(w)
	s.finish()
	if out == outReset {
		panic(http.ErrAbortHandler)
	}
}

// serve runs the request phase, the upstream call and the response phase,
// and writes the response.
func (s *stream) serve(w http.ResponseWriter) outcome {
	vm := s.vm
	rw := &responseWriter{s: s, w: w}
	if vm.h.closing.Load() {
		return rw.whole(failReply(errHostClosed))
	}
	body := s.r.Body
	hasBody := body != nil && body != http.NoBody && s.r.ContentLength != 0
	if hasBody && vm.h.opts.RequestBodyTimeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(vm.h.opts.RequestBodyTimeout)) == nil {
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	headers := s.requestHeaders()

	vm.mu.Lock()
	if vm.closed || vm.dead.Load() {
		vm.mu.Unlock()
		return rw.whole(failReply(errVMUnavailable))
	}
	s.id = vm.newContextID()
	vm.streams[s.id] = s
	s.req.active = true
	s.req.headers = headers
	s.req.headersOpen = true
	vm.effective = s.id
	_, err := vm.callLocked("proxy_on_context_create", vm.fn.contextCreate, uint64(s.id), uint64(vm.rootID))
	if err == nil {
		err = s.callLocked(&s.req, "proxy_on_request_headers", vm.fn.requestHeaders,
			uint64(s.id), uint64(len(s.req.headers)), boolArg(!hasBody))
	}
	stop := s.interruptedLocked()
	vm.mu.Unlock()
	if err != nil {
		return rw.whole(failReply(err))
	}

	if hasBody && !stop && s.r.ContentLength > int64(vm.h.opts.MaxRequestBody) {
		// Refused at once after the request headers: no byte of a body
		// that cannot fit is read.
		rep := hostReply(http.StatusRequestEntityTooLarge, "Payload Too Large", "request_payload_too_large")
		vm.mu.Lock()
		s.local = &rep
		vm.mu.Unlock()
		stop = true
	}
	if hasBody && !stop {
		cr := chunkReader{r: body, hint: s.r.ContentLength}
		for {
			chunk, eos, rerr := cr.next()
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				rep := hostReply(http.StatusRequestTimeout, "Request Timeout", "request_overall_timeout")
				vm.mu.Lock()
				s.local = &rep
				vm.mu.Unlock()
				break
			}
			if rerr != nil {
				return outGone
			}
			vm.mu.Lock()
			s.reqBodySize += len(chunk)
			if len(s.req.fwdBody)+len(s.req.body)+len(chunk) > vm.h.opts.MaxRequestBody {
				rep := hostReply(http.StatusRequestEntityTooLarge, "Payload Too Large", "request_payload_too_large")
				s.local = &rep
				vm.mu.Unlock()
				break
			}
			if len(s.req.body) == 0 {
				s.req.body = chunk // a fresh buffer from the chunk reader: no copy
			} else {
				s.req.body = append(s.req.body, chunk...)
			}
			s.req.bodyOpen = true
			err = s.callLocked(&s.req, "proxy_on_request_body", vm.fn.requestBody,
				uint64(s.id), uint64(len(s.req.body)), boolArg(eos))
			stop = s.interruptedLocked()
			vm.mu.Unlock()
			if err != nil {
				return rw.whole(failReply(err))
			}
			if stop || eos {
				break
			}
		}
	}
	if err := s.wait(&s.req); err != nil {
		if errors.Is(err, errClientGone) {
			return outGone
		}
		return rw.whole(failReply(err))
	}

	vm.mu.Lock()
	if s.reset {
		vm.mu.Unlock()
		return outReset
	}
	if lr := s.local; lr != nil {
		s.local = nil
		vm.mu.Unlock()
		return s.respond(rw, replySource(*lr))
	}
	// Let through, the headers and body are frozen: no copy is needed to
	// use them without the lock.
	hdrs, fwdBody := s.req.fwdHeaders, s.req.fwdBody
	vm.mu.Unlock()

	src, out := s.forward(hdrs, fwdBody)
	if out != outDone {
		return out
	}
	return s.respond(rw, src)
}

// callLocked calls a stream callback of direction d and applies its
// action: Continue lets d through; Pause holds it (headers stay editable,
// the body is buffered) unless the filter called proxy_continue_stream
// during the callback. vm.mu must be held.
func (s *stream) callLocked(d *direction, name string, fn api.Function, args ...uint64) error {
	vm := s.vm
	vm.effective = s.id
	before := d.continues
	action, err := vm.callLocked(name, fn, args...)
	if err != nil {
		return err
	}
	if uint32(action) == actionContinue {
		d.release()
	} else if d.continues == before {
		d.stopped = true
	}
	return nil
}

// interruptedLocked reports a pending local reply or reset. vm.mu must be
// held.
func (s *stream) interruptedLocked() bool { return s.local != nil || s.reset }

// wait blocks while the filter holds d, until proxy_continue_stream, a
// local reply, a reset, the VM's death, Close or the client going away.
func (s *stream) wait(d *direction) error {
	vm := s.vm
	for {
		vm.mu.Lock()
		done := !d.stopped || s.local != nil || s.reset
		unusable := vm.closed || vm.dead.Load()
		var wake <-chan struct{}
		if !done && !unusable {
			wake = s.wakeLocked()
		}
		vm.mu.Unlock()
		if done {
			return nil
		}
		if unusable {
			return errVMUnavailable
		}
		select {
		case <-wake:
		case <-vm.deadCh:
		case <-vm.h.done:
			return errHostClosed
		case <-s.r.Context().Done():
			return errClientGone
		}
	}
}

// failReply is the reply when the VM cannot serve the stream: 500 when it
// trapped during this request, 503 with an empty body (Envoy's
// "wasm_fail_stream") when it was already dead or the Host is closing.
func failReply(err error) reply {
	if errors.Is(err, errVMUnavailable) || errors.Is(err, errHostClosed) {
		return reply{headers: headerMap{{":status", "503"}, {"content-length", "0"}}, details: "wasm_fail_stream"}
	}
	return hostReply(http.StatusInternalServerError, "harness: the wasm VM trapped; see the log", "wasm_trap")
}

// hostReply is a reply generated by the host (Envoy's own local replies).
func hostReply(status int, body, details string) reply {
	return localReply(status, nil, []byte(body), details)
}

// finish delivers proxy_on_log, proxy_on_done and proxy_on_delete, in
// Envoy's order (access log, then filter destruction).
func (s *stream) finish() {
	vm := s.vm
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if s.id == 0 {
		return
	}
	defer delete(vm.streams, s.id)
	if vm.closed || vm.dead.Load() {
		return
	}
	vm.effective = s.id
	s.inLog = true
	_, _ = vm.callLocked("proxy_on_log", vm.fn.log, uint64(s.id))
	s.inLog = false
	s.accessLog()
	_, _ = vm.callLocked("proxy_on_done", vm.fn.done, uint64(s.id))
	_, _ = vm.callLocked("proxy_on_delete", vm.fn.delete, uint64(s.id))
	vm.effective = vm.rootID
}

// requestHeaders builds the request header map Envoy gives the filter:
// :authority, :path (as received), :method, :scheme, then the headers with
// lower-case names (sorted by name; Go does not keep the order between
// names), plus x-forwarded-proto and x-request-id when absent, minus
// "expect: 100-continue".
func (s *stream) requestHeaders() headerMap {
	r := s.r
	path := r.RequestURI
	if path == "" || (!strings.HasPrefix(path, "/") && path != "*") {
		path = r.URL.RequestURI()
	}
	hm := make(headerMap, 4, 4+headerCount(r.Header)+2) // room for the two added below
	hm[0] = [2]string{":authority", r.Host}
	hm[1] = [2]string{":path", path}
	hm[2] = [2]string{":method", r.Method}
	hm[3] = [2]string{":scheme", s.scheme}
	hm = appendHeaders(hm, r.Header)
	// Envoy answers "Expect: 100-continue" itself and removes the header.
	if v, ok := hm.lookup("expect"); ok && strings.EqualFold(v, "100-continue") {
		hm.remove("expect")
	}
	if _, ok := hm.lookup("x-forwarded-proto"); !ok {
		hm.add("x-forwarded-proto", s.scheme)
	}
	if _, ok := hm.lookup("x-request-id"); !ok {
		hm.add("x-request-id", newRequestID())
	}
	return hm
}

// forward sends the request the filter let through to the upstream and
// returns its response, whose body is read as the response phase goes.
// Failures before the response headers become Envoy's replies: 503 when
// nothing could be sent or received, 504 on timeout.
func (s *stream) forward(hdrs headerMap, body []byte) (source, outcome) {
	h := s.vm.h
	if h.upstream == nil {
		return replySource(hostReply(http.StatusServiceUnavailable, "no healthy upstream", "no_healthy_upstream")), outDone
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if h.opts.UpstreamTimeout > 0 {
		ctx, cancel = context.WithTimeout(s.r.Context(), h.opts.UpstreamTimeout)
	} else {
		ctx, cancel = context.WithCancel(s.r.Context())
	}
	req, err := newOutboundRequest(ctx, h.upstream, hdrs, body)
	if err != nil {
		cancel()
		h.log(HostVM, LevelWarn, err.Error())
		return replySource(hostReply(http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers. reset reason: protocol error", "upstream_reset_before_response_started{protocol_error}")), outDone
	}
	resp, err := h.upClient.Do(req)
	if err != nil {
		defer cancel()
		if s.r.Context().Err() != nil {
			return source{}, outGone
		}
		return replySource(s.upstreamFailure(ctx, err, false)), outDone
	}
	src := source{
		headers: responseHeaderMap(resp.StatusCode, resp.Header),
		body:    resp.Body,
		length:  resp.ContentLength,
		details: "via_upstream",
		ctx:     ctx,
		close: func() {
			_ = resp.Body.Close()
			cancel()
		},
	}
	if method, _ := hdrs.lookup(":method"); method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || resp.StatusCode < 200 {
		src.length = 0
	}
	return src, outDone
}

// upstreamFailure is Envoy's reply when the upstream request fails: 504
// on timeout, else 503. started tells whether response headers had come.
func (s *stream) upstreamFailure(ctx context.Context, err error, started bool) reply {
	s.vm.h.log(HostVM, LevelDebug, fmt.Sprintf("harness: upstream request failed: %v", err))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return hostReply(http.StatusGatewayTimeout, "upstream request timeout", "upstream_response_timeout")
	}
	if started {
		return hostReply(http.StatusServiceUnavailable,
			"upstream connect error or disconnect/reset before headers. reset reason: connection termination",
			"upstream_reset_after_response_started{connection_termination}")
	}
	return hostReply(http.StatusServiceUnavailable,
		"upstream connect error or disconnect/reset before headers. reset reason: connection failure",
		"upstream_reset_before_response_started{connection_failure}")
}

// chunkReader reads a body in chunks of at most bodyChunkSize bytes,
// looking one chunk ahead to know which chunk is the last.
type chunkReader struct {
	r       io.Reader
	pending []byte
	have    bool
	eof     bool
	// hint is the bytes still expected (Content-Length), or -1: it sizes
	// the buffers of small bodies, which are most requests.
	hint int64
}

// next returns the next chunk and whether it ends the body.
func (c *chunkReader) next() ([]byte, bool, error) {
	if !c.have {
		p, eof, err := c.fill()
		if err != nil {
			return nil, false, err
		}
		c.pending, c.have, c.eof = p, true, eof
	}
	chunk := c.pending
	c.pending, c.have = nil, false
	if c.eof {
		return chunk, true, nil
	}
	p, eof, err := c.fill()
	if err != nil {
		return nil, false, err
	}
	if eof && len(p) == 0 {
		return chunk, true, nil
	}
	c.pending, c.have, c.eof = p, true, eof
	return chunk, false, nil
}

func (c *chunkReader) fill() ([]byte, bool, error) {
	size := bodyChunkSize
	if c.hint >= 0 && c.hint < int64(size) {
		size = int(c.hint) + 1 // one more byte to see the end
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(c.r, buf)
	if c.hint >= 0 {
		c.hint = max(c.hint-int64(n), 0)
	}
	switch {
	case err == nil:
		return buf[:n], false, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return buf[:n], true, nil
	}
	return nil, false, err
}

// boolArg encodes a bool callback argument.
func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// protocolName returns Envoy's request.protocol value.
func protocolName(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "HTTP/2"
	}
	return r.Proto
}

// newRequestID returns a random UUID (version 4), like Envoy's
// x-request-id. Like Envoy's, its randomness is not cryptographic: it
// comes from the runtime's per-thread generator (seeded from the system's
// entropy), which needs no system call and no lock.
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:16], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
