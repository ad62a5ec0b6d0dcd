package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestAdminAcrossEtcd: two gateway instances (the compiled filter, two VMs
// each) share only etcd. An operator's revocation of a user and block of a
// client, sent to instance A, stop the tokens at instance B within the
// documented bound (store.revocation_recheck, 1 s), and B refuses the
// blocked client's authorization requests.
func TestAdminAcrossEtcd(t *testing.T) {
	etcd := oneEtcd(t)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, policyConfig(t, `["mcp-admins"]`), "")
	tg := rp.target()
	toA := func(*http.Request) int { return 0 }
	toB := func(*http.Request) int { return 1 }

	rp.route(toA)
	code, verifier, cfg := pkceCode(t, tg, "mcp:tools")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}
	rp.route(toB)
	if st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken)); st != 200 {
		t.Fatalf("instance B before any revocation: %d %s", st, body)
	}

	rp.route(toA)
	if st := adminCall(t, tg, `{"action":"revoke_user","sub":"alice"}`); st != 200 {
		t.Fatalf("revoke_user at A: %d", st)
	}
	rp.route(toB)
	wantRefusedSoon(t, tg, tok.AccessToken, "a revoked user's token at instance B")

	// A grant made later (next second) works on B until A blocks the client.
	time.Sleep(time.Second)
	rp.route(toA)
	code, verifier, cfg = pkceCode(t, tg, "mcp:tools")
	tok2, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}
	rp.route(toB)
	if st, _, _ := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok2.AccessToken)); st != 200 {
		t.Fatalf("new grant at B: %d", st)
	}
	rp.route(toA)
	if st := adminCall(t, tg, `{"action":"block_client","client_id":"test-client"}`); st != 200 {
		t.Fatalf("block_client at A: %d", st)
	}
	rp.route(toB)
	wantRefusedSoon(t, tg, tok2.AccessToken, "a blocked client's token at instance B")
	time.Sleep(1100 * time.Millisecond)
	for i := 0; i < 2; i++ { // both VMs of B
		if st, _, _ := do(t, "GET", cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil, nil); st != 400 {
			t.Errorf("blocked client at B's /authorize: %d, want the 400 error page", st)
		}
	}
}
