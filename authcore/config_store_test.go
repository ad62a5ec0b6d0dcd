package authcore

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestStoreConfig: defaults, the etcd section and its errors.
func TestStoreConfig(t *testing.T) {
	c := loadConfig(t, "minimal")
	if c.Store.Etcd != nil || c.Store.RevocationRecheck != time.Second || c.Store.RevocationOutage != RevocationOutageDeny {
		t.Errorf("defaults: %+v", c.Store)
	}
	c = loadConfig(t, "etcd")
	e := c.Store.Etcd
	if e == nil || e.Cluster != "etcd" || e.Authority != "etcd.example.com:2379" || e.KeyPrefix != "mcpgate/https://mcp.example.com/" ||
		e.Timeout != 500*time.Millisecond || e.Username != "mcpgate" || c.Store.RevocationRecheck != 2*time.Second ||
		c.Store.RevocationOutage != RevocationOutageAllow {
		t.Errorf("etcd config: %+v %+v", c.Store, e)
	}
	for store, want := range map[string]string{
		`{"etcd": {}}`: "store.etcd.cluster: required",
		`{"etcd": {"cluster": "e", "timeout": "1ms"}}`:   "store.etcd.timeout: must be between",
		`{"etcd": {"cluster": "e", "username": "u"}}`:    `give "username" and "password" together`,
		`{"etcd": {"cluster": "e", "authority": "a/b"}}`: "store.etcd.authority: must be a host[:port]",
		`{"etcd": {"cluster": "outbound|2379||etcd"}}`:   "store.etcd.authority: required: the cluster name",
		`{"etcd": {"cluster": "e", "endpoints": ["x"]}}`: "store.etcd.endpoints: unknown key",
		`{"revocation_outage": "maybe"}`:                 `store.revocation_outage: must be "deny" or "allow"`,
		`{"revocation_recheck": "1h"}`:                   "store.revocation_recheck: must be between",
	} {
		doc := strings.Replace(`{"issuer":"https://a.example","resources":[{"resource":"https://a.example/mcp"}],"keys":[{"kid":"k","jwk":{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}}],"store":STORE}`, "STORE", store, 1)
		_, err := ParseConfig([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", store, err, want)
		}
	}
}

// unavailableStore fails every operation as an unreachable etcd does.
type unavailableStore struct{}

func (unavailableStore) Get(key string, then func([]byte, uint64, error) Outcome) Outcome {
	return then(nil, 0, ErrUnavailable)
}

func (unavailableStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(error) Outcome) Outcome {
	return then(ErrUnavailable)
}

// TestStoreUnavailable: with the store down, /token answers 503
// temporarily_unavailable and issues nothing, the consent answer redirects
// that error with iss, and the guard follows revocation_outage.
func TestStoreUnavailable(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	code, verifier := h.getCode(newBrowser(), publicClient, loopbackRedirect, nil)
	tok := tokenOK(t, h.exchange(code, verifier))
	down := h.engine(h.e.cfg, unavailableStore{})
	r := h.tokenReq(down, map[string][]string{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {publicClient}, "redirect_uri": {loopbackRedirect}})
	oauthErr(t, r, 503, ErrCodeTemporarilyUnavailable)

	// The consent page needs no store (its ticket is sealed); answering it
	// records the ticket's use, so with the store down the answer is the
	// error, redirected to the client with iss, and no code.
	_, challenge := pkce()
	b := newBrowser()
	req := get(authzQuery(publicClient, loopbackRedirect, challenge, nil))
	req.Headers = append(req.Headers, b.header()...)
	page := h.run(down, req, nil)
	if page.Status != 200 {
		t.Fatalf("consent page with the store down: %d %s", page.Status, page.Body)
	}
	b.take(page)
	ticket, csrf := consentFields(t, page)
	answer := h.postForm(down, b, "/oauth/consent", url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {"approve"}}.Encode())
	q := redirected(t, answer, 303)
	if q.Get("error") != ErrCodeTemporarilyUnavailable || q.Get("iss") != h.e.cfg.Issuer || q.Get("code") != "" {
		t.Errorf("consent with the store down redirected %v", q)
	}

	req = &Request{Method: "GET", Scheme: "https", Authority: "mcp.example.com", Path: "/mcp",
		Headers: Header{{"authorization", "Bearer " + tok.AccessToken}}}
	r = h.run(down, req, nil)
	oauthErr(t, r, 503, ErrCodeTemporarilyUnavailable)
	if r.Headers.Get("retry-after") == "" {
		t.Errorf("guard 503 without Retry-After: %v", r.Headers)
	}
	cfg := *h.e.cfg
	cfg.Store.RevocationOutage = RevocationOutageAllow
	if !h.guardAllows(h.engine(&cfg, unavailableStore{}), tok.AccessToken) {
		t.Error("revocation_outage allow refused a valid token")
	}
}
