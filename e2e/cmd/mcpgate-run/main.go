// Command mcpgate-run is the local gateway: it runs the compiled filter
// (build/mcpgate.wasm, or any proxy-wasm module) inside the wazero
// proxy-wasm harness, the way Envoy runs it, with no Docker and no Envoy.
// It is the program behind `make run`.
//
// By default it also starts the demo MCP server (package demomcp) on
// -upstream-listen and puts the gateway on -listen in front of it; with
// -upstream URL the gateway fronts that server instead and no demo server
// starts. It prints the URLs to try (or, for a configuration without an
// issuer, just the listen URL) and stops cleanly on SIGINT or SIGTERM.
//
//	go run ./e2e/cmd/mcpgate-run -wasm build/mcpgate.wasm -config e2e/testdata/dev-config.json
//	go run ./e2e/cmd/mcpgate-run -config FILE -listen ADDR -upstream URL \
//	    [-cluster NAME=URL]... [-cacert PEM] [-vms 2] [-enosys]
//
// The configuration file's bytes are the plugin configuration. Exit status:
// 0 after a clean stop, 1 when the gateway fails (the plugin refusing to
// start included, with its message), 2 for bad arguments.
//
// The configuration in e2e/testdata/dev-config.json signs tokens with a
// development key published in this repository: local trials only.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mcpgate/mcpgate/e2e/demomcp"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// clusterFlags collects repeated -cluster name=URL flags.
type clusterFlags map[string]string

func (c clusterFlags) String() string {
	var parts []string
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (c clusterFlags) Set(s string) error {
	name, u, ok := strings.Cut(s, "=")
	if !ok || name == "" || u == "" {
		return fmt.Errorf("want name=URL, got %q", s)
	}
	if _, err := url.Parse(u); err != nil {
		return err
	}
	c[name] = u
	return nil
}

type options struct {
	wasm, config           string
	listen, upstreamListen string
	upstream               string
	vms                    int
	stateful               bool
	verbose                bool
	clusters               clusterFlags
	insecureClusterTLS     bool
	caCert                 string
	cacheDir               string
	enosys                 bool
	rootID                 string
	vmConfig               string
	upstreamTimeout        time.Duration
	minLevel               int
	etcd                   etcdOptions // etcd.go
	cimdLoopback           hostPorts
}

// levels maps -log-level names to proxy-wasm log levels.
var levels = map[string]int{
	"trace": harness.LevelTrace, "debug": harness.LevelDebug, "info": harness.LevelInfo,
	"warn": harness.LevelWarn, "error": harness.LevelError, "critical": harness.LevelCritical,
}

// errUsage marks bad arguments (exit status 2).
var errUsage = errors.New("bad arguments")

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{clusters: clusterFlags{}, cimdLoopback: hostPorts{}}
	flags := flag.NewFlagSet("mcpgate-run", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&o.wasm, "wasm", "build/mcpgate.wasm", "compiled filter (`make wasm`), or any proxy-wasm module")
	flags.StringVar(&o.config, "config", "e2e/testdata/dev-config.json", "plugin configuration file; its bytes are passed to the filter")
	flags.StringVar(&o.listen, "listen", "127.0.0.1:8080", "gateway address")
	flags.StringVar(&o.upstream, "upstream", "", "URL of the upstream (MCP) server, e.g. http://127.0.0.1:8081; empty: start the demo MCP server")
	flags.StringVar(&o.upstreamListen, "upstream-listen", "127.0.0.1:8081", "demo MCP server address (without -upstream)")
	flags.IntVar(&o.vms, "vms", harness.DefaultVMs, "wasm VM instances (Envoy worker threads)")
	flags.BoolVar(&o.stateful, "stateful", false,
		"run the demo server with MCP sessions (the harness buffers responses, so standalone SSE streams end at its upstream timeout)")
	flags.BoolVar(&o.verbose, "v", false, "log every request and the filter's debug output")
	flags.Var(o.clusters, "cluster", "Envoy cluster the filter may call, as `name=URL` (repeatable), e.g. upstream_idp=http://127.0.0.1:9000")
	flags.BoolVar(&o.insecureClusterTLS, "insecure-cluster-tls", false, "skip certificate checks on https clusters (local test providers only)")
	flags.StringVar(&o.caCert, "cacert", "", "optional PEM file of root CAs trusted for https clusters and upstream")
	flags.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "wazero compilation cache (makes restarts fast); empty for none")
	flags.BoolVar(&o.enosys, "enosys", false, "emulate Envoy before PR 45756: WASI poll_oneoff returns ENOSYS")
	flags.StringVar(&o.rootID, "root-id", "mcpgate", "plugin root id (and VM id), as in envoy/envoy.yaml")
	flags.StringVar(&o.vmConfig, "vm-config", "", "optional VM configuration file")
	flags.DurationVar(&o.upstreamTimeout, "upstream-timeout", harness.DefaultUpstreamTimeout, "limit on a whole upstream response, like Envoy's route timeout; 0 disables (for long event streams)")
	logLevel := flags.String("log-level", "info", "lowest filter log level shown: trace, debug, info, warn, error, critical (-v: debug)")
	addEtcdFlags(flags, &o.etcd)
	flags.Var(o.cimdLoopback, "cimd-loopback-host",
		"TEST ONLY: a client metadata document host on this machine, as `NAME:PORT` (repeatable): NAME resolves to 127.0.0.1 and only such hosts are fetched from; -cacert adds the CA of its certificate")
	if err := flags.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if flags.NArg() != 0 {
		return nil, fmt.Errorf("%w: unexpected arguments: %q", errUsage, flags.Args())
	}
	var ok bool
	if o.minLevel, ok = levels[*logLevel]; !ok {
		return nil, fmt.Errorf("%w: -log-level %q is not a level name", errUsage, *logLevel)
	}
	if o.verbose && o.minLevel > harness.LevelDebug {
		o.minLevel = harness.LevelDebug
	}
	if o.config == "" {
		return nil, fmt.Errorf("%w: -config is required", errUsage)
	}
	return o, nil
}

