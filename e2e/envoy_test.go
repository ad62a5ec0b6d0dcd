package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestEnvoyCompose runs mcpgate inside a real Envoy (docker-compose.yml) and
// checks the discovery documents it serves. It skips where no Docker engine
// can run (as on the project's development machines).
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
}
