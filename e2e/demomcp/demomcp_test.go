package demomcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// headerTransport adds fixed headers to every request, standing in for a
// client that (wrongly) sends credentials straight to the MCP server.
type headerTransport struct {
	header http.Header
	next   http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range t.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return t.next.RoundTrip(r)
}

// newTestServer starts an httptest server closed at cleanup. Register it
// before connecting clients: cleanups run last-in first-out, so the clients
// (and their standalone SSE streams) are closed before the server, whose
// Close waits for every connection to finish.
func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func connect(t *testing.T, endpoint string, extra http.Header) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	transport := &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: headerTransport{header: extra, next: http.DefaultTransport}},
		MaxRetries: -1,
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "demomcp-test", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, transport, nil)
	if err != nil {
		t.Fatalf("connect %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("call %s: tool error: %+v", name, res.Content)
	}
	if len(res.Content) != 1 {
		t.Fatalf("call %s: %d content items, want 1", name, len(res.Content))
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("call %s: content is %T, want *mcp.TextContent", name, res.Content[0])
	}
	return res, text.Text
}

func TestToolsListEchoTime(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		name := "stateful"
		if stateless {
			name = "stateless"
		}
		t.Run(name, func(t *testing.T) {
			s := New(Options{Stateless: stateless, Now: func() time.Time { return fixedNow }})
			ts := newTestServer(t, s.Handler())
			cs := connect(t, ts.URL+"/mcp", nil)

			if got := cs.InitializeResult().ServerInfo.Name; got != "demo-mcp" {
				t.Errorf("server name = %q, want demo-mcp", got)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			list, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			var names []string
			for _, tool := range list.Tools {
				names = append(names, tool.Name)
				if tool.Description == "" {
					t.Errorf("tool %s has no description", tool.Name)
				}
				schema, ok := tool.InputSchema.(map[string]any)
				if !ok || schema["type"] != "object" {
					t.Errorf("tool %s: input schema %#v, want an object schema", tool.Name, tool.InputSchema)
				}
			}
			slices.Sort(names)
			if want := []string{ToolAdminStats, ToolEcho, ToolTime}; !slices.Equal(names, want) {
				t.Fatalf("tools = %v, want %v", names, want)
			}
			for _, tool := range list.Tools {
				if tool.Name != ToolEcho {
					continue
				}
				schema := tool.InputSchema.(map[string]any)
				props, _ := schema["properties"].(map[string]any)
				if _, ok := props["text"]; !ok {
					t.Errorf("echo schema has no text property: %#v", schema)
				}
				if req, _ := schema["required"].([]any); !slices.Contains(req, any("text")) {
					t.Errorf("echo schema does not require text: %#v", schema)
				}
			}

			res, got := callText(t, cs, ToolEcho, map[string]any{"text": "héllo, gate"})
			if got != "héllo, gate" {
				t.Errorf("echo = %q", got)
			}
			if sc, _ := res.StructuredContent.(map[string]any); sc["text"] != "héllo, gate" {
				t.Errorf("echo structured content = %#v", res.StructuredContent)
			}

			_, got = callText(t, cs, ToolTime, map[string]any{})
			if got != "2026-03-14T15:09:26Z" {
				t.Errorf("time = %q", got)
			}

			// echo without its required argument is rejected by schema validation.
			bad, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: ToolEcho, Arguments: map[string]any{}})
			if err == nil && (bad == nil || !bad.IsError) {
				t.Errorf("echo without text: want an error, got %+v", bad)
			}
		})
	}
}

func TestTimeToolRealClock(t *testing.T) {
	s := New(Options{Stateless: true})
	ts := newTestServer(t, s.Handler())
	cs := connect(t, ts.URL, nil)
	_, got := callText(t, cs, ToolTime, nil)
	tm, err := time.Parse(time.RFC3339, got)
	if err != nil {
		t.Fatalf("time %q is not RFC 3339: %v", got, err)
	}
	if d := time.Since(tm); d < -2*time.Second || d > time.Minute {
		t.Errorf("time %s is %s away from now", got, d)
	}
}

func TestAdminStats(t *testing.T) {
	s := New(Options{Name: "stats-test"})
	ts := newTestServer(t, s.Handler())
	cs := connect(t, ts.URL, nil)
	callText(t, cs, ToolEcho, map[string]any{"text": "a"})
	callText(t, cs, ToolEcho, map[string]any{"text": "b"})
	res, text := callText(t, cs, ToolAdminStats, nil)

	var stats AdminStatsOutput
	if err := json.Unmarshal([]byte(text), &stats); err != nil {
		t.Fatalf("admin_stats text %q: %v", text, err)
	}
	if stats.Server != "stats-test" {
		t.Errorf("server = %q", stats.Server)
	}
	if stats.ToolCalls[ToolEcho] != 2 || stats.ToolCalls[ToolAdminStats] != 1 {
		t.Errorf("tool calls = %v", stats.ToolCalls)
	}
	if stats.HTTPRequests < 4 { // initialize, initialized, 3 calls (and perhaps a GET)
		t.Errorf("http requests = %d, want >= 4", stats.HTTPRequests)
	}
	if _, ok := res.StructuredContent.(map[string]any)["tool_calls"]; !ok {
		t.Errorf("structured content = %#v", res.StructuredContent)
	}
}

