package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Benchmarks of tokens from a trusted external issuer (the zitadel/oidc
// provider of external_test.go, RS256 with a 2048-bit key), in the same
// run as BenchmarkNoopBaseline and BenchmarkGuardCachedToken:
//
//   - cached external JWT next to a cached own token, same engine (mixed
//     mode): the verified-token cache serves both, so they must cost the
//     same within noise (target: within 10%);
//   - a cached introspected (opaque) token;
//   - a first-seen RS256 token: signature verification on every request
//     (the JWK Set itself is fetched once, on the first).

const benchExtConfig = `{
  "issuer": "https://mcp.example.com",
  "keys": [{"kid": "es", "jwk": {"kty":"EC","crv":"P-256","x":"2UDUP4_PWg3XQl7qK4QqYu_vnwBSipXGy6qWrKtcdsE","y":"QgNmchNyYt7X74L7lTU3VMc_-G-n6ZqWi9YD2aFquH8","d":"ne1GtvpqXlb4YFz4XEKQ1ksW1deyZFVCmx4TcH5zBdE"}}],
  "resources": [{"resource": "https://mcp.example.com/mcp", "scopes": ["mcp:tools"]}],
  "trusted_issuers": [{"issuer": "{{OP_ISSUER}}", "cluster": "idp",
    "introspection": {"endpoint": "{{OP_ISSUER}}/oauth/introspect", "client_id": "` + extRSClientID + `", "client_secret": "` + extRSSecret + `"}}]
}`

// benchIssuer starts the provider for https://mcp.example.com/mcp and
// returns its storage and the engine configuration trusting it.
func benchIssuer(b *testing.B) (*testOP, *extStorage, string) {
	store := newExtStorage(true)
	idp := serveOP(b, store, store.opStorage, []string{"openid", "mcp:tools"})
	store.setAudience("https://mcp.example.com/mcp")
	return idp, store, strings.ReplaceAll(benchExtConfig, "{{OP_ISSUER}}", idp.issuer)
}

// opaqueToken is an access token of the provider's opaque kind, made as
// its token endpoint makes them, for the storage's audience.
func opaqueToken(b testing.TB, idp *testOP, store *extStorage) string {
	store.mu.Lock()
	aud := store.audience
	store.mu.Unlock()
	ar := &extAuthRequest{opAuthRequest: &opAuthRequest{id: "bench", clientID: extClientID, scopes: []string{"mcp:tools"}, subject: opSubject, done: true}, audience: aud}
	tok, _, _, err := op.CreateAccessToken(op.ContextWithIssuer(context.Background(), idp.issuer), ar, op.AccessTokenTypeBearer, idp.provider, &extClient{id: extClientID}, "")
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkGuardCachedExternal: cached tokens of each kind, one engine.
func BenchmarkGuardCachedExternal(b *testing.B) {
	idp, store, config := benchIssuer(b)
	own := mintBench(b, config, 1, "mcp:tools")[0]
	ext := store.mint(b, idp.issuer, "mcp:tools")
	opaque := opaqueToken(b, idp, store)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	for _, tg := range benchTargets(b, config, map[string]string{extCluster: idp.issuer}) {
		for _, c := range []struct{ name, token string }{{"own", own}, {"external-jwt", ext}, {"introspected", opaque}} {
			b.Run(c.name+"/"+tg.name, func(b *testing.B) {
				serveLoop(b, tg, mcpBenchRequest("/mcp", body), benchHeaders(c.token), 503)
			})
		}
	}
	if n := idp.hits()["POST /oauth/introspect"]; n != 2 {
		b.Errorf("introspections %d, want one per target", n)
	}
}

// BenchmarkGuardFirstSeenExternalRS256: every request carries a provider
// token never seen before (RS256, 2048 bits).
func BenchmarkGuardFirstSeenExternalRS256(b *testing.B) {
	idp, store, config := benchIssuer(b)
	for _, tg := range benchTargets(b, config, map[string]string{extCluster: idp.issuer}) {
		b.Run(tg.name, func(b *testing.B) {
			toks := make([]string, b.N)
			var wg sync.WaitGroup
			for w := 0; w < 2; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(toks); i += 2 {
						toks[i] = store.mint(b, idp.issuer, "mcp:tools")
					}
				}()
			}
			wg.Wait()
			serveLoop(b, tg, mcpBenchRequest("/mcp", `{}`), benchHeaders(toks...), 503)
		})
	}
}

var _ http.Handler = (*op.Provider)(nil)
