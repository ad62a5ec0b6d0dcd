package harness

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
)

// Defaults applied by New.
const (
	// DefaultVMs is the number of VM instances when Options.VMs is 0.
	DefaultVMs = 2
	// DefaultMaxRequestBody is the body buffer limit when
	// Options.MaxRequestBody is 0 (Envoy's default
	// per_connection_buffer_limit_bytes is 1 MiB).
	DefaultMaxRequestBody = 1 << 20
	// DefaultUpstreamTimeout is the upstream request timeout when
	// Options.UpstreamTimeout is 0 (Envoy's default route timeout).
	DefaultUpstreamTimeout = 15 * time.Second
	// DefaultRequestBodyTimeout is the time a client has to send a whole
	// request body when Options.RequestBodyTimeout is 0.
	DefaultRequestBodyTimeout = 15 * time.Second
	// MaxCalloutResponseBody caps the body of a proxy_http_call response;
	// a larger body is a callout failure, like Envoy's async client buffer
	// limit.
	MaxCalloutResponseBody = 1 << 20
	// wasmMemoryLimitPages is Envoy's 1 GiB cap on a VM's linear memory.
	wasmMemoryLimitPages = 16384
)

// ErrPluginRefused is wrapped by the error New returns when the module's
// proxy_on_vm_start or proxy_on_configure returns false or traps: the plugin
// refused to start, and the Host fails closed as Envoy does.
var ErrPluginRefused = errors.New("harness: plugin refused to start")

// ErrCasMismatch is returned by Host.SetSharedData when the CAS value does
// not match, like the ABI's CasMismatch status.
var ErrCasMismatch = errors.New("harness: shared data cas mismatch")

// Cluster is the destination of an Envoy cluster that proxy_http_call can
// name.
type Cluster struct {
	// URL is the base URL the cluster's connections go to, e.g.
	// "http://127.0.0.1:9000" or "https://127.0.0.1:8443". It must have no
	// path: the callout's :path header is the request path.
	URL string
	// TLS is an optional client TLS configuration (RootCAs, ServerName) for
	// https clusters.
	TLS *tls.Config
	// OriginalDst makes the cluster an Envoy ORIGINAL_DST cluster with
	// original_dst_lb_config.use_http_header, and for https auto_sni and
	// auto_san_validation: each callout connects to the address in its
	// x-envoy-original-dst-host header ("ip:port", "[ipv6]:port"), which is
	// removed before the request is sent. URL then only gives the scheme
	// ("https://" or "http://"; any host in it is ignored). Over https the
	// TLS server name (SNI) is the :authority host without its port and the
	// certificate is verified for that name against TLS.RootCAs (TLS.ServerName
	// is ignored). A callout without the header, or whose first value is not an
	// IP literal with a port, gets Envoy's local reply: 503 "no healthy
	// upstream", with no connection attempted. See README.md.
	OriginalDst bool
}

// Options configures a Host.
type Options struct {
	// Wasm holds the module bytes (required).
	Wasm []byte
	// PluginConfig is returned by proxy_get_buffer_bytes(PluginConfiguration).
	PluginConfig []byte
	// VMConfig is returned by proxy_get_buffer_bytes(VMConfiguration).
	VMConfig []byte
	// RootID is the plugin root id (property "plugin_root_id").
	RootID string
	// VMID is the vm_id (property "plugin_vm_id"), which also names the
	// shared queue namespace. Default empty, as in Envoy.
	VMID string
	// VMs is the number of VM instances, like Envoy worker threads;
	// default DefaultVMs.
	VMs int
	// Upstream is the URL the Host forwards allowed requests to, e.g.
	// "http://127.0.0.1:8081". If empty, allowed requests get Envoy's 503
	// "no healthy upstream".
	Upstream string
	// UpstreamTLS is an optional client TLS configuration for an https
	// Upstream.
	UpstreamTLS *tls.Config
	// UpstreamTimeout bounds a forwarded request until its response body is
	// read, like Envoy's route timeout; default DefaultUpstreamTimeout,
	// negative for none. On expiry the client gets 504, or a reset if the
	// response had started.
	UpstreamTimeout time.Duration
	// Clusters maps cluster names to destinations for proxy_http_call.
	Clusters map[string]Cluster
	// PollOneoffENOSYS emulates Envoy hosts that predate envoy PR 45756:
	// WASI poll_oneoff returns ENOSYS (52) instead of working.
	PollOneoffENOSYS bool
	// Log is an optional log sink. By default entries go to the standard
	// log package (stderr). Every entry is also kept for Host.Logs.
	Log func(level int, msg string)
	// CompilationCacheDir is an optional wazero compilation cache
	// directory. If empty, a process-wide in-memory cache is used, so many
	// Hosts in one process compile a module once.
	CompilationCacheDir string
	// Properties holds extra properties by dotted path (e.g.
	// "node.metadata.region"), overriding the defaults.
	Properties map[string][]byte
	// AccessLog, when set, receives an entry for every ended stream, with
	// the filter state the filter set (abi_filterstate.go), when the
	// stream ends (possibly after the client got the response). It must
	// return quickly and not call the Host.
	AccessLog func(AccessLogEntry)
	// MaxRequestBody is the body buffer limit (bytes), like Envoy's
	// per_connection_buffer_limit_bytes; default DefaultMaxRequestBody.
	// A request body above it gets a 413 reply (the harness buffers request
	// bodies whole); a response body the filter buffers beyond it gets a
	// 500 reply. Streamed response bodies are not limited.
	MaxRequestBody int
	// RequestBodyTimeout bounds the time from the request headers to the
	// end of the request body (default DefaultRequestBodyTimeout; negative
	// disables it). A client that sends its body slower gets a 408 reply
	// and its connection closed, so slow bodies cannot hold connections and
	// buffers (Envoy's request_timeout plays this part). A declared
	// Content-Length above MaxRequestBody gets 413 at once, before any of
	// the body is read.
	RequestBodyTimeout time.Duration
	// NoSignatureFunctions emulates an Envoy without the verify_signature
	// and sign foreign functions: calls to them answer NotFound, like any
	// unknown name. By default both are available (abi_foreign.go).
	NoSignatureFunctions bool
}

