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

// TestReplicasEtcdOutage: etcd stops in the middle of a flow. The token
// endpoint answers 503 temporarily_unavailable and does not consume the
// code, /authorize redirects temporarily_unavailable with iss, /revoke is
// 503, the guard answers 503 for a token whose grant it cannot recheck
// (revocation_outage "deny", the default); the outage is counted and
// logged once per VM, not per request. When etcd is back, the same code
// redeems and the flow completes.
func TestReplicasEtcdOutage(t *testing.T) {
	etcd := newEtcd(t, 1)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, readConfig(t, "conformance.json"), "")
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	// A token from another, finished flow, not yet seen by the guard.
	code2, verifier2, _ := pkceCode(t, rp.target(), "mcp:tools")
	tok2, err := cfg.Exchange(context.Background(), code2, oauth2.VerifierOption(verifier2), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}

	etcd.Stop(0)
	rp.onPath("/oauth/token", 1)
	for i := 0; i < 3; i++ {
		st, m := tokenPost(t, rp.base+"/oauth/token", redeemForm(rp, code, verifier, cfg.RedirectURL))
		if st != 503 || m["error"] != "temporarily_unavailable" {
			t.Fatalf("redemption during the outage: %d %v", st, m)
		}
	}
	rp.route(func(*http.Request) int { return 0 })
	authURL := cfg.AuthCodeURL("st-9", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	loc, err := newFormBrowser(t).authorize(context.Background(), authURL)
	if err != nil {
		t.Fatal(err)
	}
	if q := loc.Query(); q.Get("error") != "temporarily_unavailable" || q.Get("iss") != rp.base || q.Get("state") != "st-9" || q.Get("code") != "" {
		t.Errorf("authorize during the outage redirected to %s", loc)
	}
	if st, m := tokenPost(t, rp.base+"/oauth/revoke", url.Values{"token": {tok2.AccessToken}, "client_id": {"test-client"}}); st != 503 || m["error"] != "temporarily_unavailable" {
		t.Errorf("revoke during the outage: %d %v", st, m)
	}
	st, h, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok2.AccessToken))
	if st != 503 || !strings.Contains(string(body), "temporarily_unavailable") || h.Get("Retry-After") == "" {
		t.Errorf("guard during the outage: %d %s", st, body)
	}
	for i, host := range rp.hosts {
		if n, _ := host.Metric("mcpgate.store.outage"); n < 1 || n > uint64(host.NumVMs()) {
			t.Errorf("instance %c counted %d outages, want one per VM that saw it", 'A'+i, n)
		}
	}

	if err := etcd.Restart(0); err != nil {
		t.Fatal(err)
	}
	rp.onPath("/oauth/token", 1)
	var st2 int
	var m map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st2, m = tokenPost(t, rp.base+"/oauth/token", redeemForm(rp, code, verifier, cfg.RedirectURL)); st2 != 503 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st2 != 200 {
		t.Fatalf("redemption after etcd is back: %d %v", st2, m)
	}
	rp.route(func(*http.Request) int { return 0 })
	if st, _, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(m["access_token"].(string))); st != 200 {
		t.Fatalf("token after recovery: %d %s", st, body)
	}
	if n, _ := rp.hosts[1].Metric("mcpgate.store.recovered"); n < 1 {
		t.Error("recovery not counted")
	}
}

// TestReplicasRevocationOutageAllow: with revocation_outage "allow", the
// guard lets a valid token through while etcd is down.
func TestReplicasRevocationOutageAllow(t *testing.T) {
	etcd := newEtcd(t, 1)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, readConfig(t, "conformance.json"), `"revocation_outage": "allow", `)
	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}
	etcd.Stop(0)
	rp.route(func(*http.Request) int { return 1 })
	if st, _, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken)); st != 200 {
		t.Fatalf("guard with revocation_outage allow during the outage: %d %s", st, body)
	}
	if n, _ := rp.hosts[1].Metric("mcpgate.guard.revocation_unchecked"); n < 1 {
		t.Error("unchecked revocation not counted")
	}
}

// TestReplicasLeaderLoss: a three-member etcd cluster loses its leader
// while eight clients refresh their tokens in a loop over both instances
// (each instance talks to a different follower). Clients retry a 503 with
// the same refresh token, as OAuth clients do; a rotation etcd applied but
// whose answer was lost is then answered from the grace window. No family
// is rotated twice (no predecessor ever gets two successors) and no grant
// is lost (every family still refreshes at the end).
func TestReplicasLeaderLoss(t *testing.T) {
	etcd := newEtcd(t, 3)
	leader := etcd.Leader()
	var followers []string
	for i := 0; i < 3; i++ {
		if i != leader {
			followers = append(followers, etcd.URL(i))
		}
	}
	rp := startReplicas(t, [2]string{followers[0], followers[1]}, refreshAlways(t, "20s"), "")
	const clients, rounds = 8, 12
	refreshTokens := make([]string, clients)
	for i := range refreshTokens {
		code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v", err)
		}
		refreshTokens[i] = tok.RefreshToken
	}
	rp.alternate()
	var mu sync.Mutex
	successor := map[string]string{} // predecessor -> successor
	refresh := func(rt string) (string, bool) {
		deadline := time.Now().Add(45 * time.Second)
		for time.Now().Before(deadline) {
			st, m := tokenPost(t, rp.base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}})
			switch {
			case st == 200:
				next, _ := m["refresh_token"].(string)
				mu.Lock()
				defer mu.Unlock()
				if prev, seen := successor[rt]; seen && prev != next {
					t.Errorf("refresh token rotated twice: two successors")
				}
				successor[rt] = next
				return next, true
			case st == 503:
				time.Sleep(100 * time.Millisecond)
			default:
				t.Errorf("refresh: %d %v", st, m)
				return "", false
			}
		}
		t.Error("refresh still unavailable after 45s")
		return "", false
	}
	var wg sync.WaitGroup
	half := make(chan struct{})
	var once sync.Once
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if r == rounds/3 {
					once.Do(func() { close(half) })
				}
				next, ok := refresh(refreshTokens[c])
				if !ok {
					return
				}
				refreshTokens[c] = next
			}
		}()
	}
	<-half
	etcd.Stop(leader)
	t.Logf("stopped leader m%d mid-storm", leader)
	wg.Wait()
	if err := etcd.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < clients; c++ {
		if _, ok := refresh(refreshTokens[c]); !ok {
			t.Errorf("client %d lost its grant", c)
		}
	}
	var outages uint64
	for _, h := range rp.hosts {
		n, _ := h.Metric("mcpgate.store.outage")
		outages += n
	}
	t.Logf("outages seen by the VMs during the election: %d", outages)
}
