package authcore

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	rotIssuer = "https://idp.example.com"
	rotConfig = `{
  "resources": [{"resource": "https://mcp.example.com/mcp"}],
  "trusted_issuers": [{"issuer": "` + rotIssuer + `", "cluster": "idp", "jwks_uri": "https://idp.example.com/jwks",
    "refetch_interval": "30s", "cache_min": "1m", "cache_max": "1h", "stale_max": "2h"}]
}`
)

func rotToken(t testing.TB, h *issuerHarness, k *testKey, sub string) string {
	return signToken(t, k, map[string]any{"typ": "at+jwt"}, stdClaims(h.clk.Now(), rotIssuer, sub, "https://mcp.example.com/mcp", map[string]any{"client_id": "c"}))
}

func mustForward(t testing.TB, what string, o Outcome) {
	t.Helper()
	if _, ok := o.(Forward); !ok {
		t.Fatalf("%s: %+v, want the request let through", what, o)
	}
}

func mustStatus(t testing.TB, what string, o Outcome, status int) Reply {
	t.Helper()
	r, ok := o.(Reply)
	if !ok || r.Status != status {
		t.Fatalf("%s: %+v, want %d", what, o, status)
	}
	return r
}

// TestIssuerKeyRotation: the provider adds a key; a token with the new
// kid is accepted after one refetch, which waits for the refetch interval
// since the last fetch; the old key keeps working without a fetch.
func TestIssuerKeyRotation(t *testing.T) {
	a, b := newTestKey(t, "key-a", "ES256"), newTestKey(t, "key-b", "RS256")
	idp := newTestIdP(t, a)
	h := newIssuerHarness(t, rotConfig, map[string]*testIdP{"idp": idp})
	mustForward(t, "token of key a", h.access(h.e, "/mcp", rotToken(t, h, a, "alice")))
	if n := idp.count("GET /jwks"); n != 1 {
		t.Fatalf("JWKS fetches %d, want 1", n)
	}
	idp.setKeys(a, b)
	tokB := rotToken(t, h, b, "bob")
	// Within the interval of the first fetch: no refetch, refused.
	mustStatus(t, "new kid right after a fetch", h.access(h.e, "/mcp", tokB), 401)
	if n := idp.count("GET /jwks"); n != 1 {
		t.Fatalf("JWKS fetches %d, want still 1", n)
	}
	h.advance(31 * time.Second)
	mustForward(t, "new kid after the interval", h.access(h.e, "/mcp", rotToken(t, h, b, "bob")))
	mustForward(t, "old kid", h.access(h.e, "/mcp", rotToken(t, h, a, "carol")))
	if n := idp.count("GET /jwks"); n != 2 {
		t.Errorf("JWKS fetches %d, want 2 (one refetch)", n)
	}
	if h.count("mcpgate.issuer.keys_fetched") != 2 {
		t.Errorf("counters %v", h.counts)
	}
}

// TestIssuerUnknownKidFlood: a flood of tokens with unknown kids, spread
// over two VMs sharing the Store, makes at most one JWK Set fetch per
// refetch interval, counted at the provider.
func TestIssuerUnknownKidFlood(t *testing.T) {
	a := newTestKey(t, "key-a", "ES256")
	idp := newTestIdP(t, a)
	h := newIssuerHarness(t, rotConfig, map[string]*testIdP{"idp": idp})
	vm2 := h.countingEngine(h.e.cfg, h.store)
	mustForward(t, "known key", h.access(h.e, "/mcp", rotToken(t, h, a, "alice")))
	mustForward(t, "known key, second VM (keys from the Store)", h.access(vm2, "/mcp", rotToken(t, h, a, "alice2")))
	if n := idp.count("GET /jwks"); n != 1 {
		t.Fatalf("JWKS fetches %d, want 1: the second VM must use the shared keys", n)
	}
	for round := 1; round <= 3; round++ {
		h.advance(31 * time.Second)
		for i := 0; i < 100; i++ {
			forged := *a
			forged.kid = "forged-" + strconv.Itoa(round) + "-" + strconv.Itoa(i)
			e := h.e
			if i%2 == 1 {
				e = vm2
			}
			mustStatus(t, "unknown kid", h.access(e, "/mcp", rotToken(t, h, &forged, "mallory")), 401)
		}
		if n := idp.count("GET /jwks"); n != 1+round {
			t.Fatalf("round %d: JWKS fetches %d, want %d (one per interval)", round, n, 1+round)
		}
	}
	if d := h.denials(); d[denyUnknownKey] != 300 {
		t.Errorf("denials %v", d)
	}
}

