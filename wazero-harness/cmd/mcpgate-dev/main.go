// Command mcpgate-dev is the local dev gateway: it runs the mcpgate filter
// (or any proxy-wasm module) in the wazero harness, the way Envoy would,
// in front of an upstream MCP server.
//
//	go run ./wazero-harness/cmd/mcpgate-dev -config FILE -listen ADDR -upstream URL \
//	    [-cluster NAME=URL]... [-wasm build/mcpgate.wasm] [-vms 2] [-enosys]
//
// The configuration file's bytes are the plugin configuration. It prints
// the listen URL, serves until SIGINT or SIGTERM, then shuts down
// gracefully. If the plugin refuses to start it exits with status 1 and
// the refusal message.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// clusterFlags collects repeated -cluster NAME=URL flags.
type clusterFlags map[string]string

// String implements flag.Value.
func (c clusterFlags) String() string {
	var parts []string
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value: it adds one NAME=URL cluster.
func (c clusterFlags) Set(s string) error {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want NAME=URL, got %q", s)
	}
	c[name] = url
	return nil
}

// levels maps -log-level names to proxy-wasm log levels.
var levels = map[string]int{
	"trace": harness.LevelTrace, "debug": harness.LevelDebug, "info": harness.LevelInfo,
	"warn": harness.LevelWarn, "error": harness.LevelError, "critical": harness.LevelCritical,
}

// run is main without the process: it returns the exit status. It stops
// when ctx is cancelled or on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mcpgate-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "plugin configuration file (required); its bytes are passed to the filter")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	upstream := fs.String("upstream", "", "URL of the upstream (MCP) server, e.g. http://127.0.0.1:8081")
	wasmPath := fs.String("wasm", "build/mcpgate.wasm", "proxy-wasm module")
	vms := fs.Int("vms", harness.DefaultVMs, "number of VMs (Envoy worker threads)")
	enosys := fs.Bool("enosys", false, "emulate Envoy before PR 45756: WASI poll_oneoff returns ENOSYS")
	rootID := fs.String("root-id", "", "plugin root id")
	vmConfigPath := fs.String("vm-config", "", "optional VM configuration file")
	caCert := fs.String("cacert", "", "optional PEM file of root CAs trusted for https clusters and upstream")
	upstreamTimeout := fs.Duration("upstream-timeout", harness.DefaultUpstreamTimeout, "limit on a whole upstream response, like Envoy's route timeout; 0 disables (for long event streams)")
	logLevel := fs.String("log-level", "info", "lowest filter log level shown: trace, debug, info, warn, error, critical")
	defaultCache := ""
	if dir, err := os.UserCacheDir(); err == nil {
		defaultCache = filepath.Join(dir, "mcpgate", "wazero")
	}
	cacheDir := fs.String("cache-dir", defaultCache, "wazero compilation cache directory (empty: in memory)")
	clusters := clusterFlags{}
	fs.Var(clusters, "cluster", "callout cluster as NAME=URL (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	minLevel, ok := levels[*logLevel]
	if !ok || fs.NArg() > 0 || *configPath == "" {
		fmt.Fprintln(stderr, "mcpgate-dev: -config is required; -log-level must be a level name; no positional arguments")
		fs.Usage()
		return 2
	}
	logger := log.New(stderr, "", log.LstdFlags)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "mcpgate-dev: %v\n", err)
		return 1
	}

	config, err := os.ReadFile(*configPath)
	if err != nil {
		return fail(err)
	}
	var vmConfig []byte
	if *vmConfigPath != "" {
		if vmConfig, err = os.ReadFile(*vmConfigPath); err != nil {
			return fail(err)
		}
	}
	wasm, err := os.ReadFile(*wasmPath)
	if err != nil {
		return fail(fmt.Errorf("%w (build it with: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o %s ./plugin)", err, *wasmPath))
	}
	var tlsConf *tls.Config
	if *caCert != "" {
		pem, err := os.ReadFile(*caCert)
		if err != nil {
			return fail(err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fail(fmt.Errorf("no certificate in %s", *caCert))
		}
		tlsConf = &tls.Config{RootCAs: roots}
	}
	opts := harness.Options{
		Wasm:                wasm,
		PluginConfig:        config,
		VMConfig:            vmConfig,
		RootID:              *rootID,
		VMs:                 *vms,
		Upstream:            *upstream,
		UpstreamTLS:         tlsConf,
		Clusters:            map[string]harness.Cluster{},
		UpstreamTimeout:     *upstreamTimeout,
		PollOneoffENOSYS:    *enosys,
		CompilationCacheDir: *cacheDir,
		Log: func(level int, msg string) {
			if level >= minLevel {
				logger.Printf("[%s] %s", levelName(level), msg)
			}
		},
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = -1 // none
	}
	for name, url := range clusters {
		opts.Clusters[name] = harness.Cluster{URL: url, TLS: tlsConf}
	}
	if opts.CompilationCacheDir != "" {
		if err := os.MkdirAll(opts.CompilationCacheDir, 0o755); err != nil {
			return fail(err)
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	host, err := harness.New(ctx, opts)
	if err != nil {
		return fail(err)
	}
	closeHost := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := host.Close(cctx); err != nil {
			fmt.Fprintf(stderr, "mcpgate-dev: %v\n", err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		closeHost()
		return fail(err)
	}
	srv := &http.Server{Handler: host, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if opts.Upstream == "" {
		fmt.Fprintln(stderr, "mcpgate-dev: no -upstream: requests the filter lets through get 503")
	}
	if opts.PollOneoffENOSYS {
		fmt.Fprintln(stderr, "mcpgate-dev: -enosys: poll_oneoff fails like Envoy before PR 45756; expect the Go runtime to die at a GC")
	}
	fmt.Fprintf(stdout, "mcpgate-dev: listening on http://%s (upstream %s, %d VMs, started in %v)\n",
		ln.Addr(), orNone(opts.Upstream), host.NumVMs(), time.Since(start).Round(time.Millisecond))

	status := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "mcpgate-dev: %v\n", err)
		status = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "mcpgate-dev: shutdown: %v\n", err)
	}
	closeHost()
	fmt.Fprintln(stdout, "mcpgate-dev: stopped")
	return status
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func levelName(level int) string {
	for name, l := range levels {
		if l == level {
			return name
		}
	}
	return fmt.Sprint(level)
}
