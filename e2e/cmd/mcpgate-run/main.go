// Command mcpgate-run is the program behind `make run`: a local MCP gateway
// with no Docker and no Envoy.
//
// It starts the demo MCP server (package demomcp) on -upstream-listen, and on
// -listen a gateway that runs the compiled filter (build/mcpgate.wasm) inside
// the wazero proxy-wasm harness, the way Envoy runs it, in front of that
// server. It prints the URLs to try and stops cleanly on Ctrl-C.
//
//	go run ./e2e/cmd/mcpgate-run -wasm build/mcpgate.wasm -config e2e/testdata/dev-config.json
//
// The configuration in e2e/testdata/dev-config.json signs tokens with a
// development key published in this repository: local trials only.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
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
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgate-run:", err)
		os.Exit(1)
	}
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
	vms                    int
	stateful               bool
	verbose                bool
	clusters               clusterFlags
	insecureClusterTLS     bool
	cacheDir               string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{clusters: clusterFlags{}}
	flags := flag.NewFlagSet("mcpgate-run", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&o.wasm, "wasm", "build/mcpgate.wasm", "compiled filter (`make wasm`)")
	flags.StringVar(&o.config, "config", "e2e/testdata/dev-config.json", "filter configuration (JSON)")
	flags.StringVar(&o.listen, "listen", "127.0.0.1:8080", "gateway address")
	flags.StringVar(&o.upstreamListen, "upstream-listen", "127.0.0.1:8081", "demo MCP server address")
	flags.IntVar(&o.vms, "vms", 2, "wasm VM instances (Envoy worker threads)")
	flags.BoolVar(&o.stateful, "stateful", false,
		"run the demo server with MCP sessions (the harness buffers responses, so standalone SSE streams end at its upstream timeout)")
	flags.BoolVar(&o.verbose, "v", false, "log every request and the filter's debug output")
	flags.Var(o.clusters, "cluster", "Envoy cluster the filter may call, as `name=URL` (repeatable), e.g. upstream_idp=http://127.0.0.1:9000")
	flags.BoolVar(&o.insecureClusterTLS, "insecure-cluster-tls", false, "skip certificate checks on https clusters (local test providers only)")
	flags.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "wazero compilation cache (makes restarts fast); empty for none")
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	if flags.NArg() != 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", flags.Args())
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

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := start(ctx, o, stderr)
	if err != nil {
		return err
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
	return err
}

// gateway is a running demo server + wasm gateway pair.
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
	g := &gateway{errc: make(chan error, 2), logger: logger}
	if err := json.Unmarshal(cfgBytes, &g.cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", o.config, err)
	}

	gwLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	upLn, err := net.Listen("tcp", o.upstreamListen)
	if err != nil {
		gwLn.Close()
		return nil, fmt.Errorf("demo MCP server: %w", err)
	}
	g.base = "http://" + gwLn.Addr().String()
	g.upstream = "http://" + upLn.Addr().String()
	g.warnings = configWarnings(g.cfg, gwLn.Addr().String())

	// The demo server sits on loopback behind the gateway, which forwards the
	// client's Host header. If the gateway is reached under a non-loopback
	// name, accept that Host (the SDK's DNS-rebinding check would refuse it).
	demo := demomcp.NewDemo(demomcp.Options{
		Stateless:    !o.stateful,
		AllowAnyHost: !isLoopbackAddr(gwLn.Addr().String()),
	})
	g.upSrv = &http.Server{Handler: demo.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { g.errc <- serveErr("demo MCP server", g.upSrv.Serve(upLn)) }()

	clusters := map[string]harness.Cluster{}
	for name, u := range o.clusters {
		c := harness.Cluster{URL: u}
		if o.insecureClusterTLS && strings.HasPrefix(u, "https:") {
			c.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in, local test providers
		}
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
	logger.Printf("loading %s (%d bytes) into %d VMs...", o.wasm, len(wasm), o.vms)
	began := time.Now()
	h, err := harness.New(ctx, harness.Options{
		Wasm:                wasm,
		CompilationCacheDir: cacheDir,
		PluginConfig:        cfgBytes,
		VMs:                 o.vms,
		// Same identifiers as envoy/envoy.yaml.
		RootID:   "mcpgate",
		VMID:     "mcpgate",
		Upstream: g.upstream,
		Clusters: clusters,
		Log: func(level int, msg string) {
			// proxy-wasm levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
			if level >= 2 || o.verbose {
				logger.Printf("filter %s: %s", levelName(level), msg)
			}
		},
	})
	if err != nil {
		_ = g.upSrv.Close()
		gwLn.Close()
		return nil, fmt.Errorf("starting the filter: %w", err)
	}
	g.host = h
	logger.Printf("filter ready in %s", time.Since(began).Round(time.Millisecond))

	var handler http.Handler = h
	if o.verbose {
		handler = logRequests(logger, h)
	}
	g.gwSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { g.errc <- serveErr("gateway", g.gwSrv.Serve(gwLn)) }()
	return g, nil
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
// filter, then the demo server.
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
	if err := g.upSrv.Shutdown(ctx); err != nil {
		_ = g.upSrv.Close()
	}
	return errors.Join(errs...)
}

func (g *gateway) printURLs(w io.Writer) {
	fmt.Fprintf(w, "\nmcpgate (compiled filter in the wazero harness) on %s\n", g.base)
	fmt.Fprintf(w, "demo MCP server (no authorization of its own) on %s\n\n", g.upstream)
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

func levelName(l int) string {
	switch l {
	case 0:
		return "trace"
	case 1:
		return "debug"
	case 2:
		return "info"
	case 3:
		return "warn"
	case 4:
		return "error"
	default:
		return "critical"
	}
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
