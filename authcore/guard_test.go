package authcore

import (
	"strings"
	"testing"
	"time"
	"unsafe"
)

// mintFor signs a token for the guard config with the given overrides.
func mintFor(t testing.TB, e *Engine, aud string, scopes ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := e.MintAccessToken(AccessTokenClaims{
		Issuer: e.cfg.Issuer, Subject: "alice", Audience: []string{aud}, ClientID: "client-1",
		Scope: scopes, IssuedAt: now, Expiry: now.Add(5 * time.Minute), JTI: "j1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forge signs arbitrary header and payload JSON with the engine's key kid.
func forge(t testing.TB, e *Engine, kid, header, payload string) string {
	t.Helper()
	tok, err := e.signJWS(e.keyByKid(kid), []byte(header), []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mcpPost(path, token, body string, extra ...[2]string) *Request {
	r := &Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: path,
		Headers: Header{{"content-type", "application/json"}}}
	if token != "" {
		r.Headers = append(r.Headers, [2]string{"authorization", "Bearer " + token})
	}
	r.Headers = append(r.Headers, extra...)
	r.Body = []byte(body)
	return r
}

// run drives an outcome to its end like a host would, feeding the body.
func run(e *Engine, req *Request) Outcome {
	o := e.Handle(req)
	for {
		rb, ok := o.(ReadBody)
		if !ok {
			return o
		}
		if len(req.Body) > rb.Limit {
			return PayloadTooLarge(rb.Limit)
		}
		o = rb.Resume(req.Body)
	}
}

const prm = `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`

func TestGuardChallenges(t *testing.T) {
	e := newTestEngine(t, "guard")
	now := time.Now().Unix()
	claims := func(extra string) string {
		return `{"iss":"https://mcp.example.com","sub":"alice","aud":"https://mcp.example.com/mcp","client_id":"c","scope":"mcp:tools","iat":` +
			itoa64(now) + `,"exp":` + itoa64(now+300) + extra + `}`
	}
	good := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	listBody := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	callAdmin := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{}}}`
	cases := []struct {
		name   string
		req    *Request
		status int
		www    string // exact WWW-Authenticate, "" for none
	}{
		{"no token", mcpPost("/mcp", "", listBody), 401,
			`Bearer scope="mcp:tools", ` + prm},
		{"basic scheme only", mcpPost("/mcp", "", listBody, [2]string{"authorization", "Basic YTpi"}), 401,
			`Bearer scope="mcp:tools", ` + prm},
		{"lower-case bearer scheme accepted", mcpPost("/mcp", "", listBody, [2]string{"authorization", "bearer " + good}), 0, ""},
		{"garbage token", mcpPost("/mcp", "abc.def.ghi", listBody), 401,
			`Bearer error="invalid_token", scope="mcp:tools", ` + prm + `, error_description="the access token is invalid or expired"`},
		{"malformed credentials", mcpPost("/mcp", "", listBody, [2]string{"authorization", "Bearer a b"}), 400,
			`Bearer error="invalid_request", ` + prm + `, error_description="malformed Bearer credentials"`},
		{"two authorization headers", mcpPost("/mcp", good, listBody, [2]string{"authorization", "Bearer " + good}), 400,
			`Bearer error="invalid_request", ` + prm + `, error_description="more than one Authorization header"`},
		{"token in query", mcpPost("/mcp?access_token="+good, "", listBody), 400,
			`Bearer error="invalid_request", ` + prm + `, error_description="access tokens must not be sent in the query string"`},
		{"token in query and header", mcpPost("/mcp?access_token=x", good, listBody), 400, ""},
		{"encoded query token", mcpPost("/mcp?access%5Ftoken=x", good, listBody), 400, ""},
		{"wrong audience", mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com/other/mcp", "mcp:tools"), listBody), 401, ""},
		{"audience of the origin is not the resource", mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com", "mcp:tools"), listBody), 401, ""},
		{"expired", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"at+jwt","kid":"es"}`,
			strings.Replace(claims(""), `"exp":`+itoa64(now+300), `"exp":`+itoa64(now-120), 1)), listBody), 401, ""},
		{"not yet valid", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"at+jwt","kid":"es"}`, claims(`,"nbf":`+itoa64(now+600))), listBody), 401, ""},
		{"typ JWT", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"JWT","kid":"es"}`, claims("")), listBody), 401, ""},
		{"typ application/at+jwt ok", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"application/at+jwt","kid":"es"}`, claims("")), listBody), 0, ""},
		{"alg none", mcpPost("/mcp", b64.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"es"}`))+"."+b64.EncodeToString([]byte(claims("")))+".", listBody), 401, ""},
		{"alg confusion", mcpPost("/mcp", forge(t, e, "es", `{"alg":"EdDSA","typ":"at+jwt","kid":"es"}`, claims("")), listBody), 401, ""},
		{"unknown kid", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"at+jwt","kid":"nope"}`, claims("")), listBody), 401, ""},
		{"EdDSA key works", mcpPost("/mcp", forge(t, e, "ed", `{"alg":"EdDSA","typ":"at+jwt","kid":"ed"}`, claims("")), listBody), 0, ""},
		{"wrong issuer", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"at+jwt","kid":"es"}`,
			strings.Replace(claims(""), `"iss":"https://mcp.example.com"`, `"iss":"https://mcp.example.com/"`, 1)), listBody), 401, ""},
		{"crit header", mcpPost("/mcp", forge(t, e, "es", `{"alg":"ES256","typ":"at+jwt","kid":"es","crit":["x"]}`, claims("")), listBody), 401, ""},
		{"tampered payload", mcpPost("/mcp", tamper(good), listBody), 401, ""},
		{"allowed", mcpPost("/mcp", good, listBody), 0, ""},
		{"tool needing admin", mcpPost("/mcp", good, callAdmin), 403,
			`Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", ` + prm + `, error_description="the access token lacks a scope this request needs"`},
		{"admin implies read", mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools", "mcp:admin"),
			`{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///x"}}`), 0, ""},
		{"read needed, granted scopes included, no offline_access", mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools", "offline_access"),
			`{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///x"}}`), 403,
			`Bearer error="insufficient_scope", scope="mcp:tools mcp:read", ` + prm + `, error_description="the access token lacks a scope this request needs"`},
		{"baseline missing", mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com/mcp", "mcp:read"), listBody), 403,
			`Bearer error="insufficient_scope", scope="mcp:tools mcp:read", ` + prm + `, error_description="the access token lacks a scope this request needs"`},
		{"batch checked per element", mcpPost("/mcp", good, "["+listBody+","+callAdmin+"]"), 403, ""},
		{"unparsable body", mcpPost("/mcp", good, `{"jsonrpc":`), 400, ""},
		{"method not a string", mcpPost("/mcp", good, `{"jsonrpc":"2.0","id":1,"method":5}`), 400, ""},
		{"body too large", mcpPost("/mcp", good, `{"x":"`+strings.Repeat("a", 3000)+`"}`), 413, ""},
		{"Mcp-Method agrees", mcpPost("/mcp", good, listBody, [2]string{"mcp-method", "tools/list"}), 0, ""},
		{"Mcp-Method mismatch", mcpPost("/mcp", good, listBody, [2]string{"mcp-method", "tools/call"}), 400, ""},
		{"Mcp-Name mismatch", mcpPost("/mcp", mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools", "mcp:admin"), callAdmin,
			[2]string{"mcp-method", "tools/call"}, [2]string{"mcp-name", "echo"}), 400, ""},
		{"sub-path guarded", mcpPost("/mcp/messages", "", listBody), 401, ""},
		{"encoded path guarded", mcpPost("/%6dcp", "", listBody), 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := run(e, tc.req)
			if tc.status == 0 {
				f, ok := o.(Forward)
				if !ok {
					t.Fatalf("want Forward, got %#v", o)
				}
				if f.Remove[0] != "authorization" {
					t.Errorf("authorization not stripped: %+v", f)
				}
				return
			}
			r, ok := o.(Reply)
			if !ok {
				t.Fatalf("want Reply %d, got %#v", tc.status, o)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body %s; headers %v", r.Status, tc.status, r.Body, r.Headers)
			}
			if tc.www != "" && r.Headers.Get("www-authenticate") != tc.www {
				t.Errorf("WWW-Authenticate\n got: %s\nwant: %s", r.Headers.Get("www-authenticate"), tc.www)
			}
			if (tc.status == 401 || tc.status == 403) && !strings.Contains(r.Headers.Get("www-authenticate"), prm) {
				t.Errorf("challenge without resource_metadata: %v", r.Headers)
			}
			if strings.Contains(r.Headers.Get("www-authenticate"), "offline_access") {
				t.Errorf("offline_access in challenge")
			}
		})
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := b64.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"sub":"alice"`, `"sub":"admin"`, 1))
	return parts[0] + "." + b64.EncodeToString(p) + "." + parts[2]
}

func itoa64(n int64) string { return strconvFormat(n) }

func TestGuardForwardsIdentity(t *testing.T) {
	e := newTestEngine(t, "guard")
	tok := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	f := run(e, mcpPost("/mcp", tok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		[2]string{"x-mcpgate-subject", "mallory"})).(Forward)
	want := Forward{
		Remove: []string{"authorization", "x-mcpgate-subject", "x-mcpgate-client-id", "x-mcpgate-scope"},
		Set:    Header{{"x-mcpgate-subject", "alice"}, {"x-mcpgate-client-id", "client-1"}, {"x-mcpgate-scope", "mcp:tools"}},
	}
	if strings.Join(f.Remove, ",") != strings.Join(want.Remove, ",") || len(f.Set) != 3 || f.Set[0] != want.Set[0] || f.Set[1] != want.Set[1] || f.Set[2] != want.Set[2] {
		t.Errorf("forward = %+v\nwant %+v", f, want)
	}
}

func TestGuardCachesVerification(t *testing.T) {
	e := newTestEngine(t, "guard")
	tok := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	if _, r := e.verifyToken(tok); r != "" {
		t.Fatal(r)
	}
	if e.tokens.get(tok) == nil {
		t.Fatal("verified token not cached")
	}
	// A cached token is still checked for audience and time per request.
	other := mintFor(t, e, "https://mcp.example.com/other/mcp", "mcp:tools")
	e.verifyToken(other)
	if o := run(e, mcpPost("/mcp", other, `{}`)); o.(Reply).Status != 401 {
		t.Errorf("cached token for another audience accepted")
	}
	// Bounded.
	c := tokenCache{max: 16}
	for i := 0; i < 100; i++ {
		c.put(strconvFormat(int64(i)), &AccessTokenClaims{Expiry: time.Now().Add(time.Hour)}, time.Now())
	}
	if c.n > 16 {
		t.Errorf("cache grew to %d", c.n)
	}
}

func TestGuardRevokedGrant(t *testing.T) {
	cfg := loadConfig(t, "guard")
	store := &fakeStore{data: map[string][]byte{"grant-revoked/g1": []byte("1")}}
	e, _ := New(cfg, Options{Store: store})
	now := time.Now()
	tok, _ := e.MintAccessToken(AccessTokenClaims{Issuer: cfg.Issuer, Subject: "a", Audience: []string{"https://mcp.example.com/mcp"},
		Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(time.Minute), JTI: "x", GrantID: "g1"})
	if r, ok := run(e, mcpPost("/mcp", tok, `{}`)).(Reply); !ok || r.Status != 401 {
		t.Errorf("token of a revoked grant accepted")
	}
	tok2, _ := e.MintAccessToken(AccessTokenClaims{Issuer: cfg.Issuer, Subject: "a", Audience: []string{"https://mcp.example.com/mcp"},
		Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(time.Minute), JTI: "y", GrantID: "g2"})
	if _, ok := run(e, mcpPost("/mcp", tok2, `{}`)).(Forward); !ok {
		t.Errorf("token of a live grant refused")
	}
}

// fakeStore is a read-only map Store for guard tests.
type fakeStore struct{ data map[string][]byte }

func (s *fakeStore) Get(key string, then func([]byte, uint64, error) Outcome) Outcome {
	if v, ok := s.data[key]; ok {
		return then(v, 1, nil)
	}
	return then(nil, 0, ErrNotFound)
}

func (s *fakeStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(error) Outcome) Outcome {
	s.data[key] = value
	return then(nil)
}

// TestTokenCacheCollisions: tokens whose hashes collide (same length and
// tail) are told apart by the full comparison, and eviction keeps the
// count true.
func TestTokenCacheCollisions(t *testing.T) {
	now := time.Now()
	tail := strings.Repeat("s", tokenHashTail)
	a, b := "aaaa."+tail, "bbbb."+tail
	if tokenHash(a) != tokenHash(b) {
		t.Fatal("test tokens should collide")
	}
	c := tokenCache{max: 8}
	ca := &AccessTokenClaims{Subject: "a", Expiry: now.Add(time.Hour)}
	cb := &AccessTokenClaims{Subject: "b", Expiry: now.Add(time.Hour)}
	c.put(a, ca, now)
	if c.get(b) != nil {
		t.Fatal("a colliding token got another token's claims")
	}
	c.put(b, cb, now)
	if c.get(a) != ca || c.get(b) != cb || c.n != 2 {
		t.Fatalf("get(a)=%v get(b)=%v n=%d", c.get(a), c.get(b), c.n)
	}
	c.put(a, ca, now) // again: no duplicate entry
	if c.n != 2 {
		t.Fatalf("re-put counted twice: n=%d", c.n)
	}
	// Expired entries go first; then an eighth when still full.
	for i := 0; i < 20; i++ {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(-time.Hour)
		}
		c.put(strconvFormat(int64(i))+"."+tail, &AccessTokenClaims{Expiry: exp}, now)
		count := 0
		for _, e := range c.entries {
			for ; e != nil; e = e.next {
				count++
			}
		}
		if count != c.n || c.n > c.max {
			t.Fatalf("after %d puts: counted %d entries, n=%d, max %d", i, count, c.n, c.max)
		}
	}
	// The caller's string may be a view of a request buffer: the cache
	// keeps its own copy.
	buf := []byte("cccc." + tail)
	key := unsafe.String(&buf[0], len(buf))
	c.put(key, cb, now)
	buf[0] = 'X'
	if c.get("cccc."+tail) != cb {
		t.Error("cached token changed with the caller's buffer")
	}
}

// TestGuardRevocationRecheck: a VM looks a cached token's grant up once
// per cfg.Store.RevocationRecheck; a revocation by another VM (sharing the Store) stops
// the token there within that time, and one by the VM itself at once.
func TestGuardRevocationRecheck(t *testing.T) {
	cfg := loadConfig(t, "guard")
	clock := &cimdClock{t: time.Now()}
	store := &countingStore{fakeStore: fakeStore{data: map[string][]byte{}}}
	a, _ := New(cfg, Options{Store: store, Now: clock.now})
	b, _ := New(cfg, Options{Store: store, Now: clock.now})
	tok, _ := a.MintAccessToken(AccessTokenClaims{Issuer: cfg.Issuer, Subject: "a", Audience: []string{"https://mcp.example.com/mcp"},
		Scope: []string{"mcp:tools"}, IssuedAt: clock.now(), Expiry: clock.now().Add(time.Hour), JTI: "x", GrantID: "g1"})
	allowed := func(e *Engine) bool {
		_, ok := run(e, mcpPost("/mcp", tok, `{}`)).(Forward)
		return ok
	}
	for i := 0; i < 5; i++ {
		if !allowed(a) {
			t.Fatal("live grant refused")
		}
	}
	// One lookup of the grant's revocation, one of the operators' record
	// (admin_state.go), both rechecked once per interval.
	if store.gets != 2 {
		t.Errorf("%d revocation lookups for 5 requests within %v, want 2", store.gets, cfg.Store.RevocationRecheck)
	}
	// Another VM revokes: a keeps trusting its answer until the recheck.
	b.revokeGrant("g1", "test", func(error) Outcome { return Forward{} })
	if !allowed(a) {
		t.Error("refused before the recheck interval (the lookup should be cached)")
	}
	clock.advance(cfg.Store.RevocationRecheck)
	if allowed(a) {
		t.Error("revoked grant still accepted after the recheck interval")
	}
	if allowed(b) {
		t.Error("revoked grant accepted by the VM that revoked it")
	}
	// The VM that revokes stops its own cached answers at once.
	tok2, _ := a.MintAccessToken(AccessTokenClaims{Issuer: cfg.Issuer, Subject: "a", Audience: []string{"https://mcp.example.com/mcp"},
		Scope: []string{"mcp:tools"}, IssuedAt: clock.now(), Expiry: clock.now().Add(time.Hour), JTI: "y", GrantID: "g2"})
	if _, ok := run(a, mcpPost("/mcp", tok2, `{}`)).(Forward); !ok {
		t.Fatal("live grant g2 refused")
	}
	a.revokeGrant("g2", "test", func(error) Outcome { return Forward{} })
	if _, ok := run(a, mcpPost("/mcp", tok2, `{}`)).(Forward); ok {
		t.Error("a VM's own revocation did not stop its cached answer")
	}
}

// countingStore counts Get calls.
type countingStore struct {
	fakeStore
	gets int
}

func (s *countingStore) Get(key string, then func([]byte, uint64, error) Outcome) Outcome {
	s.gets++
	return s.fakeStore.Get(key, then)
}
