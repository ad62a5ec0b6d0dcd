// Package demomcp is a small MCP server used to demonstrate and test mcpgate.
//
// It is a real MCP server built on the official Go SDK, served over the
// streamable HTTP transport. It knows nothing about authorization: mcpgate sits
// in front of it. To let tests prove that, it records every HTTP request that
// reaches it (method, path and a copy of the headers), so a test can assert that
// the server never saw an Authorization header or a forged identity header.
//
// Tools:
//   - echo: returns its "text" argument;
//   - time: returns the current time (RFC 3339);
//   - admin_stats: returns counters about the server. It is harmless, but in
//     the gateway configuration it stands for a privileged tool that requires
//     the extra scope mcp:admin.
package demomcp

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool names served by the demo server.
const (
	ToolEcho       = "echo"
	ToolTime       = "time"
	ToolAdminStats = "admin_stats"
)

// DefaultMaxSeen is the number of requests the recorder keeps when
// Options.MaxSeen is zero.
const DefaultMaxSeen = 1000

// Options configures a demo server. The zero value is usable.
type Options struct {
	// Name and Version are reported in the MCP initialize result.
	// Defaults: "demo-mcp", "v0.1.0".
	Name    string
	Version string

	// Stateless serves MCP without sessions (no Mcp-Session-Id; GET and
	// DELETE answer 405). The default is a stateful server, which exercises
	// more of the transport (session header, standalone SSE stream).
	Stateless bool

	// SessionTimeout closes idle sessions of a stateful server.
	// Default: 10 minutes.
	SessionTimeout time.Duration

	// AllowAnyHost turns off the SDK's DNS-rebinding protection, which
	// rejects (403) a request that arrives on a loopback address with a
	// non-loopback Host header. Set it when the server listens on loopback
	// behind a gateway that is reached under another host name.
	AllowAnyHost bool

	// MaxSeen bounds the request recorder; the oldest entries are dropped
	// first. Default: DefaultMaxSeen. A negative value disables recording.
	MaxSeen int

	// Now is the clock used by the time tool. Default: time.Now.
	Now func() time.Time

	// Logger receives the SDK's transport logs. Default: none.
	Logger *slog.Logger
}

// SeenRequest is one HTTP request as it reached the demo server.
type SeenRequest struct {
	Time   time.Time
	Method string
	Host   string
	Path   string
	Query  string
	// Header is a deep copy of the request headers.
	Header http.Header
}

// Server is a demo MCP server plus a recorder of the requests it received.
type Server struct {
	opts    Options
	mcp     *mcp.Server
	handler http.Handler
	started time.Time

	mu        sync.Mutex
	seen      []SeenRequest
	requests  int64
	toolCalls map[string]int64
}

// New returns a demo server with the three demo tools.
func New(opts Options) *Server {
	if opts.Name == "" {
		opts.Name = "demo-mcp"
	}
	if opts.Version == "" {
		opts.Version = "v0.1.0"
	}
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = 10 * time.Minute
	}
	if opts.MaxSeen == 0 {
		opts.MaxSeen = DefaultMaxSeen
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		started:   opts.Now(),
		toolCalls: map[string]int64{},
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: opts.Name, Version: opts.Version},
		&mcp.ServerOptions{
			Instructions: "Demo MCP server behind mcpgate. Tools: echo, time, admin_stats (needs scope mcp:admin).",
			Logger:       opts.Logger,
		})
	s.addTools()

	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
		&mcp.StreamableHTTPOptions{
			Stateless:                  opts.Stateless,
			SessionTimeout:             opts.SessionTimeout,
			DisableLocalhostProtection: opts.AllowAnyHost,
			Logger:                     opts.Logger,
		})
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		streamable.ServeHTTP(w, r)
	})
	return s
}

// Handler returns the streamable HTTP handler. It serves MCP at whatever path
// it is mounted on and records every request it receives.
func (s *Server) Handler() http.Handler { return s.handler }

// MCPServer returns the underlying SDK server, for tests that want to add
// tools, prompts or resources of their own.
func (s *Server) MCPServer() *mcp.Server { return s.mcp }