// TestIssuerProviderDown: with the provider down, tokens of known keys
// still pass past the key set's lifetime (stale-if-error, the refresh
// retried once per interval) until stale_max; then, and when no keys were
// ever fetched, the guard fails closed with 503.
func TestIssuerProviderDown(t *testing.T) {
	a := newTestKey(t, "key-a", "ES256")
	idp := newTestIdP(t, a)
	idp.jwksHeaders = Header{{"cache-control", "max-age=600"}}
	h := newIssuerHarness(t, rotConfig, map[string]*testIdP{"idp": idp})
	mustForward(t, "up", h.access(h.e, "/mcp", rotToken(t, h, a, "u0")))
	idp.down = true
	h.advance(11 * time.Minute) // past max-age=600
	for i := 0; i < 5; i++ {
		mustForward(t, "down, stale keys", h.access(h.e, "/mcp", rotToken(t, h, a, "u"+strconv.Itoa(i+1))))
	}
	if n := idp.count("GET /jwks"); n != 2 {
		t.Errorf("JWKS requests %d, want 2: one failed refresh, not one per token", n)
	}
	h.advance(31 * time.Second)
	mustForward(t, "down, next interval", h.access(h.e, "/mcp", rotToken(t, h, a, "u9")))
	if n := idp.count("GET /jwks"); n != 3 {
		t.Errorf("JWKS requests %d, want 3", n)
	}
	h.advance(2 * time.Hour)
	r := mustStatus(t, "down past stale_max", h.access(h.e, "/mcp", rotToken(t, h, a, "late")), 503)
	if r.Headers.Get("retry-after") == "" || !strings.Contains(string(r.Body), ErrCodeTemporarilyUnavailable) {
		t.Errorf("503 reply %q %s", r.Headers, r.Body)
	}

	cold := newIssuerHarness(t, rotConfig, map[string]*testIdP{"idp": idp})
	mustStatus(t, "down from the start", cold.access(cold.e, "/mcp", rotToken(t, cold, a, "x")), 503)
	if d := cold.denials(); d[denyUnavailable] != 1 {
		t.Errorf("denials %v", d)
	}
}

// TestIssuerKeysHTTPCaching: the key set is refetched when its max-age
// runs out (within [cache_min, cache_max]), not before.
func TestIssuerKeysHTTPCaching(t *testing.T) {
	a := newTestKey(t, "key-a", "EdDSA")
	idp := newTestIdP(t, a)
	idp.jwksHeaders = Header{{"cache-control", "public, max-age=300"}}
	h := newIssuerHarness(t, rotConfig, map[string]*testIdP{"idp": idp})
	mustForward(t, "first", h.access(h.e, "/mcp", rotToken(t, h, a, "u1")))
	h.advance(4 * time.Minute)
	mustForward(t, "fresh", h.access(h.e, "/mcp", rotToken(t, h, a, "u2")))
	if n := idp.count("GET /jwks"); n != 1 {
		t.Fatalf("JWKS fetches %d, want 1 within max-age", n)
	}
	h.advance(2 * time.Minute)
	mustForward(t, "after max-age", h.access(h.e, "/mcp", rotToken(t, h, a, "u3")))
	if n := idp.count("GET /jwks"); n != 2 {
		t.Fatalf("JWKS fetches %d, want 2 after max-age", n)
	}
}

