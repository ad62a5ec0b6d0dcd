package authcore

import (
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// Options inject the engine's dependencies. The zero value uses the real
// clock and crypto/rand: fakes are for tests and must be asked for.
type Options struct {
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// Rand is the source of randomness; default crypto/rand.Reader.
	Rand io.Reader
	// Log receives diagnostics that are never sent to clients.
	Log func(level LogLevel, msg string)
	// Count increments a named counter (proxy-wasm metrics in the filter).
	Count func(name string)
	// Store holds shared records (codes, refresh families, revocations).
	// Default: a per-engine memory store, fine for a single process.
	Store Store
	// HostCrypto, when set, computes RSA and ECDSA signatures in the host
	// (hostcrypto.go); nil computes every signature in Go.
	HostCrypto HostCrypto
	// TokenShare, when set, lets the VMs of one host share which access
	// tokens they verified, so a new token is verified once per host
	// (tokenshare.go); nil keeps verification per engine.
	TokenShare TokenShare
	// Audit receives each audit line (audit.go), one JSON object without
	// a newline; default: Log at Info. With SingleThreaded, the line's
	// buffer is written again for the next line once Audit returns (as
	// io.Writer's Write must not retain p): Audit copies what it keeps.
	Audit func(line []byte)
	// FilterState records a value of the current request for the host
	// (Envoy filter state, audit.go); nil records nothing. It is called
	// while Handle, Resume or Continue runs for that request.
	FilterState func(name, value string)
	// SingleThreaded promises that the engine is only ever called from
	// one goroutine, with no other goroutine running meanwhile, as in a
	// proxy-wasm VM: the host calls a VM from one thread, and neither the
	// filter nor the engine starts goroutines. The caches the guard reads
	// on every request then skip their locks. Native hosts leave it false.
	SingleThreaded bool
}

// LogLevel orders log messages.
type LogLevel int

// Log levels, matching proxy-wasm's.
const (
	LogDebug LogLevel = 1
	LogInfo  LogLevel = 2
	LogWarn  LogLevel = 3
	LogError LogLevel = 4
)

// Engine is the mcpgate request processor for one configuration. It holds
// only immutable, precomputed state plus bounded caches, and is used from
// one goroutine at a time per proxy-wasm VM (natively it is safe for
// concurrent use).
type Engine struct {
	cfg   *Config
	now   func() time.Time
	rand  io.Reader
	log   func(LogLevel, string)
	store Store

	counter func(string)
	tokens  tokenCache
	// hostCrypto and hostKeys: signatures by the host (hostcrypto.go).
	hostCrypto HostCrypto
	hostKeys   hostKeys
	// share: verified tokens shared between VMs (tokenshare.go).
	share *tokenShare
	// auditSink and filterState are Options.Audit and Options.FilterState.
	auditSink func([]byte)
	// auditBuf is the audit line buffer reused with a single-threaded
	// host's sink (Options.Audit); nil otherwise.
	auditBuf []byte
	// auditClock is the formatted time of the latest audit line's second.
	auditClock atomic.Pointer[auditSecond]
	// names interns the guard's JSON-RPC method and tool names.
	names nameTable
	// auditHeads are recent tool_call line heads (toolCallHead).
	auditHeads  [auditHeads]atomic.Pointer[auditHead]
	filterState func(name, value string)
	// admin is the per-VM view of operators' revocations and blocks
	// (admin_state.go).
	admin adminCache
	// as is the authorization server's per-engine state (as.go).
	as asState
	// cimd is the Client ID Metadata Document cache, fetch rate limits and
	// in-flight fetches (cimd_inflight.go); its zero value is ready.
	cimd cimdState
	// issuers is the trusted issuers' key sets, introspection results and
	// shared work (issuer_flights.go); its zero value is ready.
	issuers issuerState
	// stripHeaders are removed from every forwarded request to a resource:
	// the client's Authorization and any copy of the identity headers.
	stripHeaders []string
	// passThrough is the outcome for traffic mcpgate does not own: remove
	// the identity headers (a client's copies), keep the rest.
	passThrough Outcome
	// grantEpoch counts the grants this engine revoked (atomic): a cached
	// "grant live" answer from before a revocation is not trusted (guard.go).
	grantEpoch int64
	// grantsLive remembers grants found not revoked (guard_revocation.go).
	grantsLive grantLive

	// routes maps exact request paths owned by the filter to handlers.
	routes map[string]*route
	// routeLens has bit n set when some path in routes is n bytes long
	// (bit 63: 63 bytes or more).
	routeLens uint64
	// resources maps a resource path to its resource, for the guard.
	resources map[string]*Resource
}

// route is one path the engine answers itself.
type route struct {
	methods string // e.g. "GET, HEAD"
	// handle answers the request; it is never called for OPTIONS.
	handle func(req *Request) Outcome
	// noPeer: the handler never reads Request.Source (see WantsPeer).
	noPeer bool
	// copies: the handler keeps no string or byte of the request once
	// its outcome is out (see KeepsRequest); TestRequestBytesReleased
	// holds it to that.
	copies bool
}

// New builds an engine for cfg, precomputing every discovery document.
func New(cfg *Config, opts Options) (*Engine, error) {
	e := &Engine{
		cfg:        cfg,
		now:        opts.Now,
		rand:       opts.Rand,
		log:        opts.Log,
		store:      opts.Store,
		counter:    opts.Count,
		hostCrypto: opts.HostCrypto,
		tokens:     tokenCache{max: tokenCacheSize},
		routes:     map[string]*route{},
		resources:  map[string]*Resource{},
		auditSink:  opts.Audit,
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.tokens.mu.off, e.admin.mu.off = opts.SingleThreaded, opts.SingleThreaded
	if opts.SingleThreaded && opts.Audit != nil {
		e.auditBuf = make([]byte, 0, 512)
	}
	if e.rand == nil {
		e.rand = rand.Reader
	}
	if e.log == nil {
		e.log = func(LogLevel, string) {}
	}
	if cfg.Store.Etcd != nil {
		if e.store != nil {
			return nil, errors.New("authcore: the configuration names an etcd store and Options.Store is set: use one")
		}
		e.store = newEtcdStore(cfg.Store.Etcd, e.now, e.log, e.count)
	}
	if e.store == nil {
		e.store = NewMemoryStore(e.now)
	}
	if cfg.Audit.FilterState {
		e.filterState = opts.FilterState
	}
	for _, r := range cfg.Resources {
		e.resources[r.Path] = r
	}
	e.stripHeaders = []string{"authorization"}
	for _, h := range append([]string{cfg.IdentityHeaders.Subject, cfg.IdentityHeaders.ClientID, cfg.IdentityHeaders.Scope}, claimHeaderNames(cfg)...) {
		if h != "" {
			e.stripHeaders = append(e.stripHeaders, h)
		}
	}
	e.passThrough = Forward{}
	if len(e.stripHeaders) > 1 {
		e.passThrough = Forward{Remove: e.stripHeaders[1:]}
	}
	for _, w := range cfg.CIMD.Warnings() {
		e.log(LogWarn, w)
	}
	if opts.TokenShare != nil {
		e.share = newTokenShare(opts.TokenShare, cfg.Issuer, cfg.Keys)
	}
	e.addDiscoveryRoutes()
	e.addASRoutes()
	e.addASMetadataRoute()
	e.addAdminRoute()
	for p := range e.routes {
		e.routeLens |= 1 << min(len(p), 63)
	}
	return e, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() *Config { return e.cfg }

// Handle processes one request (headers only; a handler that needs the
// body returns [ReadBody]) and returns what the host must do next.
func (e *Engine) Handle(req *Request) Outcome {
	switch e.Classify(req) {
	case RouteEndpoint:
		rt := req.routing.endpoint
		if req.Method == "OPTIONS" {
			return e.preflight(req, rt.methods)
		}
		if !methodAllowed(rt.methods, req.Method) {
			return e.withCORS(req, jsonError(newError(ErrCodeInvalidRequest, 405, "method "+req.Method+" not allowed"), Header{{"allow", rt.methods}}))
		}
		return rt.handle(req)
	case RouteDiscovery:
		// Discovery paths are never challenged; unknown ones are 404.
		return e.notFound(req)
	case RouteGuard:
		if req.routing.nearMiss {
			return e.nearMissReply(req)
		}
		return e.guard(req, req.routing.resource)
	}
	// Traffic mcpgate does not own keeps its credentials, but never
	// carries identity headers a client made up: the upstream may trust
	// them on any path.
	return e.passThrough
}

// WantsPeer reports whether handling req may read Request.Source (the
// peer address: the authorization server's rate limits, trusted identity
// headers), so a host that pays for reading it (a proxy-wasm property
// call) can skip it for the guard and the discovery documents. It
// classifies req if that was not done yet.
func (e *Engine) WantsPeer(req *Request) bool {
	return e.Classify(req) == RouteEndpoint && !req.routing.endpoint.noPeer
}

// KeepsRequest reports whether handling req may keep views of the
// request's strings or body after the outcomes it returns are carried out.
// It is false for the guard, the discovery documents, other /.well-known/
// paths and traffic mcpgate passes through: their handling copies
// whatever outlives the decision (a token cached as verified, an audit
// line, a tool name). The authorization server's endpoints may keep
// views (a flow's state, a client id while its metadata is fetched).
//
// A host that reads requests into buffers of its own may reuse such a
// buffer for the next request once a request that KeepsRequest reports
// false for is over; for one reported true it must hand the engine bytes
// that are never written again. The filter reads every header map into a
// buffer its stream keeps and copies only the true ones out (one
// allocation and a copy fewer per guarded request). It classifies req if
// that was not done yet.
func (e *Engine) KeepsRequest(req *Request) bool {
	return e.Classify(req) == RouteEndpoint && !req.routing.endpoint.copies
}

// Route says which part of mcpgate a request target belongs to.
type Route uint8

const (
	// RoutePass is traffic mcpgate does not own: let it through, minus
	// any client-supplied identity headers.
	RoutePass Route = iota
	// RouteEndpoint is an authorization-server endpoint or a discovery
	// document mcpgate serves.
	RouteEndpoint
	// RouteDiscovery is any other /.well-known/ path (answered 404, never
	// challenged).
	RouteDiscovery
	// RouteGuard is a protected MCP resource.
	RouteGuard
)

// routing is what Classify found for Request.Path, kept in the Request so
// that Handle does not look it up again.
type routing struct {
	_        [0]func() // not comparable: no equality function in the wasm module
	engine   *Engine   // the engine that classified
	path     string    // the Request.Path it was computed for
	route    Route
	endpoint *route
	resource *Resource
	// nearMiss: the path is not resource's but differs from it only in
	// ways some upstreams ignore (strictpath.go); it is refused.
	nearMiss bool
}

// Classify returns the route of req's target and remembers it in req, so
// that a host which classifies before building the rest of the request
// (to skip traffic it does not own, or to read the peer address only where
// it is used) pays for the lookup once.
func (e *Engine) Classify(req *Request) Route {
	// tokenEqual: in wasm one call that sees the same string at once,
	// where != is two that compare every byte.
	if req.routing.engine != e || !tokenEqual(req.routing.path, req.Path) {
		req.routing = e.lookup(req.Path)
	}
	return req.routing.route
}

// lookup classifies a request target.
func (e *Engine) lookup(target string) routing {
	rg := routing{engine: e, path: target}
	path := target
	for i := 0; i < len(path); i++ {
		// A loop the compiler keeps inline: strings.Cut is four calls
		// in wasm.
		if path[i] == '?' {
			path = path[:i]
			break
		}
	}
	if rt := e.route(path); rt != nil {
		rg.route, rg.endpoint = RouteEndpoint, rt
	} else if strings.HasPrefix(path, "/.well-known/") {
		rg.route = RouteDiscovery
	} else if r, near := e.guardedResource(path); r != nil {
		rg.route, rg.resource, rg.nearMiss = RouteGuard, r, near
	}
	return rg
}

// smallLookup is the number of entries up to which a path is looked up by
// comparing it with each: in wasm, hashing a string for a map lookup is a
// chain of calls, while comparing lengths is a few instructions.
const smallLookup = 8

// route returns the endpoint the engine answers at path, or nil. Most
// requests are for other paths, and most of those have a length no
// endpoint path has (routeLens), which settles it without the map.
func (e *Engine) route(path string) *route {
	if len(path) < 64 && e.routeLens&(1<<len(path)) == 0 {
		return nil
	}
	return e.routes[path]
}

// guardedResource returns the resource whose path, after percent-decoding
// and dot-segment removal, equals the request path or is a prefix of it at
// a "/" boundary. Decoding first means "/%6Dcp" cannot slip past the guard
// to an upstream that decodes it to "/mcp". A path that cannot be decoded
// is matched conservatively: it is guarded by the first resource, so it is
// refused rather than passed through. nearMiss is set for a path that is
// not the resource's but that an upstream might take for it (nearPath).
func (e *Engine) guardedResource(path string) (r *Resource, nearMiss bool) {
	if len(e.cfg.Resources) <= smallLookup {
		for _, r := range e.cfg.Resources {
			if len(r.Path) == len(path) && r.Path == path {
				return r, false
			}
		}
	} else if r := e.resources[path]; r != nil {
		return r, false
	}
	norm := path
	if needsNormalizing(path) {
		var ok bool
		if norm, ok = normalizePath(path); !ok {
			return e.cfg.Resources[0], false
		}
	}
	for _, r := range e.cfg.Resources {
		if norm == r.Path || len(norm) > len(r.Path) && norm[len(r.Path)] == '/' && strings.HasPrefix(norm, r.Path) {
			return r, false
		}
	}
	for _, r := range e.cfg.Resources {
		if r.CaseInsensitivePath && hasPathPrefixFold(norm, r.Path) {
			return r, false
		}
		if nearPath(norm, r.Path) {
			return r, true
		}
	}
	return nil, false
}

// needsNormalizing reports whether path could mean something else once
// decoded or resolved: percent-encoding, backslashes, empty or dot segments.
func needsNormalizing(path string) bool {
	return strings.IndexByte(path, '%') >= 0 || strings.IndexByte(path, '\\') >= 0 ||
		strings.Contains(path, "//") || strings.Contains(path, "/.")
}

// normalizePath percent-decodes path, merges slashes and removes dot
// segments (RFC 3986 §5.2.4). ok is false for undecodable input.
func normalizePath(p string) (string, bool) {
	if strings.IndexByte(p, '%') >= 0 {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c != '%' {
				b.WriteByte(c)
				continue
			}
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", false
			}
			b.WriteByte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			i += 2
		}
		p = b.String()
	}
	if strings.IndexByte(p, '\\') >= 0 {
		b := []byte(p)
		for i, c := range b {
			if c == '\\' {
				b[i] = '/'
			}
		}
		p = string(b)
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func methodAllowed(methods, m string) bool {
	// Not strings.Cut, four calls in wasm: the list is one of the
	// engine's own ("GET, HEAD", "POST"), separated by ", ".
	for methods != "" {
		i := 0
		for i < len(methods) && methods[i] != ',' {
			i++
		}
		if methods[:i] == m {
			return true
		}
		if i+2 > len(methods) {
			return false
		}
		methods = methods[i+2:]
	}
	return false
}

// Intercepts reports whether the engine answers or guards requests for this
// request target (path and optional query). When it returns false, all
// Handle does is remove client-supplied identity headers (see RoutePass).
func (e *Engine) Intercepts(target string) bool {
	return e.lookup(target).route != RoutePass
}
