package main

import (
	"errors"
	"runtime/debug"
	"strconv"
	"time"
	"unsafe"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// pluginContext holds the engine built from the plugin configuration. One
// exists per VM (Envoy worker thread).
type pluginContext struct {
	types.DefaultPluginContext
	// id is the root context's proxy-wasm ID.
	id      uint32
	engine  *authcore.Engine
	store   *sharedStore
	metrics map[string]metric
	// last is the counter used last: most requests count one name
	// (a guarded request's "allowed"), which then needs no map lookup.
	last struct {
		name string
		m    metric
	}
	// waiting maps a parked request's ticket (authcore.Wait) to its
	// stream, until the engine wakes it.
	waiting map[uint64]*httpContext
	// replies: serialized headers of prebuilt replies (reply.go).
	replies replyHeaders
}

// wake resumes every parked request the engine says can continue, each in
// its own stream. It runs after every callout's outcome and on the tick.
func (p *pluginContext) wake() {
	for _, t := range p.engine.Woken() {
		h := p.waiting[t]
		delete(p.waiting, t)
		if h == nil || h.done {
			p.engine.Cancel(t)
			continue
		}
		h.ticket = 0
		if err := enterContext(h.id); err != nil {
			p.engine.Cancel(t)
			continue
		}
		h.resume(func() authcore.Outcome { return p.engine.Continue(t) })
	}
}

// tickPeriod is how often parked requests are checked (a shared fetch whose
// leader vanished is given up).
const tickPeriod = time.Second

// OnTick implements types.PluginContext.
func (p *pluginContext) OnTick() {
	defer func() {
		if r := recover(); r != nil {
			logCritical("mcpgate: panic in tick: " + panicText(r))
		}
	}()
	if p.engine != nil {
		p.wake()
	}
}

// count increments the proxy-wasm counter called name, defining it on
// first use (Envoy shows it as a stat under the filter's namespace).
func (p *pluginContext) count(name string) {
	// The engine's names are constants, so the last name usually is the
	// very same string: comparing where the bytes are spares the byte
	// comparison (two calls in wasm) on every request.
	if name != "" && len(name) == len(p.last.name) && (unsafe.StringData(name) == unsafe.StringData(p.last.name) || name == p.last.name) {
		p.last.m.add(1)
		return
	}
	m, ok := p.metrics[name]
	if !ok {
		if m, ok = defineMetric(metricCounter, name); !ok {
			return // the host refused the name: not counted
		}
		if p.metrics == nil {
			p.metrics = map[string]metric{}
		}
		p.metrics[name] = m
	}
	p.last.name, p.last.m = name, m
	m.add(1)
}

// OnPluginStart parses the configuration. On any error the plugin refuses
// to start (fail closed) and logs why, naming the JSON path.
func (p *pluginContext) OnPluginStart(int) (status types.OnPluginStartStatus) {
	defer func() {
		if r := recover(); r != nil {
			logCritical("mcpgate: panic while starting: " + panicText(r) + "\n" + string(debug.Stack()))
			status = types.OnPluginStartStatusFailed
		}
	}()
	data, err := pluginConfiguration()
	if err != nil {
		logCritical("mcpgate: refusing to start: cannot read plugin configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	logBuild(data)
	cfg, err := authcore.ParseConfig(data)
	if err != nil {
		logCritical("mcpgate: refusing to start: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	crypto := probeHostCrypto()
	// A VM is called from one thread, and the filter starts no
	// goroutines: the engine's per-request caches need no locks.
	opts := authcore.Options{Log: logToHost, Count: p.count, HostCrypto: crypto, TokenShare: tokenShare{}, FilterState: setFilterState,
		Now: wallClock, SingleThreaded: true, Audit: auditToHost}
	if cfg.Store.Etcd == nil {
		// Without an etcd store, shared records live in this Envoy's
		// shared data; with one, the engine reaches etcd by callouts.
		// Records are namespaced by the issuer, or in pure resource-server
		// mode (trusted issuers only) by the first resource.
		ns := cfg.Issuer
		if ns == "" {
			ns = cfg.Resources[0].URI
		}
		p.store = newSharedStore(ns)
		if err := p.store.create(); err != nil {
			logCritical("mcpgate: refusing to start: " + err.Error())
			return types.OnPluginStartStatusFailed
		}
		opts.Store = p.store
	}
	engine, err := authcore.New(cfg, opts)
	if err != nil {
		logCritical("mcpgate: refusing to start: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	p.engine = engine
	if err := setTickPeriod(uint32(tickPeriod / time.Millisecond)); err != nil {
		logWarn("mcpgate: no tick, parked requests are checked only on callouts: " + err.Error())
	}
	logInfo("mcpgate: started: issuer " + strconv.Quote(cfg.Issuer) + ", " + strconv.Itoa(len(cfg.TrustedIssuers)) + " trusted issuer(s), " + strconv.Itoa(len(cfg.Resources)) + " resource(s)")
	logInfo("mcpgate: " + crypto.describe())
	countBuild()
	return types.OnPluginStartStatusOK
}

// NewHttpContext implements types.PluginContext.
func (p *pluginContext) NewHttpContext(id uint32) types.HttpContext {
	return p.startStream(new(httpContext), id)
}

// startStream makes h, a zero httpContext, the context of stream id.
func (p *pluginContext) startStream(h *httpContext, id uint32) *httpContext {
	h.engine, h.plugin, h.id = p.engine, p, id
	return h
}

func logToHost(level authcore.LogLevel, msg string) {
	switch level {
	case authcore.LogDebug:
		logDebug(msg)
	case authcore.LogInfo:
		logInfo(msg)
	case authcore.LogWarn:
		logWarn(msg)
	default:
		logError(msg)
	}
}

// httpContext carries one request through the engine's outcomes.
type httpContext struct {
	types.DefaultHttpContext
	engine *authcore.Engine
	plugin *pluginContext
	id     uint32
	// ticket is set while the request is parked (authcore.Wait).
	ticket uint64
	req    *authcore.Request
	// readBody is set (its Resume not nil) while the engine waits for the
	// request body; a value, not a pointer, so that waiting allocates
	// nothing.
	readBody authcore.ReadBody
	// done is set once a local reply was sent.
	done bool
	// gone is set once the stream ended (OnHttpStreamDone): an answer to
	// its call still reaches the engine, but nothing is done on the
	// stream.
	gone bool
	// calling is set while an outbound call is in flight: Envoy lets a
	// paused request through when a body callback returns Continue, so the
	// body must be held until the call's outcome is known.
	calling bool
	// bodyEnded is set once the whole request body is buffered (or there
	// is none), bodySize then its size: a ReadBody that comes after a
	// callout (the guard's revocation check in a remote store) reads it
	// at once, as no body callback will follow.
	bodyEnded bool
	bodySize  int
	// request and headers are the storage of req and its header pairs,
	// allocated with the stream: most requests fit (Envoy's and a
	// client's headers), and each allocation saved counts in wasm.
	request authcore.Request
	headers [16][2]string
	// bufs are kept when the context is recycled.
	bufs streamBuffers
}

// OnHttpRequestHeaders implements types.HttpContext.
func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) (action types.Action) {
	defer h.recoverTo(&action)
	h.bodyEnded = endOfStream
	// One host call for the whole map: a call that returns data costs a
	// round trip into the VM's allocator, and the guarded path needs every
	// header anyway.
	headers, raw, inBuf, err := requestHeaders(h.headers[:0], h.bufs.headers)
	if err != nil {
		// Fail closed: without the headers nothing can be decided.
		return h.fail(wrap("reading request headers: "+err.Error(), err))
	}
	req := &h.request
	h.setRequest(headers)
	if h.engine.KeepsRequest(req) {
		if inBuf {
			// The engine may keep views: they must not see the next
			// stream's headers.
			raw = append([]byte(nil), raw...)
			if headers, err = parseHeaderPairs(h.headers[:0], raw); err != nil {
				return h.fail(wrap("reading request headers: "+err.Error(), err))
			}
			h.setRequest(headers)
		}
	} else if !inBuf && raw != nil && cap(raw) <= maxStreamBuffer {
		h.bufs.headers = raw // the next stream's, once this one is over
	}
	switch h.engine.Classify(req) {
	case authcore.RoutePass:
		// Let through, minus client-supplied identity headers.
		h.req = req
		return h.apply(h.engine.Handle(req), endOfStream, false)
	case authcore.RouteEndpoint:
		// The peer address feeds the AS's rate limits; the guard and the
		// discovery documents do not pay the host call.
		if h.engine.WantsPeer(req) {
			if src, err := getProperty("source", "address"); err == nil {
				req.Source = string(src)
			}
		}
	}
	h.req = req
	return h.apply(h.engine.Handle(req), endOfStream, false)
}

// setRequest makes h.request the request of headers. The pseudo-headers
// stay in Headers (their names cannot collide with a real header's): no
// second copy of the map.
func (h *httpContext) setRequest(headers [][2]string) {
	req := &h.request
	req.Reuse()
	req.Headers = headers
	for _, kv := range headers {
		if len(kv[0]) < 5 || kv[0][0] != ':' {
			continue // not a pseudo-header: skip the string switch
		}
		switch kv[0] {
		case ":method":
			req.Method = kv[1]
		case ":scheme":
			req.Scheme = kv[1]
		case ":authority":
			req.Authority = kv[1]
		case ":path":
			req.Path = kv[1]
		}
	}
}

// streamBuffers are the buffers a stream's request headers and body are
// read into (proxy_on_memory_allocate hands them to the host), kept with
// its context for the next stream (recycle). A buffer is kept only when
// the engine keeps no view of the request read into it
// (authcore.Engine.KeepsRequest, which authcore's TestRequestBytesReleased
// holds to its word); a request the engine may keep views of is read into
// a buffer of its own, or copied out of the stream's. In wasm every
// allocation costs its share of the collector's work: reading the header
// map into a kept buffer made a cached-token request 16% faster and a
// discovery request 20% (BenchmarkBuilds, 100000 requests).
type streamBuffers struct {
	headers, body []byte
}

// maxStreamBuffer bounds a kept buffer: larger headers or bodies are
// rare, and a context waiting in the free list should not hold much.
const maxStreamBuffer = 8 << 10

// OnHttpRequestBody implements types.HttpContext: it buffers the body while
// the engine waits for it.
func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) (action types.Action) {
	defer h.recoverTo(&action)
	if endOfStream {
		h.bodyEnded, h.bodySize = true, bodySize
	}
	if h.calling || h.ticket != 0 {
		return types.ActionPause
	}
	if h.readBody.Resume == nil || h.done {
		return types.ActionContinue
	}
	if bodySize > h.readBody.Limit {
		return h.reply(authcore.PayloadTooLarge(h.readBody.Limit))
	}
	if !endOfStream {
		return types.ActionPause // Envoy keeps buffering.
	}
	body, err := h.requestBody(bodySize)
	if err != nil && bodySize > 0 {
		return h.fail(wrap("reading request body: "+err.Error(), err))
	}
	rb := h.readBody
	h.readBody = authcore.ReadBody{}
	return h.apply(rb.Resume(body), true, true)
}

// requestBody reads the request's body, size bytes, into the stream's
// buffer when the engine keeps no view of the request (streamBuffers).
func (h *httpContext) requestBody(size int) ([]byte, error) {
	if h.req == nil || h.engine.KeepsRequest(h.req) {
		b, _, err := requestBody(nil, size)
		return b, err
	}
	b, inBuf, err := requestBody(h.bufs.body, size)
	if !inBuf && err == nil && cap(b) <= maxStreamBuffer {
		h.bufs.body = b
	}
	return b, err
}

// apply carries out an outcome. inBody tells whether the headers phase is
// already over (the stream was paused and must be resumed explicitly when
// the outcome comes from a callout).
func (h *httpContext) apply(o authcore.Outcome, endOfStream, inBody bool) types.Action {
	switch o := o.(type) {
	case authcore.Reply:
		return h.reply(o)
	case authcore.Forward:
		if err := h.applyForward(o); err != nil {
			return h.fail(err)
		}
		return types.ActionContinue
	case authcore.ReadBody:
		if o.Resume == nil {
			// Fail closed: an unset readBody lets the body through.
			return h.fail(errors.New("engine asked for the body without a continuation"))
		}
		if endOfStream && !inBody {
			return h.apply(o.Resume(nil), true, false)
		}
		if inBody && h.bodyEnded && h.readBody.Resume == nil {
			// The body was buffered while a call was in flight.
			if h.bodySize > o.Limit {
				return h.reply(authcore.PayloadTooLarge(o.Limit))
			}
			var body []byte
			if h.bodySize > 0 {
				var err error
				if body, err = h.requestBody(h.bodySize); err != nil {
					return h.fail(wrap("reading request body: "+err.Error(), err))
				}
			}
			return h.apply(o.Resume(body), true, true)
		}
		h.readBody = o
		return types.ActionPause
	case authcore.Call:
		if err := h.dispatch(o); err != nil {
			return h.fail(err)
		}
		return types.ActionPause
	case authcore.Wait:
		// Parked until another request's fetch completes (wake).
		h.ticket = o.Ticket
		if h.plugin.waiting == nil {
			h.plugin.waiting = map[uint64]*httpContext{}
		}
		h.plugin.waiting[o.Ticket] = h
		return types.ActionPause
	}
	return h.fail(errors.New("unknown outcome"))
}

// applyForward edits the request headers. Each edit is a host call, so a
// header is removed only when the request carries it (the client's
// Authorization, usually alone); Set replaces or adds.
func (h *httpContext) applyForward(f authcore.Forward) error {
	present := uint64(0) // bit i: the request carries f.Remove[i]
	if h.req == nil || len(f.Remove) > 64 {
		present = ^uint64(0)
	} else {
		for _, kv := range h.req.Headers {
			for i, name := range f.Remove {
				if len(kv[0]) == len(name) && kv[0] == name {
					present |= 1 << i
				}
			}
		}
	}
	for i, name := range f.Remove {
		if i < 64 && present&(1<<i) == 0 {
			continue
		}
		if err := removeRequestHeader(name); err != nil {
			return wrap("removing header "+name+": "+err.Error(), err)
		}
	}
	for _, kv := range f.Set {
		if err := replaceRequestHeader(kv[0], kv[1]); err != nil {
			return wrap("setting header "+kv[0]+": "+err.Error(), err)
		}
	}
	return nil
}

// dispatch performs an outbound call; the response resumes the flow.
func (h *httpContext) dispatch(c authcore.Call) error {
	headers := [][2]string{{":method", c.Method}, {":path", c.Path}, {":authority", c.Authority}}
	headers = append(headers, c.Headers...)
	timeout := uint32(c.Timeout / time.Millisecond)
	if timeout == 0 {
		timeout = 5000
	}
	h.calling = true
	err := dispatchHTTPCall(c.Cluster, headers, c.Body, timeout, func(numHeaders, bodySize, _ int) {
		h.calling = false
		if h.gone {
			h.drop(func() authcore.Outcome { return c.Resume(callResult(c.Cluster, numHeaders, bodySize)) })
			h.plugin.wake()
			return
		}
		h.resume(func() authcore.Outcome { return c.Resume(callResult(c.Cluster, numHeaders, bodySize)) })
		// A completed fetch may have woken requests parked on it.
		h.plugin.wake()
	})
	if err != nil {
		h.calling = false
	}
	return err
}

// resume applies an outcome computed outside the request's own callbacks
// (a callout response, a wake-up) and resumes the paused stream when the
// outcome lets it through.
func (h *httpContext) resume(next func() authcore.Outcome) {
	var action types.Action
	defer func() {
		if action == types.ActionContinue && !h.done {
			_ = resumeRequest()
		}
	}()
	defer h.recoverTo(&action)
	action = h.apply(next(), true, true)
}

// drop runs next for a stream that has ended, so that the engine takes an
// answer its request no longer waits for, and drops the outcome: a stream
// the host deleted gets no host call. A request parked anew is forgotten
// at once.
func (h *httpContext) drop(next func() authcore.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			logCritical("mcpgate: panic: " + panicText(r) + "\n" + string(debug.Stack()))
		}
	}()
	if w, ok := next().(authcore.Wait); ok {
		h.engine.Cancel(w.Ticket)
	}
}

// callResult reads a callout's response as the engine wants it.
func callResult(cluster string, numHeaders, bodySize int) authcore.CallResult {
	res := authcore.CallResult{}
	if numHeaders == 0 {
		res.Err = errors.New("callout to " + cluster + " failed (timeout or connection error)")
		return res
	}
	hs, err := callResponseHeaders()
	if err != nil {
		res.Err = err
	}
	for _, kv := range hs {
		if kv[0] == ":status" {
			res.Status, _ = strconv.Atoi(kv[1])
			continue
		}
		res.Headers = append(res.Headers, kv)
	}
	if bodySize > 0 {
		if res.Body, err = callResponseBody(0, bodySize); err != nil {
			res.Err = err
		}
	}
	return res
}

// OnHttpStreamDone implements types.HttpContext: a request still parked
// (client gone, stream timeout) is forgotten, and the answer to a call it
// made will only reach the engine (drop).
func (h *httpContext) OnHttpStreamDone() {
	h.gone = true
	if h.ticket != 0 {
		delete(h.plugin.waiting, h.ticket)
		h.engine.Cancel(h.ticket)
		h.ticket = 0
	}
}

// reply sends a local response and stops the stream.
func (h *httpContext) reply(r authcore.Reply) types.Action {
	h.done = true
	if err := h.plugin.sendReply(r.Status, r.Headers, r.Body); err != nil {
		logError("mcpgate: sending local reply: " + err.Error())
	}
	return types.ActionPause
}

// fail answers 500 server_error and logs the cause.
func (h *httpContext) fail(err error) types.Action {
	logError("mcpgate: " + err.Error())
	return h.reply(authcore.ServerError())
}

// recoverTo turns a panic in a callback into a 500 server_error reply, so
// the VM stays alive for the next request.
func (h *httpContext) recoverTo(action *types.Action) {
	if r := recover(); r != nil {
		logCritical("mcpgate: panic: " + panicText(r) + "\n" + string(debug.Stack()))
		if !h.done {
			*action = h.reply(authcore.ServerError())
		} else {
			*action = types.ActionPause
		}
	}
}