// devConfig is the part of the filter configuration used to print URLs.
type devConfig struct {
	Issuer    string `json:"issuer"`
	Resources []struct {
		Path     string `json:"path"`
		Resource string `json:"resource"`
		Name     string `json:"name"`
	} `json:"resources"`
}

// run is main without the process: it returns the exit status. It stops
// when ctx is cancelled or on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "mcpgate-run:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := start(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mcpgate-run:", err)
		return 1
	}
	g.printURLs(stdout)
	fmt.Fprintln(stdout, "Ctrl-C to stop.")

	select {
	case <-ctx.Done():
	case err = <-g.errc:
	}
	stop() // a second Ctrl-C kills the process at once
	fmt.Fprintln(stdout, "\nstopping...")
	if cerr := g.close(); err == nil {
		err = cerr
	}
	fmt.Fprintln(stdout, "mcpgate-run: stopped")
	if err != nil {
		fmt.Fprintln(stderr, "mcpgate-run:", err)
		return 1
	}
	return 0
}

// gateway is a running wasm gateway and, without -upstream, the demo
// server behind it.
type gateway struct {
	cfg       devConfig
	base      string // the gateway's URL
	upstream  string // the demo server's URL
	host      *harness.Host
	gwSrv     *http.Server
	upSrv     *http.Server
	errc      chan error
	logger    *log.Logger
	warnings  []string
	clusterNm []string
	vms       int
	started   time.Duration
	stopEtcd  func()
	cimd      *cimdSetup
}

