package authcore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
)

// TestNearMissPathsRefused: paths that differ from a guarded resource only
// by case, a ";" parameter, an encoded ";", NUL, space, "#" or a trailing
// dot are refused with 400, never forwarded; other paths are untouched.
func TestNearMissPathsRefused(t *testing.T) {
	e := newTestEngine(t, "guard")
	for _, p := range []string{
		"/MCP", "/Mcp", "/mcp;x", "/mcp%3bx", "/mcp%3Bx", "/mcp%00", "/mcp%20", "/mcp.", "/mcp%2e", "/mcp%23x",
		"/MCP/messages", "/mcp;jsessionid=1/messages", "/Other/MCP", "/other/mcp;a", "/mcp.?x=1",
	} {
		o := e.Handle(&Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: p})
		if r, ok := o.(Reply); !ok || r.Status != 400 {
			t.Errorf("%s: %#v, want 400", p, o)
		}
	}
	for _, p := range []string{"/mcpx", "/mcp.html", "/m", "/", "/MCPX", "/other", "/x/mcp", "/mc;p"} {
		if e.Classify(&Request{Path: p}) != RoutePass {
			t.Errorf("%s is not passed through", p)
		}
	}
	for _, p := range []string{"/mcp", "/mcp/messages", "/%6Dcp"} {
		if o := e.Handle(&Request{Method: "POST", Path: p}); o.(Reply).Status != 401 {
			t.Errorf("%s not guarded: %#v", p, o)
		}
	}
}

// TestCaseInsensitivePathSetting: with case_insensitive_path, case
// variants are guarded (challenged) instead of refused; parameters still
// are refused.
func TestCaseInsensitivePathSetting(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "config", "guard.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(bytes.Replace(data, []byte(`"max_body_bytes": 2048`), []byte(`"max_body_bytes": 2048, "case_insensitive_path": true`), 1))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]int{"/MCP": 401, "/Mcp/messages": 401, "/mcp;x": 400, "/MCP;x": 400} {
		if o := e.Handle(&Request{Method: "POST", Path: p}); o.(Reply).Status != want {
			t.Errorf("%s: %#v, want %d", p, o, want)
		}
	}
}

func TestRedirectPortRange(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:1/cb": true, "http://127.0.0.1:65535/cb": true, "http://127.0.0.1:99999/cb": false,
		"http://127.0.0.1:0/cb": false, "http://[::1]:65536/cb": false, "https://a.example:70000/cb": false,
		"http://localhost/cb": true,
	} {
		if k, msg := clientmeta.CheckRedirectURI(raw, AppTypeNative); (k != clientmeta.Invalid) != ok {
			t.Errorf("CheckRedirectURI(%s) = %d %q", raw, k, msg)
		}
	}
	for given, ok := range map[string]bool{
		"http://127.0.0.1:8080/cb": true, "http://127.0.0.1:99999/cb": false, "http://127.0.0.1:0/cb": false, "http://127.0.0.1:00080/cb": false,
	} {
		if got := clientmeta.MatchRedirectURI([]string{"http://127.0.0.1/cb"}, given) != ""; got != ok {
			t.Errorf("MatchRedirectURI(%s) = %v", given, got)
		}
	}
}
