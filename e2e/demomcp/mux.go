package demomcp

import (
	"encoding/json"
	"net/http"
)

// Paths served by NewDemoMux.
const (
	PathMCP      = "/mcp"
	PathTeamBMCP = "/team-b/mcp"
	PathHealthz  = "/healthz"
	// PathEcho answers GET with the request's headers as a JSON object
	// (canonical name -> values): a path the gateway passes through, for
	// tests of what reaches the upstream there.
	PathEcho = "/echo-headers"
)

// Demo is the set of demo servers behind the HTTP handler used by the demo
// binaries (e2e/cmd/demo-mcp and e2e/cmd/mcpgate-run).
type Demo struct {
	// Main is served at /mcp, TeamB at /team-b/mcp. They are two separate
	// MCP servers (names "<name>" and "<name>-team-b"), so a test can tell
	// from the initialize result which resource a request reached.
	Main, TeamB *Server
	// Handler serves both, plus GET /healthz (200 "ok", for health checks)
	// and GET /echo-headers. Any other path is 404.
	Handler http.Handler
}

// NewDemo builds the demo handler. opts applies to both servers; the team-b
// server gets the suffix "-team-b" on its name.
func NewDemo(opts Options) *Demo {
	if opts.Name == "" {
		opts.Name = "demo-mcp"
	}
	teamB := opts
	teamB.Name = opts.Name + "-team-b"
	d := &Demo{Main: New(opts), TeamB: New(teamB)}

	mux := http.NewServeMux()
	mux.Handle(PathMCP, d.Main.Handler())
	mux.Handle(PathTeamBMCP, d.TeamB.Handler())
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+PathEcho, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	})
	d.Handler = mux
	return d
}