// TestIssuerKeysOneFetchPerVM: concurrent first requests in one VM share
// one fetch: the others wait and are woken when it lands.
func TestIssuerKeysOneFetchPerVM(t *testing.T) {
	a := newTestKey(t, "key-a", "ES256")
	idp := newTestIdP(t, a)
	h := newIssuerHarness(t, rotConfig, map[string]*testIdP{"idp": idp})
	req := func(sub string) *Request {
		return &Request{Method: "GET", Path: "/mcp", Headers: Header{{"authorization", "Bearer " + rotToken(t, h, a, sub)}}}
	}
	first, ok := h.e.Handle(req("lead")).(Call)
	if !ok {
		t.Fatal("the first request did not fetch")
	}
	var tickets []uint64
	for i := 0; i < 5; i++ {
		w, ok := h.e.Handle(req("w" + strconv.Itoa(i))).(Wait)
		if !ok {
			t.Fatalf("request %d did not wait for the fetch in flight", i)
		}
		tickets = append(tickets, w.Ticket)
	}
	if len(h.e.Woken()) != 0 {
		t.Fatal("woken before the fetch landed")
	}
	mustForward(t, "leader", h.access2(first.Resume(idp.serve(first))))
	woken := h.e.Woken()
	if len(woken) != len(tickets) {
		t.Fatalf("woken %v, want %v", woken, tickets)
	}
	for _, tk := range woken {
		mustForward(t, "waiter", h.access2(h.e.Continue(tk)))
	}
	if n := idp.count("GET /jwks"); n != 1 {
		t.Errorf("JWKS fetches %d, want 1", n)
	}
}

// access2 completes an outcome already started.
func (h *issuerHarness) access2(o Outcome) Outcome {
	for {
		c, ok := o.(Call)
		if !ok {
			return o
		}
		o = c.Resume(h.call(c))
	}
}

// TestIssuerMetadataURLs: RFC 8414 §3.1 inserts the well-known string
// (dropping a terminating slash), OpenID Discovery appends it.
func TestIssuerMetadataURLs(t *testing.T) {
	for iss, want := range map[string][2]string{
		"https://kc.example.com/realms/demo": {"https://kc.example.com/.well-known/oauth-authorization-server/realms/demo", "https://kc.example.com/realms/demo/.well-known/openid-configuration"},
		"https://tenant.auth0.com/":          {"https://tenant.auth0.com/.well-known/oauth-authorization-server", "https://tenant.auth0.com/.well-known/openid-configuration"},
		"https://login.microsoftonline.com/t/v2.0": {"https://login.microsoftonline.com/.well-known/oauth-authorization-server/t/v2.0",
			"https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"},
		"http://127.0.0.1:8080": {"http://127.0.0.1:8080/.well-known/oauth-authorization-server", "http://127.0.0.1:8080/.well-known/openid-configuration"},
	} {
		u, _ := checkHTTPSURL(iss)
		got := issuerMetadataURLs(u)
		if got[0].String() != want[0] || got[1].String() != want[1] {
			t.Errorf("%s: %s %s, want %s", iss, got[0], got[1], want)
		}
	}
}

// TestIssuerMetadataMismatch: a metadata document naming another issuer
// is not used; without keys the guard fails closed.
func TestIssuerMetadataMismatch(t *testing.T) {
	a := newTestKey(t, "key-a", "ES256")
	idp := newTestIdP(t, a)
	idp.metadata["/.well-known/oauth-authorization-server"] = `{"issuer":"https://evil.example.com","jwks_uri":"https://idp.example.com/jwks"}`
	idp.metadata["/.well-known/openid-configuration"] = `{"issuer":"https://idp.example.com/","jwks_uri":"https://idp.example.com/jwks"}`
	cfg := strings.Replace(rotConfig, `"jwks_uri": "https://idp.example.com/jwks",`, "", 1)
	h := newIssuerHarness(t, cfg, map[string]*testIdP{"idp": idp})
	mustStatus(t, "no usable metadata", h.access(h.e, "/mcp", rotToken(t, h, a, "u")), 503)
	if idp.count("GET /jwks") != 0 {
		t.Error("fetched a jwks_uri from a document of another issuer")
	}
	idp.metadata["/.well-known/openid-configuration"] = `{"issuer":"` + rotIssuer + `","jwks_uri":"https://idp.example.com/jwks"}`
	h.advance(31 * time.Second)
	mustForward(t, "good metadata", h.access(h.e, "/mcp", rotToken(t, h, a, "u2")))
}