func start(ctx context.Context, o *options, stderr io.Writer) (*gateway, error) {
	logger := log.New(stderr, "", log.LstdFlags)
	wasm, err := os.ReadFile(o.wasm)
	if err != nil {
		return nil, fmt.Errorf("reading the filter: %w (build it with `make wasm`)", err)
	}
	cfgBytes, err := os.ReadFile(o.config)
	if err != nil {
		return nil, err
	}
	var vmConfig []byte
	if o.vmConfig != "" {
		if vmConfig, err = os.ReadFile(o.vmConfig); err != nil {
			return nil, err
		}
	}
	var roots *x509.CertPool
	if o.caCert != "" {
		pem, err := os.ReadFile(o.caCert)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", o.caCert)
		}
	}
	g := &gateway{errc: make(chan error, 2), logger: logger}
	// The configuration is the filter's business; it is read here only to
	// print URLs, so one that is not an mcpgate configuration prints none.
	_ = json.Unmarshal(cfgBytes, &g.cfg)
	if g.cimd, err = setupCIMD(o, cfgBytes, o.caCert); err != nil {
		return nil, fmt.Errorf("%s: cimd: %w", o.config, err)
	}
	cfgBytes = g.cimd.config

	gwLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		g.cimd.close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.base = "http://" + gwLn.Addr().String()
	g.warnings = configWarnings(g.cfg, gwLn.Addr().String())
	g.upstream = o.upstream
	if o.upstream == "" {
		upLn, err := net.Listen("tcp", o.upstreamListen)
		if err != nil {
			gwLn.Close()
			g.cimd.close()
			return nil, fmt.Errorf("demo MCP server: %w", err)
		}
		g.upstream = "http://" + upLn.Addr().String()
		// The demo server sits on loopback behind the gateway, which
		// forwards the client's Host header. If the gateway is reached
		// under a non-loopback name, accept that Host (the SDK's
		// DNS-rebinding check would refuse it).
		demo := demomcp.NewDemo(demomcp.Options{
			Stateless:    !o.stateful,
			AllowAnyHost: !isLoopbackAddr(gwLn.Addr().String()),
		})
		g.upSrv = &http.Server{Handler: demo.Handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { g.errc <- serveErr("demo MCP server", g.upSrv.Serve(upLn)) }()
	}

	if g.stopEtcd, err = startEtcd(&o.etcd, o.clusters, logger); err != nil {
		if g.upSrv != nil {
			_ = g.upSrv.Close()
		}
		gwLn.Close()
		g.cimd.close()
		return nil, err
	}
	clusters := map[string]harness.Cluster{}
	for name, u := range o.clusters {
		c := harness.Cluster{URL: u}
		if strings.HasPrefix(u, "https:") {
			c.TLS = clusterTLS(roots, o.insecureClusterTLS)
		}
		clusters[name] = c
		g.clusterNm = append(g.clusterNm, name)
	}
	for name, c := range g.cimd.clusters {
		clusters[name] = c
		g.clusterNm = append(g.clusterNm, name)
	}
	sort.Strings(g.clusterNm)

	cacheDir := ""
	if o.cacheDir != "" {
		if cacheDir, err = moduleCacheDir(o.cacheDir, wasm); err != nil {
			logger.Printf("compilation cache disabled: %v", err)
		}
	}
	upstreamTimeout := o.upstreamTimeout
	if upstreamTimeout <= 0 {
		upstreamTimeout = -1 // none
	}
	logger.Printf("loading %s (%d bytes) into %d VMs...", o.wasm, len(wasm), o.vms)
	if o.enosys {
		logger.Printf("-enosys: poll_oneoff fails like Envoy before PR 45756; expect the Go runtime to die at a GC")
	}
	began := time.Now()
	h, err := harness.New(ctx, harness.Options{
		Wasm:                wasm,
		CompilationCacheDir: cacheDir,
		PluginConfig:        cfgBytes,
		VMConfig:            vmConfig,
		VMs:                 o.vms,
		RootID:              o.rootID,
		VMID:                o.rootID,
		Upstream:            g.upstream,
		UpstreamTLS:         clusterTLS(roots, false),
		UpstreamTimeout:     upstreamTimeout,
		PollOneoffENOSYS:    o.enosys,
		Clusters:            clusters,
		Log: func(level int, msg string) {
			if level >= o.minLevel {
				logger.Printf("filter %s: %s", levelName(level), msg)
			}
		},
	})
	if err != nil {
		if g.upSrv != nil {
			_ = g.upSrv.Close()
		}
		gwLn.Close()
		g.stopEtcd()
		g.cimd.close()
		return nil, fmt.Errorf("starting the filter: %w", err)
	}
	g.host = h
	g.vms = h.NumVMs()
	g.started = time.Since(began).Round(time.Millisecond)
	logger.Printf("filter ready in %s", g.started)

	var handler http.Handler = h
	if o.verbose {
		handler = logRequests(logger, h)
	}
	g.gwSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { g.errc <- serveErr("gateway", g.gwSrv.Serve(gwLn)) }()
	return g, nil
}

// clusterTLS is the client TLS configuration for https clusters and the
// upstream: the -cacert roots (nil: the system's), or no verification at all
// with -insecure-cluster-tls.
func clusterTLS(roots *x509.CertPool, insecure bool) *tls.Config {
	switch {
	case insecure:
		return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in, local test providers
	case roots != nil:
		return &tls.Config{RootCAs: roots}
	}
	return nil
}

// defaultCacheDir is a per-user directory for wazero's compilation cache,
// or "" (an in-memory cache) when the user has no cache directory.
func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "mcpgate", "wazero")
}

