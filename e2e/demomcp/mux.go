package demomcp

import "net/http"

// Paths served by NewDemoMux.
const (
	PathMCP      = "/mcp"
	PathTeamBMCP = "/team-b/mcp"
	PathHealthz  = "/healthz"
)

// Demo is the set of demo servers behind the HTTP handler used by the demo
// binaries (e2e/cmd/demo-mcp and e2e/cmd/mcpgate-run).
type Demo struct {
	// Main is served at /mcp, TeamB at /team-b/mcp. They are two separate
	// MCP servers (names "<name>" and "<name>-team-b"), so a test can tell
	// from the initialize result which resource a request reached.
	Main, TeamB *Server
	// Handler serves both, plus GET /healthz (200 "ok", for health checks).
	// Any other path is 404.
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
	d.Handler = mux
	return d
}