// TestIssuerKeyPolicy: every supported algorithm verifies with a key of
// its type; a key's "alg" and "use" are honoured; RSA below 2048 bits and
// algorithms the issuer does not accept are refused.
func TestIssuerKeyPolicy(t *testing.T) {
	cfg := strings.Replace(rotConfig, `"refetch_interval"`, `"algorithms": ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"], "refetch_interval"`, 1)
	var keys []*testKey
	for _, alg := range externalAlgorithms {
		keys = append(keys, newTestKey(t, "k-"+alg, alg))
	}
	small := &testKey{kid: "rsa-1024", alg: "RS256", use: "sig", jwkAlg: "RS256"}
	testRSAKey(t, 0)
	small.priv = rsaSmall
	enc := newTestKey(t, "enc-key", "ES256")
	enc.use = "enc"
	pinned := newTestKey(t, "pinned-rs256", "RS256") // "alg": "RS256" in the JWK
	idp := newTestIdP(t, append(keys, small, enc, pinned)...)
	h := newIssuerHarness(t, cfg, map[string]*testIdP{"idp": idp})
	for _, k := range keys {
		mustForward(t, k.alg, h.access(h.e, "/mcp", rotToken(t, h, k, "u-"+k.alg)))
	}
	ps := *pinned
	ps.alg = "PS256" // a PS256 signature by a key pinned to RS256
	for name, c := range map[string]struct {
		k      *testKey
		reason string
	}{
		"RSA-1024":           {small, denyUnknownKey},
		"use enc":            {enc, denyUnknownKey},
		"alg against pin":    {&ps, denyBadSignature},
		"RS256 as ES256":     {&testKey{kid: keys[0].kid, alg: "ES256", priv: keys[4].priv}, denyBadSignature},
		"EdDSA key as ES256": {&testKey{kid: "k-EdDSA", alg: "ES256", priv: keys[4].priv}, denyBadSignature},
	} {
		before := h.denials()[c.reason]
		mustStatus(t, name, h.access(h.e, "/mcp", rotToken(t, h, c.k, "x-"+name)), 401)
		if h.denials()[c.reason] != before+1 {
			t.Errorf("%s: denials %v, want one more %s", name, h.denials(), c.reason)
		}
	}
	// An issuer that accepts ES256 only refuses an RS256 token outright.
	es := strings.Replace(rotConfig, `"refetch_interval"`, `"algorithms": ["ES256"], "refetch_interval"`, 1)
	h2 := newIssuerHarness(t, es, map[string]*testIdP{"idp": idp})
	mustStatus(t, "RS256 at an ES256-only issuer", h2.access(h2.e, "/mcp", rotToken(t, h2, keys[0], "u")), 401)
	if h2.denials()[denyBadHeader] != 1 || idp.count("GET /jwks") != 1 {
		t.Errorf("denials %v, JWKS fetches %d", h2.denials(), idp.count("GET /jwks"))
	}
}

// TestIssuerRediscovery: when the JWK Set found through the metadata fails,
// the next refresh reads the metadata again and follows a new jwks_uri.
func TestIssuerRediscovery(t *testing.T) {
	a := newTestKey(t, "key-a", "ES256")
	idp := newTestIdP(t, a)
	idp.jwksPath = "/old/jwks"
	idp.metadata["/.well-known/openid-configuration"] = `{"issuer":"` + rotIssuer + `","jwks_uri":"https://idp.example.com/old/jwks"}`
	cfg := strings.Replace(rotConfig, `"jwks_uri": "https://idp.example.com/jwks",`, "", 1)
	h := newIssuerHarness(t, cfg, map[string]*testIdP{"idp": idp})
	mustForward(t, "old jwks_uri", h.access(h.e, "/mcp", rotToken(t, h, a, "u1")))
	idp.jwksPath = "/new/jwks"
	idp.metadata["/.well-known/openid-configuration"] = `{"issuer":"` + rotIssuer + `","jwks_uri":"https://idp.example.com/new/jwks"}`
	h.advance(2 * time.Hour) // past the keys' lifetime: a refresh, which fails
	mustForward(t, "stale keys while the old URI fails", h.access(h.e, "/mcp", rotToken(t, h, a, "u2")))
	h.advance(31 * time.Second)
	mustForward(t, "new jwks_uri", h.access(h.e, "/mcp", rotToken(t, h, a, "u3")))
	if idp.count("GET /new/jwks") != 1 || idp.count("GET /.well-known/openid-configuration") != 2 {
		t.Errorf("requests %v", idp.hits)
	}
}
