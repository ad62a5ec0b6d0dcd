package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestReplicasNothingLeftBehind: requests without credentials (discovery,
// a guarded request without a token or with a bad one) write nothing to
// etcd; a finished flow's records (code, grant) are gone from etcd itself
// once their TTLs and lease buckets pass, leaving only the consent ticket's
// use marker, which lives as long as the ticket.
func TestReplicasNothingLeftBehind(t *testing.T) {
	t.Parallel() // mostly waits for etcd's leases
	etcd := oneEtcd(t)
	cfgText := strings.Replace(readConfig(t, "conformance.json"), `"cookies": {"secure": false}`,
		`"cookies": {"secure": false}, "consent": {"remember": "0s"}`, 1)
	cfgText = strings.Replace(cfgText, `"keys": [`, `"lifetimes": {"authorization_code": "10s"},
  "keys": [`, 1)
	rp := startReplicas(t, [2]string{etcd.URL(0), etcd.URL(0)}, cfgText, "")
	rp.alternate()
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server", "/oauth/jwks"} {
		if st, _, _ := do(t, "GET", rp.base+p, nil, nil); st != 200 {
			t.Fatalf("GET %s: %d", p, st)
		}
	}
	for _, tok := range []string{"", "not-a-token", "a.b.c"} {
		if st, _, _ := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok)); st != 401 {
			t.Fatalf("token %q: %d", tok, st)
		}
	}
	if keys, err := etcd.Keys(context.Background(), 0, rp.prefix); err != nil || len(keys) != 0 {
		t.Fatalf("unauthenticated requests wrote %q (%v)", keys, err)
	}

	code, verifier, cfg := pkceCode(t, rp.target(), "mcp:tools")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", rp.base+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}
	rp.route(func(*http.Request) int { return 1 })
	if st, _, body := do(t, "POST", rp.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken)); st != 200 {
		t.Fatalf("token: %d %s", st, body)
	}
	keys, err := etcd.Keys(context.Background(), 0, rp.prefix)
	if err != nil || len(keys) == 0 {
		t.Fatalf("no records while the flow's code is live: %q %v", keys, err)
	}
	t.Logf("records right after the flow: %q", keys)
	// The code lives 10 s, its lease bucket 5 s more; etcd's lessor
	// revokes expired leases within a second or so. The consent ticket
	// travels sealed with the browser; the one record it leaves, the
	// marker of its use, must outlive the ticket (10 minutes from the
	// page) so that the page cannot be answered twice: it is the only
	// record left after a minute.
	deadline := time.Now().Add(60 * time.Second)
	for {
		keys, err := etcd.Keys(context.Background(), 0, rp.prefix)
		left := 0
		for _, k := range keys {
			if !strings.Contains(k, "/consent-ticket/") {
				left++
			}
		}
		if err == nil && left == 0 && len(keys) <= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd still holds %q (err %v) after a minute", keys, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
