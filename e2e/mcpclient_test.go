package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// recorder is an http.RoundTripper that remembers every request and the
// status and WWW-Authenticate of every response.
type recorder struct {
	mu   sync.Mutex
	seen []string // "METHOD path -> status [www-authenticate]"
	next http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.next
	if next == nil {
		next = http.DefaultTransport
	}
	res, err := next.RoundTrip(req)
	line := req.Method + " " + req.URL.Path
	if err == nil {
		line += " -> " + res.Status
		if w := res.Header.Get("WWW-Authenticate"); w != "" {
			line += " [" + w + "]"
		}
	}
	r.mu.Lock()
	r.seen = append(r.seen, line)
	r.mu.Unlock()
	return res, err
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *recorder) find(fragment string) string {
	for _, l := range r.lines() {
		if strings.Contains(l, fragment) {
			return l
		}
	}
	return ""
}

var errStopFlow = errors.New("test: authorization flow stopped by the test")

// forEachConfig runs f per target kind for the conformance configuration
// and for make run's development configuration (its fixed address replaced
// by the test gateway's).
func forEachConfig(t *testing.T, f func(t *testing.T, kind, config string)) {
	configs := map[string]string{
		"conformance": readConfig(t, "conformance.json"),
		"make-run":    strings.ReplaceAll(readConfig(t, "dev-config.json"), "http://127.0.0.1:8080", "{{BASE}}"),
	}
	for _, name := range []string{"conformance", "make-run"} {
		t.Run(name, func(t *testing.T) {
			forEachKind(t, func(t *testing.T, kind string) { f(t, kind, configs[name]) })
		})
	}
}

// TestMCPClientDiscovery: the MCP Go SDK client without a token gets the
// 401 and its discovery follows resource_metadata to the path-suffixed PRM
// and the AS metadata, all answered by the filter.
func TestMCPClientDiscovery(t *testing.T) {
	forEachConfig(t, func(t *testing.T, kind, config string) {
		tg := startTarget(t, kind, config, targetOptions{})
		rec := &recorder{}
		httpClient := &http.Client{Transport: rec}
		var authURL string
		handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
			PreregisteredClient: &oauthex.ClientCredentials{ClientID: "test-client"},
			RedirectURL:         "http://127.0.0.1:9/callback",
			Client:              httpClient,
			AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
				authURL = args.URL
				return nil, errStopFlow
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err = client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.base + "/mcp", HTTPClient: httpClient, OAuthHandler: handler}, nil)
		if err == nil {
			t.Fatal("connected without a token")
		}
		if l := rec.find("POST /mcp -> 401"); l == "" || !strings.Contains(l, `resource_metadata="`+tg.base+`/.well-known/oauth-protected-resource/mcp"`) {
			t.Errorf("no 401 challenge with resource_metadata; requests: %q", rec.lines())
		}
		if rec.find("GET /.well-known/oauth-protected-resource/mcp -> 200") == "" {
			t.Errorf("discovery did not fetch the path-suffixed PRM: %q", rec.lines())
		}
		if rec.find("GET /.well-known/oauth-authorization-server -> 200") == "" {
			t.Errorf("discovery did not fetch AS metadata: %q", rec.lines())
		}
		if authURL == "" {
			t.Fatalf("the client never reached the authorization step: %v", err)
		}
		u, _ := url.Parse(authURL)
		q := u.Query()
		if q.Get("resource") != tg.base+"/mcp" || q.Get("scope") != "mcp:tools" || q.Get("code_challenge_method") != "S256" {
			t.Errorf("authorization request %s", authURL)
		}
	})
}

// TestMCPClientToolsWithToken: with a minted token, tools/list and
// tools/call succeed through the filter; a tool that needs an extra scope
// yields the 403 with the accumulated scope, which the SDK turns into a
// step-up authorization request for the union.
func TestMCPClientToolsWithToken(t *testing.T) {
	forEachConfig(t, func(t *testing.T, kind, config string) {
		tg := startTarget(t, kind, config, targetOptions{})
		rec := &recorder{}
		httpClient := &http.Client{Transport: rec}
		var stepUp string
		handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
			PreregisteredClient: &oauthex.ClientCredentials{ClientID: "test-client"},
			RedirectURL:         "http://127.0.0.1:9/callback",
			Client:              httpClient,
			InitialTokenSource:  oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tg.mint(t, tg.base+"/mcp", "mcp:tools"), TokenType: "Bearer"}),
			AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
				stepUp = args.URL
				return nil, errStopFlow
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.base + "/mcp", HTTPClient: httpClient, OAuthHandler: handler}, nil)
		if err != nil {
			t.Fatalf("connect: %v (requests %q)", err, rec.lines())
		}
		defer cs.Close()
		tools, err := cs.ListTools(ctx, nil)
		if err != nil || len(tools.Tools) != 3 {
			t.Fatalf("tools/list: %v %+v", err, tools)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}})
		if err != nil || res.IsError || len(res.Content) == 0 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "hello") {
			t.Fatalf("tools/call echo: %v %+v", err, res)
		}
		_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_stats", Arguments: map[string]any{}})
		if err == nil {
			t.Fatal("admin_stats succeeded without mcp:admin")
		}
		want := `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin"`
		if l := rec.find("-> 403"); !strings.Contains(l, want) {
			t.Errorf("no 403 with accumulated scope; requests %q", rec.lines())
		}
		u, _ := url.Parse(stepUp)
		if stepUp == "" || !strings.Contains(" "+u.Query().Get("scope")+" ", " mcp:admin ") || !strings.Contains(" "+u.Query().Get("scope")+" ", " mcp:tools ") {
			t.Errorf("step-up authorization request %q does not ask for the union", stepUp)
		}
	})
}
