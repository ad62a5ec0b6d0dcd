package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// wantRefusedOn fails unless instance i refuses tok (401) within the
// revocation bound (1 s by default) plus slack for a loaded machine.
func wantRefusedOn(t *testing.T, rp *replicas, i int, tok, what string) {
	t.Helper()
	rp.route(func(*http.Request) int { return i })
	wantRefusedSoon(t, rp.target(), tok, what)
}

// redeemForm is the token request that redeems code for test-client.
func redeemForm(rp *replicas, code, verifier, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {redirect}, "client_id": {"test-client"}, "resource": {rp.base + "/mcp"}}
}

// TestReplicasCodeRedemptionRace: 50 concurrent redemptions of one code,
// alternating between the instances. etcd orders them: exactly one gets
// tokens, every other one is invalid_grant (a replay, which revokes the
// grant), and the winner's access token is refused on both instances.
func TestReplicasCodeRedemptionRace(t *testing.T) {
	etcd := oneEtcd(t)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, readConfig(t, "conformance.json"), "")
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	rp.alternate()
	form := redeemForm(rp, code, verifier, cfg.RedirectURL)
	var mu sync.Mutex
	answers := map[string]int{}
	var winner string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, m := tokenPost(t, rp.base+"/oauth/token", form)
			mu.Lock()
			defer mu.Unlock()
			if st == 200 {
				answers["ok"]++
				winner, _ = m["access_token"].(string)
				return
			}
			e, _ := m["error"].(string)
			answers[e]++
		}()
	}
	close(start)
	wg.Wait()
	if answers["ok"] != 1 || answers["invalid_grant"] != 49 {
		t.Fatalf("answers %v; want exactly 1 success and 49 invalid_grant", answers)
	}
	wantRefusedOn(t, rp, 0, winner, "the winner's token on A after the replays revoked its grant")
	wantRefusedOn(t, rp, 1, winner, "the winner's token on B after the replays revoked its grant")
}

// TestReplicasRefreshAcrossInstances: duplicate refreshes of one token
// inside the grace window, over both instances at once, all get the same
// successor; reusing the rotated token after the window, on the other
// instance, revokes the family everywhere: the successor and its access
// token stop working on both.
func TestReplicasRefreshAcrossInstances(t *testing.T) {
	etcd := oneEtcd(t)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, refreshAlways(t, "3s"), "")
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	refresh := func(rt string) (int, map[string]any) {
		return tokenPost(t, rp.base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}})
	}
	rp.alternate()
	var mu sync.Mutex
	successors := map[string]string{}
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
			successors[m["refresh_token"].(string)] = m["access_token"].(string)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(successors) != 1 {
		t.Fatalf("successors: %d distinct, want 1", len(successors))
	}
	var successor, at string
	for s, a := range successors {
		successor, at = s, a
	}
	time.Sleep(3500 * time.Millisecond) // leave the grace window
	rp.onPath("/oauth/token", 1)
	if st, m := refresh(tok.RefreshToken); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse after the grace window on B: %d %v", st, m)
	}
	rp.onPath("/oauth/token", 0)
	if st, m := refresh(successor); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("successor still valid on A after reuse on B revoked the family: %d %v", st, m)
	}
	wantRefusedOn(t, rp, 0, at, "the successor's access token on A")
}

// TestReplicasRevocation: a revocation request on A stops the access token
// on B within the bound, having been accepted there just before.
func TestReplicasRevocation(t *testing.T) {
	etcd := oneEtcd(t)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, refreshAlways(t, "2s"), "")
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rp.route(func(*http.Request) int { return 1 })
	for i := 0; i < 4; i++ { // both VMs of B cache the token
		if st, _, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken)); st != 200 {
			t.Fatalf("token on B: %d %s", st, body)
		}
	}
	rp.route(func(*http.Request) int { return 0 })
	if st, m := tokenPost(t, rp.base+"/oauth/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {"test-client"}}); st != 200 {
		t.Fatalf("revoke on A: %d %v", st, m)
	}
	wantRefusedOn(t, rp, 1, tok.AccessToken, "the access token on B after revocation on A")
}
