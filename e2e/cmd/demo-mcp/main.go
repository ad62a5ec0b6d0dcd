// Command demo-mcp serves the demo MCP server (package demomcp) over the
// streamable HTTP transport, at /mcp and at /team-b/mcp (a second, separate
// server for multi-resource demos), with a health check at /healthz.
//
// It has no authorization of its own: it is meant to sit behind mcpgate.
//
//	go run ./e2e/cmd/demo-mcp -listen 127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mcpgate/mcpgate/e2e/demomcp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo-mcp:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	stateless := flag.Bool("stateless", false, "serve MCP without sessions")
	allowAnyHost := flag.Bool("allow-any-host", false,
		"accept any Host header on a loopback listener (turns off the SDK's DNS-rebinding protection; "+
			"for use behind a gateway reached under another name)")
	verbose := flag.Bool("v", false, "log the MCP transport")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts := demomcp.Options{Stateless: *stateless, AllowAnyHost: *allowAnyHost}
	if *verbose {
		opts.Logger = logger
	}
	demo := demomcp.NewDemo(opts)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(logger, demo.Handler),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	logger.Info("demo MCP server listening",
		"mcp", base+demomcp.PathMCP, "team_b_mcp", base+demomcp.PathTeamBMCP, "healthz", base+demomcp.PathHealthz)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process at once
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Open SSE streams keep connections busy: cut them.
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// logRequests logs one line per request; never the header values (they may
// carry credentials if the server is reached without the gateway).
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != demomcp.PathHealthz {
			_, hasAuthz := r.Header["Authorization"]
			logger.Info("request", "method", r.Method, "path", r.URL.Path, "authorization_header", hasAuthz)
		}
		next.ServeHTTP(w, r)
	})
}