// Seen returns a copy of the recorded requests, oldest first.
func (s *Server) Seen() []SeenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SeenRequest, len(s.seen))
	for i, r := range s.seen {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// ResetSeen forgets the recorded requests (the counters are kept).
func (s *Server) ResetSeen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = nil
}

// SawHeader reports whether any recorded request carried the header name
// (case-insensitive), whatever its value.
func (s *Server) SawHeader(name string) bool {
	key := http.CanonicalHeaderKey(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.seen {
		if _, ok := r.Header[key]; ok {
			return true
		}
	}
	return false
}

func (s *Server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.opts.MaxSeen < 0 {
		return
	}
	if len(s.seen) >= s.opts.MaxSeen {
		// Drop the oldest entries; copy so the backing array does not grow forever.
		keep := s.opts.MaxSeen - 1
		s.seen = append([]SeenRequest(nil), s.seen[len(s.seen)-keep:]...)
	}
	s.seen = append(s.seen, SeenRequest{
		Time:   s.opts.Now(),
		Method: r.Method,
		Host:   r.Host,
		Path:   r.URL.Path,
		Query:  r.URL.RawQuery,
		Header: r.Header.Clone(),
	})
}

func (s *Server) countCall(tool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.toolCalls[tool]++
}

// EchoInput is the input of the echo tool.
type EchoInput struct {
	Text string `json:"text" jsonschema:"the text to echo back"`
}

// EchoOutput is the structured output of the echo tool.
type EchoOutput struct {
	Text string `json:"text" jsonschema:"the text that was sent"`
}

// TimeInput is the (empty) input of the time tool.
type TimeInput struct{}

// TimeOutput is the structured output of the time tool.
type TimeOutput struct {
	Time string `json:"time" jsonschema:"the server's current time, RFC 3339"`
}

// AdminStatsInput is the (empty) input of the admin_stats tool.
type AdminStatsInput struct{}

// AdminStatsOutput is the structured output of the admin_stats tool.
type AdminStatsOutput struct {
	Server        string           `json:"server" jsonschema:"the server's name"`
	Started       string           `json:"started" jsonschema:"when the server started, RFC 3339"`
	UptimeSeconds int64            `json:"uptime_seconds" jsonschema:"seconds since the server started"`
	HTTPRequests  int64            `json:"http_requests" jsonschema:"HTTP requests received, all methods"`
	ToolCalls     map[string]int64 `json:"tool_calls" jsonschema:"tool calls by tool name, this one included"`
}

func (s *Server) addTools() {
	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:        ToolEcho,
		Title:       "Echo",
		Description: "Returns the given text unchanged.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(_ context.Context, _ *mcp.CallToolRequest, in EchoInput) (*mcp.CallToolResult, EchoOutput, error) {
		s.countCall(ToolEcho)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}},
			EchoOutput(in), nil
	})

	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:        ToolTime,
		Title:       "Current time",
		Description: "Returns the server's current time in RFC 3339 format.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(_ context.Context, _ *mcp.CallToolRequest, _ TimeInput) (*mcp.CallToolResult, TimeOutput, error) {
		s.countCall(ToolTime)
		now := s.opts.Now().Format(time.RFC3339)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: now}}},
			TimeOutput{Time: now}, nil
	})

	mcp.AddTool(s.mcp, &mcp.Tool{
		Name:  ToolAdminStats,
		Title: "Server statistics (admin)",
		Description: "Returns request and tool-call counters of the demo server. " +
			"Administrative: the gateway requires the scope mcp:admin for it.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(_ context.Context, _ *mcp.CallToolRequest, _ AdminStatsInput) (*mcp.CallToolResult, AdminStatsOutput, error) {
		s.countCall(ToolAdminStats)
		return nil, s.stats(), nil
	})
}

func (s *Server) stats() AdminStatsOutput {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := make(map[string]int64, len(s.toolCalls))
	for k, v := range s.toolCalls {
		calls[k] = v
	}
	return AdminStatsOutput{
		Server:        s.opts.Name,
		Started:       s.started.Format(time.RFC3339),
		UptimeSeconds: int64(s.opts.Now().Sub(s.started) / time.Second),
		HTTPRequests:  s.requests,
		ToolCalls:     calls,
	}
}
