package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// refreshAlways is the conformance config with refresh tokens for every
// client and a grace window of grace.
func refreshAlways(t testing.TB, grace string) string {
	return strings.Replace(readConfig(t, "conformance.json"), `"cookies": {"secure": false}`,
		`"cookies": {"secure": false}, "refresh_tokens": {"policy": "always", "grace": "`+grace+`"}`, 1)
}

// TestReplicasMCPSDKFlow: the MCP Go SDK's OAuth client registers,
// authorizes and consents on instance A and redeems the code on B; the
// tools then work through either. A golang.org/x/oauth2 client's refresh
// token then rotates on B, and its successor on A.
func TestReplicasMCPSDKFlow(t *testing.T) {
	etcd := oneEtcd(t)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, refreshAlways(t, "2s"), "")
	rp.onPath("/oauth/token", 1)
	rec := &recorder{}
	httpClient := &http.Client{Transport: rec}
	b := newFormBrowser(t)
	redirect := "http://127.0.0.1:45678/callback"
	handler := dcrHandler(t, "replica client", redirect, httpClient, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: rp.base + "/mcp", HTTPClient: httpClient, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nrequests: %q", err, rec.lines())
	}
	defer cs.Close()
	if rec.find("POST /oauth/token -> 200") == "" || b.pages != 1 {
		t.Fatalf("flow: consent pages %d, requests %q", b.pages, rec.lines())
	}
	for i := 0; i < 2; i++ {
		rp.route(func(*http.Request) int { return i })
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "replica"}})
		if err != nil || res.IsError {
			t.Fatalf("echo through instance %c: %v %+v", 'A'+i, err, res)
		}
	}

	// Refresh on B, then the successor on A.
	rp.onPath("/oauth/token", 1)
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange on B: %v %+v", err, tok)
	}
	rt := tok.RefreshToken
	for _, inst := range []int{1, 0} {
		rp.onPath("/oauth/token", inst)
		st, m := tokenPost(t, rp.base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}})
		next, _ := m["refresh_token"].(string)
		if st != 200 || next == "" || next == rt {
			t.Fatalf("refresh on %c: %d %v", 'A'+inst, st, m)
		}
		rt = next
		at := m["access_token"].(string)
		rp.route(func(*http.Request) int { return 1 - inst })
		if st, _, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(at)); st != 200 {
			t.Fatalf("refreshed token on the other instance: %d %s", st, body)
		}
	}
}

// TestReplicasNative: the same etcd backend code behind net/http
// (authhttp), two engines sharing etcd: authorize on A, redeem on B,
// refresh on A, the token works on both, and a revocation on B stops it on
// A within the bound.
func TestReplicasNative(t *testing.T) {
	etcd := oneEtcd(t)
	rp := startReplicasOf(t, native, [2]string{etcd.URL(0), etcd.URL(0)}, refreshAlways(t, "2s"), "", nil)
	rp.onPath("/oauth/token", 1)
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange on B: %v", err)
	}
	rp.onPath("/oauth/token", 0)
	st, m := tokenPost(t, rp.base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"test-client"}})
	if st != 200 {
		t.Fatalf("refresh on A: %d %v", st, m)
	}
	at := m["access_token"].(string)
	for i := 0; i < 2; i++ {
		rp.route(func(*http.Request) int { return i })
		if st, _, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(at)); st != 200 {
			t.Fatalf("token on %c: %d %s", 'A'+i, st, body)
		}
	}
	rp.route(func(*http.Request) int { return 1 })
	if st, m := tokenPost(t, rp.base+"/oauth/revoke", url.Values{"token": {at}, "client_id": {"test-client"}}); st != 200 {
		t.Fatalf("revoke on B: %d %v", st, m)
	}
	wantRefusedOn(t, rp, 0, at, "the access token on A after revocation on B")
}
