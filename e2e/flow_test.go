package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// TestMCPSDKOAuthFlow: the MCP Go SDK's OAuth client goes from the 401
// through discovery, dynamic registration, authorization (consent form
// submitted as a browser would) and the token endpoint to tools/list and
// tools/call against the demo MCP server; then a tool that needs another
// scope triggers step-up for the union of scopes, which succeeds.
func TestMCPSDKOAuthFlow(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		rec := &recorder{}
		httpClient := &http.Client{Transport: rec}
		b := newFormBrowser(t)
		redirect := "http://127.0.0.1:45678/callback"
		handler := dcrHandler(t, "e2e MCP client", redirect, httpClient, b)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.base + "/mcp", HTTPClient: httpClient, OAuthHandler: handler}, nil)
		if err != nil {
			t.Fatalf("connect: %v\nrequests: %q", err, rec.lines())
		}
		defer cs.Close()
		for _, step := range []string{"POST /mcp -> 401", "GET /.well-known/oauth-protected-resource/mcp -> 200",
			"GET /.well-known/oauth-authorization-server -> 200", "POST /oauth/register -> 201", "POST /oauth/token -> 200"} {
			if rec.find(step) == "" {
				t.Errorf("flow lacks %q: %q", step, rec.lines())
			}
		}
		tools, err := cs.ListTools(ctx, nil)
		if err != nil || len(tools.Tools) != 3 {
			t.Fatalf("tools/list: %v", err)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "through mcpgate"}})
		if err != nil || res.IsError {
			t.Fatalf("echo: %v %+v", err, res)
		}
		if b.pages != 1 {
			t.Errorf("consent pages shown: %d, want 1", b.pages)
		}
		// Step-up: admin_stats needs mcp:admin; the 403 names the union,
		// the SDK re-authorizes for it, and the call then succeeds.
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_stats", Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("admin_stats after step-up: %v %+v\nrequests %q", err, res, rec.lines())
		}
		if rec.find(`-> 403 Forbidden [Bearer error="insufficient_scope", scope="mcp:tools mcp:admin"`) == "" {
			t.Errorf("no 403 with the accumulated scope: %q", rec.lines())
		}
		if b.pages != 2 {
			t.Errorf("consent pages shown: %d, want 2 (new scopes need new consent)", b.pages)
		}
		for _, r := range tg.demo.Main.Seen() {
			if r.Header.Get("Authorization") != "" {
				t.Fatalf("MCP server received the client's token")
			}
		}
	})
}

// pkceCode runs the authorization step for the pre-registered client with
// golang.org/x/oauth2 and PKCE and returns code, verifier and config.
func pkceCode(t testing.TB, tg *target, scopes ...string) (string, string, *oauth2.Config) {
	t.Helper()
	cfg := &oauth2.Config{
		ClientID:    "test-client",
		Endpoint:    oauth2.Endpoint{AuthURL: tg.base + "/oauth/authorize", TokenURL: tg.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1:50123/callback",
		Scopes:      scopes,
	}
	verifier := oauth2.GenerateVerifier()
	u := cfg.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
	loc, err := newFormBrowser(t).authorize(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("state") != "st-123" || q.Get("iss") != tg.base || q.Get("code") == "" {
		t.Fatalf("redirect %s", loc)
	}
	return q.Get("code"), verifier, cfg
}

// TestOAuth2PKCE: golang.org/x/oauth2 with PKCE against the filter, then
// the access token works at the resource and is refused at another one.
func TestOAuth2PKCE(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		code, verifier, cfg := pkceCode(t, tg, "mcp:tools")
		ctx := context.Background()
		if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier+"x"), oauth2.SetAuthURLParam("resource", tg.base+"/mcp")); err == nil {
			t.Fatal("wrong verifier accepted")
		}
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken))
		if st != 200 {
			t.Fatalf("MCP with issued token: %d %s", st, body)
		}
		if st, _, _ := do(t, "POST", tg.base+"/team-b/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken)); st != 401 {
			t.Errorf("token for /mcp accepted at /team-b/mcp: %d", st)
		}
		// A second redemption of the code fails and revokes what it issued.
		if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp")); err == nil ||
			!strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("replay: %v", err)
		}
		// The VM that revoked the grant refuses the token at once; another
		// VM that checked the grant less than a second ago (authcore
		// grantRecheck) refuses it within that second.
		wantRefusedSoon(t, tg, tok.AccessToken, "access token of a replayed code")
	})
}

