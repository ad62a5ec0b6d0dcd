package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestEnvoyCompose runs mcpgate inside a real Envoy (docker-compose.yml):
// the discovery documents it serves, the MCP Go SDK's whole OAuth flow
// through Envoy to the demo server, and the start log that names the
// build's version. It skips where no Docker engine can run (as on the
// project's development machines); `docker compose logs` are printed when
// it fails.
func TestEnvoyCompose(t *testing.T) {
	envoyRequireDocker(t)
	root := envoyRepoRoot(t)
	envoyComposeUp(t, root)

	const (
		wantIssuer   = "http://localhost:8080"
		wantResource = "http://localhost:8080/mcp"
	)

	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	envoyWaitJSON(t, "/.well-known/oauth-protected-resource/mcp", 60*time.Second, &prm)
	if prm.Resource != wantResource {
		t.Errorf("PRM resource = %q, want %q", prm.Resource, wantResource)
	}
	if !slices.Equal(prm.AuthorizationServers, []string{wantIssuer}) {
		t.Errorf("PRM authorization_servers = %q, want [%q]", prm.AuthorizationServers, wantIssuer)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := envoyGet(ctx, "/.well-known/oauth-authorization-server")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET AS metadata: status %d, err %v: %.300s", status, err, body)
	}
	var as struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &as); err != nil {
		t.Fatalf("AS metadata is not JSON: %v: %.300s", err, body)
	}
	if as.Issuer != wantIssuer {
		t.Errorf("AS metadata issuer = %q, want %q", as.Issuer, wantIssuer)
	}

	t.Run("MCPSDKOAuthFlow", func(t *testing.T) { envoyMCPFlow(t) })
	t.Run("StartLog", func(t *testing.T) { envoyStartLog(t, root) })
}

// envoyMCPFlow: the MCP Go SDK client registers, is authorized (consent
// form submitted as a browser would), gets a token and calls tools through
// Envoy; a tool needing another scope steps up.
func envoyMCPFlow(t *testing.T) {
	rec := &recorder{}
	httpClient := &http.Client{Transport: rec}
	b := newFormBrowser(t)
	redirect := "http://127.0.0.1:45678/callback"
	handler := dcrHandler(t, "e2e MCP client via Envoy", redirect, httpClient, b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// "localhost:8080" is the issuer's host: the filter builds its URLs
	// from the configuration, and the demo server checks Host.
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e-envoy", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + envoyHost + "/mcp", HTTPClient: httpClient, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect through Envoy: %v\nrequests: %q", err, rec.lines())
	}
	defer cs.Close()
	for _, step := range []string{"POST /mcp -> 401", "GET /.well-known/oauth-protected-resource/mcp -> 200",
		"GET /.well-known/oauth-authorization-server -> 200", "POST /oauth/register -> 201", "POST /oauth/token -> 200"} {
		if rec.find(step) == "" {
			t.Errorf("flow lacks %q: %q", step, rec.lines())
		}
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "through Envoy"}})
	if err != nil || res.IsError {
		t.Fatalf("echo through Envoy: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_stats", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("admin_stats after step-up through Envoy: %v %+v\nrequests %q", err, res, rec.lines())
	}
	if b.pages != 2 {
		t.Errorf("consent pages shown: %d, want 2", b.pages)
	}
}

// envoyStartLog: each wasm VM in Envoy logged the build's version and the
// configuration's digest at start.
func envoyStartLog(t *testing.T, root string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := envoyCompose(ctx, root, "logs", "--no-color", "envoy")
	if err != nil {
		t.Fatalf("docker compose logs envoy: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`mcpgate: version \S+, configuration sha256 [0-9a-f]{64}`).Match(out) {
		t.Errorf("Envoy's log has no mcpgate version line:\n%s", out)
	}
}