// moduleCacheDir returns the compilation cache directory for this module
// under root, root/<hash of the module>, and deletes the caches of other
// builds there: a compiled module takes tens of MB, and each `make wasm`
// produces a new one.
func moduleCacheDir(root string, wasm []byte) (string, error) {
	sum := sha256.Sum256(wasm)
	name := hex.EncodeToString(sum[:8])
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != name && isCacheName(e.Name()) {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// isCacheName reports whether name looks like a moduleCacheDir entry (16 hex
// digits), so that nothing else in the directory is ever deleted.
func isCacheName(name string) bool {
	if len(name) != 16 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

func serveErr(what string, err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// close stops the gateway first (no new requests reach the filter), then the
// filter, then the demo server if there is one.
func (g *gateway) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if err := g.gwSrv.Shutdown(ctx); err != nil {
		_ = g.gwSrv.Close()
	}
	if err := g.host.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the filter: %w", err))
	}
	if g.upSrv != nil {
		if err := g.upSrv.Shutdown(ctx); err != nil {
			_ = g.upSrv.Close()
		}
	}
	g.stopEtcd()
	g.cimd.close()
	return errors.Join(errs...)
}

func (g *gateway) printURLs(w io.Writer) {
	fmt.Fprintf(w, "mcpgate-run: listening on %s (upstream %s, %d VMs, started in %v)\n", g.base, g.upstream, g.vms, g.started)
	if g.cfg.Issuer == "" {
		return
	}
	fmt.Fprintf(w, "\nmcpgate (compiled filter in the wazero harness) on %s\n", g.base)
	if g.upSrv != nil {
		fmt.Fprintf(w, "demo MCP server (no authorization of its own) on %s\n\n", g.upstream)
	} else {
		fmt.Fprintf(w, "upstream %s\n\n", g.upstream)
	}
	issuer := strings.TrimSuffix(g.cfg.Issuer, "/")
	asPath := "/.well-known/oauth-authorization-server"
	if u, err := url.Parse(issuer); err == nil && u.Path != "" && u.Path != "/" {
		asPath += u.Path // RFC 8414 §3: issuer path appended
	}
	fmt.Fprintf(w, "  issuer                   %s\n", g.cfg.Issuer)
	fmt.Fprintf(w, "  AS metadata              %s%s\n", g.base, asPath)
	for _, r := range g.cfg.Resources {
		path := r.Path
		if path == "" {
			if u, err := url.Parse(r.Resource); err == nil {
				path = u.Path
			}
		}
		name := r.Name
		if name == "" {
			name = path
		}
		fmt.Fprintf(w, "\n  %s\n", name)
		fmt.Fprintf(w, "    MCP endpoint           %s%s\n", g.base, path)
		fmt.Fprintf(w, "    resource               %s\n", r.Resource)
		fmt.Fprintf(w, "    PRM                    %s/.well-known/oauth-protected-resource%s\n", g.base, path)
	}
	if len(g.clusterNm) > 0 {
		fmt.Fprintf(w, "\n  clusters                 %s\n", strings.Join(g.clusterNm, ", "))
	}
	if g.cimd.section.Enabled {
		fmt.Fprintf(w, "\n  CIMD                     on (AS metadata: client_id_metadata_document_supported)\n")
		for _, n := range g.cimd.notes {
			fmt.Fprintf(w, "    %s\n", n)
		}
	}
	for _, warn := range g.warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Try:\n  curl -s %s/.well-known/oauth-protected-resource%s\n", g.base, firstPath(g.cfg))
	fmt.Fprintf(w, "  curl -si -X POST %s%s    # 401 with the challenge\n\n", g.base, firstPath(g.cfg))
}

func firstPath(c devConfig) string {
	if len(c.Resources) > 0 && c.Resources[0].Path != "" {
		return c.Resources[0].Path
	}
	return "/mcp"
}

// configWarnings flags an issuer or resource whose origin is not the
// gateway's own address: clients would then be sent elsewhere, or tokens
// minted for another audience.
func configWarnings(c devConfig, listenAddr string) []string {
	var out []string
	origin := func(s string) string {
		u, err := url.Parse(s)
		if err != nil {
			return ""
		}
		return u.Host
	}
	check := func(what, s string) {
		host := origin(s)
		if host == "" || host == listenAddr {
			return
		}
		// localhost:PORT and 127.0.0.1:PORT reach the same listener.
		h, p, err := net.SplitHostPort(host)
		lh, lp, lerr := net.SplitHostPort(listenAddr)
		if err == nil && lerr == nil && p == lp && (h == "localhost" || isLoopbackAddr(h)) && (isLoopbackAddr(lh) || lh == "0.0.0.0" || lh == "::") {
			return
		}
		out = append(out, fmt.Sprintf("%s %s is not served by this gateway (%s)", what, s, listenAddr))
	}
	check("issuer", c.Issuer)
	for _, r := range c.Resources {
		check("resource", r.Resource)
	}
	return out
}

func isLoopbackAddr(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func levelName(level int) string {
	for name, l := range levels {
		if l == level {
			return name
		}
	}
	return fmt.Sprint(level)
}

// statusRecorder captures the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func logRequests(logger *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.Printf("%s %s -> %d (%s)", r.Method, r.URL.RequestURI(), rec.status, time.Since(start).Round(time.Microsecond))
	})
}