// wantRefusedSoon fails unless the MCP endpoint refuses tok (401) within
// 3 seconds: a grant revoked on one VM stops its tokens on the others within
// authcore's grantRecheck (1 s).
func wantRefusedSoon(t *testing.T, tg *target, tok, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, _, _ := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok))
		if st == 401 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s still accepted after 3s: %d", what, st)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCodeRedemptionRace: 50 concurrent redemptions of one code spread
// over two VMs of the compiled filter. The code is consumed by
// compare-and-swap, so at most one redemption gets tokens; every other one
// is a replay, answered invalid_grant, and revokes the grant. A replay can
// land between the winner's consumption and its grant's activation, and
// then nobody gets tokens (authcore token_code.go, step 7): both endings
// are safe, two winners never are. A token that was issued dies with the
// grant.
func TestCodeRedemptionRace(t *testing.T) {
	tg := startTarget(t, wasm, readConfig(t, "conformance.json"), targetOptions{vms: 2})
	code, verifier, cfg := pkceCode(t, tg, "mcp:tools")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {cfg.RedirectURL}, "client_id": {"test-client"}, "resource": {tg.base + "/mcp"}}.Encode()
	var ok, invalid atomic.Int32
	var issued atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := http.Post(tg.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				t.Error(err)
				return
			}
			var body struct {
				Error       string
				AccessToken string `json:"access_token"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			switch {
			case res.StatusCode == 200:
				ok.Add(1)
				issued.Store(body.AccessToken)
			case body.Error == "invalid_grant":
				invalid.Add(1)
			default:
				t.Errorf("unexpected answer %d %q", res.StatusCode, body.Error)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() > 1 || ok.Load()+invalid.Load() != 50 {
		t.Fatalf("successes %d, invalid_grant %d; want at most 1 success and the rest invalid_grant", ok.Load(), invalid.Load())
	}
	t.Logf("successes %d, invalid_grant %d", ok.Load(), invalid.Load())
	if tok, _ := issued.Load().(string); tok != "" {
		wantRefusedSoon(t, tg, tok, "the winner's token, after the replays revoked its grant,")
	}
}

// TestRefreshGraceRace: concurrent duplicate refreshes of one token inside
// the grace window, over two VMs, get one successor; reusing the rotated
// token after the window revokes the family.
func TestRefreshGraceRace(t *testing.T) {
	cfgText := strings.Replace(readConfig(t, "conformance.json"), `"cookies": {"secure": false}`,
		`"cookies": {"secure": false}, "refresh_tokens": {"policy": "always", "grace": "2s"}`, 1)
	tg := startTarget(t, wasm, cfgText, targetOptions{vms: 2})
	code, verifier, cfg := pkceCode(t, tg, "mcp:tools")
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v, refresh token %q", err, tok.RefreshToken)
	}
	refresh := func(rt string) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}}.Encode()
		res, err := http.Post(tg.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	var mu sync.Mutex
	successors := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, m := refresh(tok.RefreshToken)
			if st != 200 {
				t.Errorf("duplicate refresh inside the grace window: %d %v", st, m)
				return
			}
			mu.Lock()
			successors[m["refresh_token"].(string)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(successors) != 1 {
		t.Fatalf("successors: %d distinct, want 1", len(successors))
	}
	var successor string
	for s := range successors {
		successor = s
	}
	time.Sleep(2500 * time.Millisecond) // leave the grace window
	if st, m := refresh(tok.RefreshToken); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse after the grace window: %d %v", st, m)
	}
	if st, m := refresh(successor); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("successor still valid after reuse revoked the family: %d %v", st, m)
	}
}