// Host runs opts.VMs instances of one proxy-wasm module and serves HTTP
// through them. It implements http.Handler. All methods are safe for
// concurrent use.
type Host struct {
	opts      Options
	rt        wazero.Runtime
	ownCache  wazero.CompilationCache // closed by Close; nil for the shared cache
	compiled  wazero.CompiledModule
	vms       []*VM
	rr        atomic.Uint64
	upstream  *url.URL
	upClient  *http.Client
	clusters  map[string]*cluster
	shared    sharedData
	queues    sharedQueues
	metrics   metricRegistry
	foreign   foreignCounts
	logs      logRing
	bg        tracker // callouts, ticks, queue notifications
	bgCtx     context.Context
	bgCancel  context.CancelFunc
	closing   atomic.Bool
	done      chan struct{} // closed when Close starts
	closeOnce sync.Once
	closeErr  error
}

// cluster is a parsed Cluster with its own HTTP client.
type cluster struct {
	name   string
	base   *url.URL
	client *http.Client // nil for an original-dst cluster
	// originalDst: pinned clients per destination and server name.
	originalDst bool
	tls         *tls.Config

	mu     sync.Mutex
	dialed []string
	pinned map[pinKey]*http.Client
}

var (
	sharedCacheOnce sync.Once
	sharedCache     wazero.CompilationCache
	compileLocks    sync.Map // sha256 of module -> *sync.Mutex
)

// processCache returns the process-wide in-memory compilation cache.
func processCache() wazero.CompilationCache {
	sharedCacheOnce.Do(func() { sharedCache = wazero.NewCompilationCache() })
	return sharedCache
}

// New compiles opts.Wasm and starts opts.VMs instances of it. For each it
// calls _initialize, proxy_on_context_create(root), proxy_on_vm_start and
// proxy_on_configure, as Envoy does. If any of them returns false or traps,
// New fails closed with an error wrapping ErrPluginRefused whose text is
// "harness: plugin refused to start: <last error log lines>".
func New(ctx context.Context, opts Options) (*Host, error) {
	if len(opts.Wasm) == 0 {
		return nil, errors.New("harness: Options.Wasm is empty")
	}
	if opts.VMs < 0 {
		return nil, fmt.Errorf("harness: Options.VMs is %d", opts.VMs)
	}
	if opts.VMs == 0 {
		opts.VMs = DefaultVMs
	}
	if opts.MaxRequestBody <= 0 {
		opts.MaxRequestBody = DefaultMaxRequestBody
	}
	if opts.RequestBodyTimeout == 0 {
		opts.RequestBodyTimeout = DefaultRequestBodyTimeout
	}
	if opts.UpstreamTimeout == 0 {
		opts.UpstreamTimeout = DefaultUpstreamTimeout
	}
	h := &Host{opts: opts, done: make(chan struct{}), clusters: map[string]*cluster{}}
	h.shared.init()
	h.queues.init()
	h.metrics.init()

	if opts.Upstream != "" {
		u, err := parseBaseURL(opts.Upstream)
		if err != nil {
			return nil, fmt.Errorf("harness: Options.Upstream: %w", err)
		}
		h.upstream = u
		h.upClient = newHTTPClient(opts.UpstreamTLS, nil)
	}
	for name, c := range opts.Clusters {
		cl, err := newCluster(name, c)
		if err != nil {
			return nil, fmt.Errorf("harness: cluster %q: %w", name, err)
		}
		h.clusters[name] = cl
	}

	cache := processCache()
	if opts.CompilationCacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(opts.CompilationCacheDir)
		if err != nil {
			return nil, fmt.Errorf("harness: compilation cache: %w", err)
		}
		cache, h.ownCache = c, c
	}
	h.bgCtx, h.bgCancel = context.WithCancel(context.Background())
	h.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(wasmMemoryLimitPages).
		WithCloseOnContextDone(false))
	fail := func(err error) (*Host, error) {
		_ = h.Close(context.Background())
		return nil, err
	}
	if err := instantiateWASI(ctx, h.rt, opts.PollOneoffENOSYS); err != nil {
		return fail(err)
	}
	if err := instantiateEnv(ctx, h.rt); err != nil {
		return fail(err)
	}
	compiled, err := h.compile(ctx)
	if err != nil {
		return fail(err)
	}
	h.compiled = compiled
	if err := checkExports(compiled); err != nil {
		return fail(err)
	}
	for i := 0; i < opts.VMs; i++ {
		vm := newVM(h, i)
		h.vms = append(h.vms, vm)
		if err := vm.start(ctx); err != nil {
			return fail(err)
		}
	}
	return h, nil
}