func TestRecorderCapturesHeaders(t *testing.T) {
	s := New(Options{})
	ts := newTestServer(t, s.Handler())

	if s.SawHeader("Authorization") || len(s.Seen()) != 0 {
		t.Fatal("fresh server has recorded requests")
	}

	extra := http.Header{
		"Authorization":     {"Bearer not-for-the-server"},
		"X-Mcpgate-Subject": {"forged-user"},
	}
	cs := connect(t, ts.URL+"/mcp", extra)
	callText(t, cs, ToolEcho, map[string]any{"text": "x"})

	seen := s.Seen()
	if len(seen) < 3 {
		t.Fatalf("recorded %d requests, want >= 3", len(seen))
	}
	var posts int
	for _, r := range seen {
		if r.Path != "/mcp" {
			t.Errorf("recorded path %q", r.Path)
		}
		if r.Method == http.MethodPost {
			posts++
		}
		if got := r.Header.Get("Authorization"); got != "Bearer not-for-the-server" {
			t.Errorf("%s %s: Authorization = %q", r.Method, r.Path, got)
		}
		if r.Time.IsZero() || r.Host == "" {
			t.Errorf("incomplete record %+v", r)
		}
	}
	if posts < 3 {
		t.Errorf("recorded %d POSTs, want >= 3", posts)
	}
	if !s.SawHeader("authorization") || !s.SawHeader("x-mcpgate-subject") {
		t.Error("SawHeader misses a header that was sent")
	}
	if s.SawHeader("X-Not-Sent") {
		t.Error("SawHeader reports a header that was never sent")
	}

	// Seen returns copies: changing them does not change the recorder.
	seen[0].Header.Del("Authorization")
	if s.Seen()[0].Header.Get("Authorization") == "" {
		t.Error("Seen shares header maps with the recorder")
	}

	s.ResetSeen()
	if len(s.Seen()) != 0 || s.SawHeader("Authorization") {
		t.Error("ResetSeen left records")
	}
}

func TestRecorderBounded(t *testing.T) {
	s := New(Options{Stateless: true, MaxSeen: 3})
	ts := newTestServer(t, s.Handler())
	for i := range 5 {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/mcp?n="+string(rune('0'+i)), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("stateless GET = %d, want 405", resp.StatusCode)
		}
	}
	seen := s.Seen()
	var queries []string
	for _, r := range seen {
		queries = append(queries, r.Query)
	}
	if want := []string{"n=2", "n=3", "n=4"}; !slices.Equal(queries, want) {
		t.Errorf("kept %v, want %v", queries, want)
	}
}

func TestDemoMux(t *testing.T) {
	d := NewDemo(Options{})
	ts := newTestServer(t, d.Handler)

	main := connect(t, ts.URL+PathMCP, nil)
	teamB := connect(t, ts.URL+PathTeamBMCP, nil)
	if got := main.InitializeResult().ServerInfo.Name; got != "demo-mcp" {
		t.Errorf("/mcp server = %q", got)
	}
	if got := teamB.InitializeResult().ServerInfo.Name; got != "demo-mcp-team-b" {
		t.Errorf("/team-b/mcp server = %q", got)
	}
	if len(d.Main.Seen()) == 0 || len(d.TeamB.Seen()) == 0 {
		t.Error("each server should have recorded its own requests")
	}
	for _, r := range d.TeamB.Seen() {
		if r.Path != PathTeamBMCP {
			t.Errorf("team-b recorded %q", r.Path)
		}
	}

	resp, err := http.Get(ts.URL + PathHealthz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz = %d", resp.StatusCode)
	}
	resp, err = http.Get(ts.URL + "/mcp/extra")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/mcp/extra = %d, want 404", resp.StatusCode)
	}
}

func TestLocalhostProtection(t *testing.T) {
	// httptest listens on 127.0.0.1: a foreign Host header is refused unless
	// AllowAnyHost is set.
	for _, allow := range []bool{false, true} {
		s := New(Options{Stateless: true, AllowAnyHost: allow})
		ts := httptest.NewServer(s.Handler())
		req, _ := http.NewRequest(http.MethodPost, ts.URL,
			strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Host = "gateway.example"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ts.Close()
		if forbidden := resp.StatusCode == http.StatusForbidden; forbidden == allow {
			t.Errorf("AllowAnyHost=%v: status %d", allow, resp.StatusCode)
		}
	}
}
