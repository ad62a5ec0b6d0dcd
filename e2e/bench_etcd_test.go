package e2e

import (
	"context"
	"net/url"
	"runtime"
	"testing"

	"github.com/mcpgate/mcpgate/e2e/etcdtest"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
	"golang.org/x/oauth2"
)

// Store benchmarks, in one run: the compiled filter (one VM) with its
// records in shared data, and the same filter with them in a real etcd
// member on loopback (reached by callouts through the harness). etcd runs
// in a child process, as it would in production: in process, its heap
// would lengthen every garbage collection of the benchmark and its
// allocations would count in B/op.

// childEtcd starts a one-member etcd in a child process for b.
func childEtcd(b *testing.B) string {
	p, err := etcdtest.StartProcess(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p.URL
}

// storeBenchTargets starts the two gateways for cfgTemplate.
func storeBenchTargets(b *testing.B, cfgTemplate string) []struct {
	name string
	tg   *target
} {
	etcdURL := childEtcd(b)
	shared := startTarget(b, wasm, cfgTemplate, targetOptions{vms: 1})
	withEtcd := startTarget(b, wasm, etcdConfig(cfgTemplate, "mcpgate-bench/"+b.Name()+"/", ""),
		targetOptions{vms: 1, clusters: map[string]string{"etcd": etcdURL}})
	return []struct {
		name string
		tg   *target
	}{{"shareddata", shared}, {"etcd", withEtcd}}
}

// BenchmarkStoreFlow: per iteration, one authorization (consent
// remembered: straight to the code), the code's redemption and one
// refresh, over HTTP on loopback.
func BenchmarkStoreFlow(b *testing.B) {
	for _, s := range storeBenchTargets(b, refreshAlways(b, "10s")) {
		b.Run(s.name, func(b *testing.B) {
			tg := s.tg
			br := newFormBrowser(b)
			cfg := &oauth2.Config{ClientID: "test-client", RedirectURL: "http://127.0.0.1:50123/callback", Scopes: []string{"mcp:tools"},
				Endpoint: oauth2.Endpoint{AuthURL: tg.base + "/oauth/authorize", TokenURL: tg.base + "/oauth/token"}}
			verifier := oauth2.GenerateVerifier()
			authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
			if _, err := br.authorize(context.Background(), authURL); err != nil { // consent, remembered
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loc, err := br.authorize(context.Background(), authURL)
				if err != nil || loc.Query().Get("code") == "" {
					b.Fatalf("authorize: %v %v", loc, err)
				}
				st, m := tokenPost(b, tg.base+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
					"code_verifier": {verifier}, "redirect_uri": {cfg.RedirectURL}, "client_id": {"test-client"}})
				rt, _ := m["refresh_token"].(string)
				if st != 200 || rt == "" {
					b.Fatalf("redeem: %d %v", st, m)
				}
				if st, m := tokenPost(b, tg.base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}}); st != 200 {
					b.Fatalf("refresh: %d %v", st, m)
				}
			}
		})
	}
}

// BenchmarkStoreGuardCachedGrantToken: an authorized MCP request whose
// token (naming its grant, as mcpgate's own tokens do) was verified
// before, measured like BenchmarkGuardCachedGrantToken (one VM, no
// upstream). The grant's revocation marker is read once a second per VM:
// from shared data, or from etcd by a callout. The target: etcd
// within 10% of shared data.
func BenchmarkStoreGuardCachedGrantToken(b *testing.B) {
	etcdURL := childEtcd(b)
	tok := mintGrantBench(b)
	for _, s := range []struct{ name, config string }{
		{"shareddata", benchConfig},
		{"etcd", etcdConfig(benchConfig, "mcpgate-bench/guard/", "")},
	} {
		h, err := harness.New(context.Background(), harness.Options{Wasm: filterWasm(b), PluginConfig: []byte(s.config), VMs: 1,
			Clusters: map[string]harness.Cluster{"etcd": {URL: etcdURL}}, Log: func(int, string) {}})
		if err != nil {
			b.Fatal(err)
		}
		// Each host runs alone, after a collection, and is closed before
		// the next starts: with both alive, whichever ran second measured
		// 20-40% slower, whatever its store.
		runtime.GC()
		b.Run(s.name, func(b *testing.B) {
			serveLoop(b, benchTarget{s.name, h.VM(0), false}, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), benchHeaders(tok), 503)
		})
		h.Close(context.Background())
	}
}