// compile compiles the module. With the process-wide cache, compilations
// of the same bytes are serialized so the second one is a cache hit.
func (h *Host) compile(ctx context.Context) (wazero.CompiledModule, error) {
	if h.ownCache == nil {
		sum := sha256.Sum256(h.opts.Wasm)
		mu, _ := compileLocks.LoadOrStore(sum, &sync.Mutex{})
		mu.(*sync.Mutex).Lock()
		defer mu.(*sync.Mutex).Unlock()
	}
	m, err := h.rt.CompileModule(ctx, h.opts.Wasm)
	if err != nil {
		return nil, fmt.Errorf("harness: compile module: %w", err)
	}
	return m, nil
}

// checkExports verifies the module is a proxy-wasm module Envoy would load.
func checkExports(m wazero.CompiledModule) error {
	exports := m.ExportedFunctions()
	abi := false
	for name := range exports {
		if strings.HasPrefix(name, "proxy_abi_version_0_2_") {
			abi = true
		}
	}
	if !abi {
		return errors.New("harness: module exports no supported proxy_abi_version_0_2_* function")
	}
	if _, ok := exports["proxy_on_memory_allocate"]; !ok {
		if _, ok := exports["malloc"]; !ok {
			return errors.New("harness: module exports neither proxy_on_memory_allocate nor malloc")
		}
	}
	return nil
}

// parseBaseURL parses a cluster or upstream URL: http or https, a host, no
// path.
func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("URL %q must have no path or query", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// dialFunc is the signature of http.Transport.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// baseDialer is the dialer of every client (Envoy's default connect_timeout
// is 5 s).
var baseDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// newHTTPClient returns a client that follows no redirects, does not
// decompress, ignores proxy environment variables, uses tlsConf and dials
// with dial (default baseDialer).
func newHTTPClient(tlsConf *tls.Config, dial dialFunc) *http.Client {
	if dial == nil {
		dial = baseDialer.DialContext
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
	if tlsConf != nil {
		tr.TLSClientConfig = tlsConf.Clone()
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// VM returns VM instance i (0 <= i < number of VMs), or nil if i is out of
// range. Use it to direct a request at a given VM in tests.
func (h *Host) VM(i int) *VM {
	if i < 0 || i >= len(h.vms) {
		return nil
	}
	return h.vms[i]
}

// NumVMs returns the number of VM instances.
func (h *Host) NumVMs() int { return len(h.vms) }

// ServeHTTP runs the request through the filter on the next VM in
// round-robin order. Dead VMs keep their turn and answer 503, like an Envoy
// worker whose VM failed (see README.md).
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := (h.rr.Add(1) - 1) % uint64(len(h.vms))
	h.vms[i].ServeHTTP(w, r)
}

// Close stops ticks, cancels pending callouts and waits for their
// goroutines (until ctx is done), calls proxy_on_done and proxy_on_delete
// on every live root context (it does not wait for proxy_done), and
// releases the runtime. Requests still paused in the filter are answered
// 503, later ones too. Close is idempotent; stop the HTTP server first for
// a graceful shutdown.
func (h *Host) Close(ctx context.Context) error {
	h.closeOnce.Do(func() { h.closeErr = h.close(ctx) })
	return h.closeErr
}

func (h *Host) close(ctx context.Context) error {
	h.closing.Store(true)
	close(h.done)
	h.bgCancel()
	var errs []error
	for _, vm := range h.vms {
		vm.mu.Lock()
		vm.stopTickLocked()
		vm.mu.Unlock()
	}
	if err := h.bg.wait(ctx); err != nil {
		errs = append(errs, fmt.Errorf("harness: waiting for callouts and timers: %w", err))
	}
	for _, vm := range h.vms {
		vm.shutdown(ctx)
	}
	if h.rt != nil {
		if err := h.rt.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("harness: close runtime: %w", err))
		}
	}
	if h.ownCache != nil {
		if err := h.ownCache.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("harness: close compilation cache: %w", err))
		}
	}
	for _, c := range h.clusters {
		c.closeIdle()
	}
	if h.upClient != nil {
		h.upClient.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// tracker counts background goroutines and lets Close wait for them. Once
// waiting has begun, start refuses new work.
type tracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{}
}

// start registers a goroutine; it returns false once the Host is closing.
func (t *tracker) start() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

// finish unregisters a goroutine started with start.
func (t *tracker) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// wait refuses new work and waits until every registered goroutine
// finished or ctx is done.
func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	if t.n == 0 {
		t.mu.Unlock()
		return nil
	}
	idle := make(chan struct{})
	t.idle = idle
	t.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
