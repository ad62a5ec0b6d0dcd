package e2e

// End-to-end tests of Client ID Metadata Documents (issue 5, "Done when"),
// through the compiled filter under the wazero harness: the document host,
// the DNS-over-HTTPS resolver and the pinned egress cluster are real
// servers on loopback (cimdinfra_test.go).
//
// Natively (authhttp) only what happens before the document fetch can be
// tested: authhttp sends a callout to a cluster's fixed base URL and
// ignores x-envoy-original-dst-host, so it cannot pin a connection to the
// vetted address the way Envoy's ORIGINAL_DST cluster (and the harness's)
// does. The URL checks and the vetting of DoH answers therefore run on
// both kinds (natively against a plain-HTTP view of the same resolver and a
// tripwire egress cluster that must never be called); every test that
// fetches a document is wasm-only.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/mcpgate/mcpgate/wazero-harness/harnesstest"
)

// ---------------------------------------------------------------------------
// Helpers

// cimdEnv is one gateway with CIMD enabled in pinned mode, its resolver and
// its document host.
type cimdEnv struct {
	kind string
	ca   *harnesstest.CA
	doh  *harnesstest.DoH
	docs *cimdHost
	tg   *target
	// tripwire counts calls to the native target's cimd_egress cluster
	// (native only: authhttp cannot pin, so any call there is a fetch that
	// the test says must not happen).
	tripwire atomic.Int64
}

// cimdOptions tune startCIMD.
type cimdOptions struct {
	vms int
	// hosts are the names of the document host's certificate and of
	// allow_hosts; default ["client.test"]. The first is docs.Hostname.
	hosts []string
	// noLoopback leaves allow_loopback_for_tests out of the section, so
	// 127.0.0.0/8 and ::1 answers are refused like any special-use address.
	noLoopback bool
	// extra members of the "cimd" section, e.g. `"timeout": "1s"`.
	extra []string
	// etcd, when set, is the URL of an etcd the gateway keeps its records
	// in (cluster "etcd"), so that the flow makes store callouts too.
	etcd string
}

// cimdTestRedirect is the redirect URI of the documents in direct
// /authorize tests (never followed: the tests read the answer).
const cimdTestRedirect = "http://127.0.0.1:9/cb"

// startCIMD starts a resolver, a document host (resolving to 127.0.0.1 for
// its first name) and a gateway of the given kind whose config is
// conformance.json with a "cimd" section.
func startCIMD(t *testing.T, kind string, o cimdOptions) *cimdEnv {
	t.Helper()
	if len(o.hosts) == 0 {
		o.hosts = []string{"client.test"}
	}
	env := &cimdEnv{kind: kind, ca: harnesstest.NewCA(t)}
	env.doh = harnesstest.StartDoH(t, env.ca)
	env.docs = startCIMDHost(t, env.ca, o.hosts...)
	env.doh.Set(env.docs.Hostname, env.docs.IP)

	var section string
	if o.noLoopback {
		hs, _ := json.Marshal(o.hosts)
		section = `{"enabled": true, "doh_authority": "` + env.doh.Authority + `", "doh_path": "` + env.doh.Path + `", "allow_hosts": ` + string(hs)
		for _, e := range o.extra {
			section += ", " + e
		}
		section += "}"
	} else {
		section = cimdSection(env.doh, o.hosts, o.extra...)
	}
	cfg := readConfig(t, "conformance.json")
	cfg = strings.Replace(cfg, "{", "{\n  \"cimd\": "+section+",", 1)

	opts := targetOptions{vms: o.vms, clusters: map[string]string{}}
	if o.etcd != "" {
		cfg = etcdConfig(cfg, "mcpgate-test/"+t.Name()+"/", "")
		opts.clusters["etcd"] = o.etcd
	}
	switch kind {
	case wasm:
		opts.harnessClusters = cimdClusters(env.doh, env.ca)
	case native:
		// The same resolver over plain HTTP (authhttp trusts only the
		// system roots), and a tripwire in place of the pinned egress.
		plainDoH := httptest.NewServer(env.doh)
		t.Cleanup(plainDoH.Close)
		trip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			env.tripwire.Add(1)
			http.Error(w, "tripwire", http.StatusServiceUnavailable)
		}))
		t.Cleanup(trip.Close)
		opts.clusters["cimd_doh"], opts.clusters["cimd_egress"] = plainDoH.URL, trip.URL
	}
	env.tg = startTarget(t, kind, cfg, opts)
	return env
}

// doc serves a valid document for path (client_id = its URL) and returns
// the URL.
func (env *cimdEnv) doc(path string) string {
	u := env.docs.url(path)
	env.docs.serveDoc(path, clientDoc(u, cimdTestRedirect))
	return u
}

// hostURL is the URL of path on the document host under another of its
// names.
func (env *cimdEnv) hostURL(host, path string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(env.docs.Port)) + path
}

// dialed is what the pinned egress cluster connected to (wasm), in order.
func (env *cimdEnv) dialed() []string {
	if env.tg.host == nil {
		return nil
	}
	return env.tg.host.Dialed("cimd_egress")
}

// cimdAuthorizeURL is a complete authorization request for clientID.
func cimdAuthorizeURL(base, clientID, redirect string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirect},
		"state":                 {"st-cimd"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
		"resource":              {base + "/mcp"},
		"scope":                 {"mcp:tools"},
	}
	return base + "/oauth/authorize?" + q.Encode()
}

// authzAnswer is the answer to one GET /oauth/authorize.
type authzAnswer struct {
	status  int
	header  http.Header
	body    string
	elapsed time.Duration
}

var noRedirectClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       20 * time.Second,
}

// authorize sends the authorization request for clientID (no cookies, so
// no remembered consent: a usable client always gets the consent page).
func (env *cimdEnv) authorize(t *testing.T, clientID string) authzAnswer {
	t.Helper()
	return getAuthorize(t, cimdAuthorizeURL(env.tg.base, clientID, cimdTestRedirect))
}

func getAuthorize(t *testing.T, u string) authzAnswer {
	t.Helper()
	start := time.Now()
	res, err := noRedirectClient.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return authzAnswer{status: res.StatusCode, header: res.Header, body: string(b), elapsed: time.Since(start)}
}

// isConsent reports whether the answer is the consent page for a client
// identified by a document on host (host[:port] as in the client_id).
func (a authzAnswer) isConsent(host string) bool {
	return a.status == 200 && strings.Contains(a.body, `<form method="post"`) &&
		strings.Contains(a.body, "identified by a document published at <strong>"+host+"</strong>")
}

// wantConsent fails unless a is the consent page for a document on host.
func wantConsent(t *testing.T, what string, a authzAnswer, host string) {
	t.Helper()
	if !a.isConsent(host) {
		t.Errorf("%s: want the consent page naming %s, got %d %v\n%s", what, host, a.status, a.header, a.body)
	}
}

// wantErrorPage fails unless a is the authorization error page (never a
// redirect: no Location) with the given status and error code, and a
// description containing each fragment.
func wantErrorPage(t *testing.T, what string, a authzAnswer, status int, code string, fragments ...string) {
	t.Helper()
	ok := a.status == status && a.header.Get("Location") == "" &&
		strings.HasPrefix(a.header.Get("Content-Type"), "text/html") &&
		strings.Contains(a.body, "<title>Authorization error</title>") &&
		strings.Contains(a.body, "<code>"+code+"</code>") && !strings.Contains(a.body, "<form")
	for _, f := range fragments {
		ok = ok && strings.Contains(a.body, f)
	}
	if !ok {
		t.Errorf("%s: want the error page %d %s %q, got %d %v\n%s", what, status, code, fragments, a.status, a.header, a.body)
	}
}

// paddedDoc returns the JSON of a valid document for clientID padded with
// spaces to exactly n bytes.
func paddedDoc(t *testing.T, clientID string, n int) string {
	t.Helper()
	b, err := json.Marshal(clientDoc(clientID, cimdTestRedirect))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > n {
		t.Fatalf("document of %d bytes does not fit in %d", len(b), n)
	}
	return string(b[:len(b)-1]) + strings.Repeat(" ", n-len(b)) + "}"
}

// pageRecorder is an http.RoundTripper that keeps the bodies of the
// consent pages a browser was shown.
type pageRecorder struct {
	mu    sync.Mutex
	pages []string
}

func (p *pageRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/oauth/authorize") {
		return res, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	p.mu.Lock()
	p.pages = append(p.pages, string(b))
	p.mu.Unlock()
	return res, nil
}

// ---------------------------------------------------------------------------
// 1. The MCP Go SDK client identified by a metadata document

// TestCIMDMCPSDKFlow: the MCP Go SDK client configured with a client ID
// metadata document URL (an https host on loopback with a test CA) goes
// from the 401 through discovery (AS metadata advertising
// client_id_metadata_document_supported), authorization (consent page
// naming the document's host) and the token endpoint to tools/list,
// through the compiled filter, and never registers, although dynamic
// registration is configured on both sides. Wasm only: the document is
// fetched.
func TestCIMDMCPSDKFlow(t *testing.T) {
	t.Parallel()
	env := startCIMD(t, wasm, cimdOptions{extra: []string{`"timeout": "2s"`}})
	redirect := "http://127.0.0.1:45679/callback"
	clientID := env.docs.url("/mcp-client.json")
	doc := clientDoc(clientID, redirect)
	doc["client_name"] = "CIMD SDK client"
	env.docs.serveDoc("/mcp-client.json", doc)

	// AS metadata advertises CIMD.
	st, _, body := do(t, "GET", env.tg.base+"/.well-known/oauth-authorization-server", nil, nil)
	var asm map[string]any
	if st != 200 || json.Unmarshal(body, &asm) != nil || asm["client_id_metadata_document_supported"] != true {
		t.Fatalf("AS metadata: %d %s", st, body)
	}

	rec := &recorder{}
	httpClient := &http.Client{Transport: rec}
	b := newFormBrowser(t)
	pages := &pageRecorder{}
	b.client.Transport = pages
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		ClientIDMetadataDocumentConfig: &auth.ClientIDMetadataDocumentConfig{URL: clientID},
		// Also configured, to show the SDK prefers CIMD and the gateway
		// does not need registration: no POST /oauth/register may happen.
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName: "should not register", RedirectURIs: []string{redirect},
			GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "none",
		}},
		RedirectURL:              redirect,
		Client:                   httpClient,
		AuthorizationCodeFetcher: b.fetcher,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e-cimd", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: env.tg.base + "/mcp", HTTPClient: httpClient, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nrequests: %q", err, rec.lines())
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 3 {
		t.Fatalf("tools/list: %v", err)
	}

	for _, step := range []string{"POST /mcp -> 401", "GET /.well-known/oauth-protected-resource/mcp -> 200",
		"GET /.well-known/oauth-authorization-server -> 200", "POST /oauth/token -> 200"} {
		if rec.find(step) == "" {
			t.Errorf("flow lacks %q: %q", step, rec.lines())
		}
	}
	if l := rec.find("/register"); l != "" {
		t.Errorf("the client registered (%q): %q", l, rec.lines())
	}
	if b.pages != 1 || len(pages.pages) != 1 {
		t.Fatalf("consent pages shown: %d (%d recorded), want 1", b.pages, len(pages.pages))
	}
	host := net.JoinHostPort(env.docs.Hostname, strconv.Itoa(env.docs.Port))
	if page := pages.pages[0]; !strings.Contains(page, "published at <strong>"+host+"</strong>") || !strings.Contains(page, "CIMD SDK client") {
		t.Errorf("the consent page does not show the document's host %s and name:\n%s", host, page)
	}
	if l := rec.find("/oauth/authorize"); l != "" {
		t.Errorf("the SDK's HTTP client itself opened the authorization endpoint: %q", rec.lines())
	}

	// The document was fetched over the pinned egress, from the vetted
	// address, with SNI and Host naming the document host; at most once
	// per VM (authorize, then token on possibly the other VM).
	if n := env.docs.hits("/mcp-client.json"); n < 1 || n > 2 {
		t.Errorf("document fetched %d times, want 1 or 2 (one per VM at most)", n)
	}
	for _, r := range env.docs.requests() {
		if r.SNI != env.docs.Hostname || r.Host != host || r.Header.Get("X-Envoy-Original-Dst-Host") != "" {
			t.Errorf("document host saw %+v", r)
		}
	}
	for _, d := range env.dialed() {
		if d != env.docs.Addr {
			t.Errorf("cimd_egress dialed %s, want only %s", d, env.docs.Addr)
		}
	}
}

// ---------------------------------------------------------------------------
// 2. Refusals

// TestCIMDRefusesSpecialUseAnswers: when the DoH answers for a document
// host include a special-use address (10/8; 169.254.169.254; the
// IPv4-mapped ::ffff:10.0.0.1; the NAT64 64:ff9b::a00:1; 127/8 and ::1 when
// loopback is not allowed for tests), /authorize shows the error page and
// nothing is fetched: the document host (which listens on 127.0.0.1 and
// serves a valid document under every one of these names) sees no
// request and the egress cluster dials nothing. Each host also answers
// 127.0.0.1, which the test configuration allows, in a "mixed" variant:
// one good answer does not save a host with a bad one. The resolver must
// have been asked both questions (the refusal comes from vetting the
// answers, not from the URL). A valid document on an allowed answer is the
// control. Natively the egress is a tripwire that must not be called.
func TestCIMDRefusesSpecialUseAnswers(t *testing.T) {
	t.Parallel()
	forEachKind(t, func(t *testing.T, kind string) {
		t.Run("loopback allowed for tests", func(t *testing.T) {
			type tc struct {
				host    string
				answers []string
			}
			cases := []tc{
				{"ten.test", []string{"10.0.0.1"}},
				{"ten-mixed.test", []string{"127.0.0.1", "10.20.30.40"}},
				{"metadata.test", []string{"169.254.169.254"}},
				{"metadata-mixed.test", []string{"127.0.0.1", "169.254.169.254"}},
				{"mapped.test", []string{"::ffff:10.0.0.1"}},
				{"mapped-mixed.test", []string{"127.0.0.1", "::ffff:10.0.0.1"}},
				{"nat64.test", []string{"64:ff9b::a00:1"}},
				{"nat64-mixed.test", []string{"127.0.0.1", "64:ff9b::a00:1"}},
			}
			hosts := []string{"client.test"}
			for _, c := range cases {
				hosts = append(hosts, c.host)
			}
			env := startCIMD(t, kind, cimdOptions{vms: 1, hosts: hosts, extra: []string{`"timeout": "1s"`}})
			for _, c := range cases {
				env.doh.Set(c.host, c.answers...)
				path := "/" + c.host + ".json"
				u := env.hostURL(c.host, path)
				env.docs.serveDoc(path, clientDoc(u, cimdTestRedirect))
				a := env.authorize(t, u)
				wantErrorPage(t, c.host, a, 400, "invalid_client", "resolves to an address that is not allowed")
				if n := env.doh.Count(c.host); n != 2 {
					t.Errorf("%s: %d DoH queries, want 2 (A and AAAA)", c.host, n)
				}
				if n := env.docs.hits(path); n != 0 {
					t.Errorf("%s %v: the document was fetched %d times", c.host, c.answers, n)
				}
			}
			if d := env.dialed(); len(d) != 0 {
				t.Errorf("cimd_egress dialed %q", d)
			}
			if n := env.tripwire.Load(); n != 0 {
				t.Errorf("native egress called %d times", n)
			}
			// Control: the same setup fetches an allowed host.
			ctl := env.doc("/control.json")
			a := env.authorize(t, ctl)
			switch kind {
			case wasm:
				wantConsent(t, "control", a, net.JoinHostPort(env.docs.Hostname, strconv.Itoa(env.docs.Port)))
				if n := env.docs.hits("/control.json"); n != 1 {
					t.Errorf("control: %d fetches", n)
				}
				if d := env.dialed(); !slices.Equal(d, []string{env.docs.Addr}) {
					t.Errorf("control: cimd_egress dialed %q, want [%s]", d, env.docs.Addr)
				}
			case native:
				if n := env.tripwire.Load(); n != 1 {
					t.Errorf("control: native egress called %d times, want 1 (the tripwire is wired)", n)
				}
			}
		})

		t.Run("loopback not allowed", func(t *testing.T) {
			env := startCIMD(t, kind, cimdOptions{vms: 1, noLoopback: true,
				hosts: []string{"client.test", "loop.test", "loop6.test"}, extra: []string{`"timeout": "1s"`}})
			env.doh.Set("loop.test", "127.1.2.3")
			env.doh.Set("loop6.test", "::1")
			for _, host := range []string{"client.test", "loop.test", "loop6.test"} {
				// client.test resolves to 127.0.0.1, where the document
				// host really listens with a valid document.
				path := "/" + host + ".json"
				u := env.hostURL(host, path)
				env.docs.serveDoc(path, clientDoc(u, cimdTestRedirect))
				a := env.authorize(t, u)
				wantErrorPage(t, host, a, 400, "invalid_client", "resolves to an address that is not allowed")
				if n := env.doh.Count(host); n != 2 {
					t.Errorf("%s: %d DoH queries, want 2", host, n)
				}
			}
			if n := env.docs.totalHits(); n != 0 {
				t.Errorf("the document host received %d requests", n)
			}
			if d := env.dialed(); len(d) != 0 {
				t.Errorf("cimd_egress dialed %q", d)
			}
			if n := env.tripwire.Load(); n != 0 {
				t.Errorf("native egress called %d times", n)
			}
		})
	})
}

// TestCIMDFetchRefusals: documents that are fetched but refused, each with
// the error page and no Location: a 3xx of every kind (never followed: the
// target, which serves a document valid for the original URL, is never
// requested), a body trickled past the timeout, a body over max_bytes
// (with and without content-length), a client_id that differs from the URL
// by a trailing slash, case or percent-encoding, and documents with a
// client_secret. Every request the egress made went to the document host's
// vetted address. A document of exactly max_bytes is accepted. Wasm only.
func TestCIMDFetchRefusals(t *testing.T) {
	t.Parallel()
	env := startCIMD(t, wasm, cimdOptions{vms: 1, extra: []string{`"timeout": "1s"`, `"fetch_rate_per_minute": 600`}})
	docs := env.docs
	hostport := net.JoinHostPort(docs.Hostname, strconv.Itoa(docs.Port))

	t.Run("cases", func(t *testing.T) {
		t.Run("control", func(t *testing.T) {
			t.Parallel()
			wantConsent(t, "valid document", env.authorize(t, env.doc("/valid.json")), hostport)
		})

		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run("redirect "+strconv.Itoa(status), func(t *testing.T) {
				t.Parallel()
				from := "/moved-" + strconv.Itoa(status) + ".json"
				to := "/target-" + strconv.Itoa(status) + ".json"
				// The target is what a follower would accept: a document
				// whose client_id is the original URL.
				docs.serveDoc(to, clientDoc(docs.url(from), cimdTestRedirect))
				docs.redirect(from, status, docs.url(to))
				a := env.authorize(t, docs.url(from))
				wantErrorPage(t, from, a, 400, "invalid_client", "answered HTTP "+strconv.Itoa(status), "redirects are not followed")
				if docs.hits(from) != 1 || docs.hits(to) != 0 {
					t.Errorf("%d: %s fetched %d times, redirect target %d times; want 1 and 0", status, from, docs.hits(from), docs.hits(to))
				}
			})
		}

		t.Run("body past the deadline", func(t *testing.T) {
			t.Parallel()
			// 1600 bytes in 64-byte chunks every 150 ms: 3.6 s, timeout 1 s.
			body := paddedDoc(t, docs.url("/trickle.json"), 1600)
			docs.serveTrickle("/trickle.json", map[string]string{"Content-Type": "application/json"}, body, 150*time.Millisecond)
			a := env.authorize(t, docs.url("/trickle.json"))
			wantErrorPage(t, "trickle", a, 400, "invalid_client", "could not be fetched")
			if docs.hits("/trickle.json") != 1 {
				t.Errorf("trickle: %d requests", docs.hits("/trickle.json"))
			}
			if a.elapsed < time.Second || a.elapsed > 3*time.Second {
				t.Errorf("trickle: refused after %v; want after the 1s timeout and before the body ends", a.elapsed)
			}
		})

		t.Run("headers past the deadline", func(t *testing.T) {
			t.Parallel()
			body := paddedDoc(t, docs.url("/late.json"), 300)
			docs.respond("/late.json", cimdResponse{Headers: map[string]string{"Content-Type": "application/json"}, Body: body, Delay: 2500 * time.Millisecond})
			a := env.authorize(t, docs.url("/late.json"))
			wantErrorPage(t, "late", a, 400, "invalid_client", "could not be fetched")
			if a.elapsed > 2500*time.Millisecond {
				t.Errorf("late: refused after %v, want about 1s", a.elapsed)
			}
		})

		t.Run("size", func(t *testing.T) {
			t.Parallel()
			const limit = 5120 // the default max_bytes
			at := docs.url("/at-limit.json")
			docs.serveDoc("/at-limit.json", paddedDoc(t, at, limit))
			wantConsent(t, "document of exactly max_bytes", env.authorize(t, at), hostport)

			over := docs.url("/over.json")
			docs.serveDoc("/over.json", paddedDoc(t, over, limit+1))
			wantErrorPage(t, "max_bytes+1 with content-length", env.authorize(t, over), 400, "invalid_client", "larger than 5120 bytes")

			chunked := docs.url("/over-chunked.json")
			docs.respond("/over-chunked.json", cimdResponse{Headers: map[string]string{"Content-Type": "application/json"},
				Body: paddedDoc(t, chunked, 3*limit), Trickle: time.Nanosecond, Chunk: 4096})
			wantErrorPage(t, "3*max_bytes chunked", env.authorize(t, chunked), 400, "invalid_client", "larger than 5120 bytes")

			big := docs.url("/big.json")
			docs.serveOversized("/big.json", 6000, true)
			wantErrorPage(t, "serveOversized", env.authorize(t, big), 400, "invalid_client", "larger than 5120 bytes")
			for _, p := range []string{"/at-limit.json", "/over.json", "/over-chunked.json", "/big.json"} {
				if docs.hits(p) != 1 {
					t.Errorf("%s: %d requests", p, docs.hits(p))
				}
			}
		})

		// client_id must equal the URL byte for byte.
		type mismatch struct {
			name     string
			urlPath  string // the client_id's path (as sent)
			servedAt string // the path the server sees (decoded)
			docID    string // the document's client_id
		}
		base := "https://" + hostport
		upperHost := "https://" + net.JoinHostPort(strings.ToUpper(docs.Hostname), strconv.Itoa(docs.Port))
		for _, m := range []mismatch{
			{"trailing slash added", "/ts-a", "/ts-a", base + "/ts-a/"},
			{"trailing slash removed", "/ts-b/", "/ts-b/", base + "/ts-b"},
			{"host case", "/case-host.json", "/case-host.json", upperHost + "/case-host.json"},
			{"path case", "/case-path.json", "/case-path.json", base + "/CASE-path.json"},
			{"scheme case", "/case-scheme.json", "/case-scheme.json", "HTTPS://" + hostport + "/case-scheme.json"},
			{"percent-encoded in the URL", "/pct-%41.json", "/pct-A.json", base + "/pct-A.json"},
			{"percent-encoded in the document", "/pct-B.json", "/pct-B.json", base + "/pct-%42.json"},
			{"percent-encoding hex case", "/t%7Ea.json", "/t~a.json", base + "/t%7ea.json"},
			{"explicit default port", "/port.json", "/port.json", base + ":443/port.json"},
		} {
			t.Run("client_id "+m.name, func(t *testing.T) {
				t.Parallel()
				docs.serveDoc(m.servedAt, clientDoc(m.docID, cimdTestRedirect))
				a := env.authorize(t, base+m.urlPath)
				wantErrorPage(t, m.name, a, 400, "invalid_client", "does not equal the URL")
				if docs.hits(m.servedAt) != 1 {
					t.Errorf("%s: %d requests for %s", m.name, docs.hits(m.servedAt), m.servedAt)
				}
			})
		}

		for _, secret := range []struct {
			name  string
			value any
		}{{"client_secret", "s3cr3t"}, {"client_secret_expires_at", 0}} {
			t.Run("document with "+secret.name, func(t *testing.T) {
				t.Parallel()
				path := "/secret-" + secret.name + ".json"
				d := clientDoc(docs.url(path), cimdTestRedirect)
				d[secret.name] = secret.value
				docs.serveDoc(path, d)
				wantErrorPage(t, secret.name, env.authorize(t, docs.url(path)), 400, "invalid_client", "must not contain "+secret.name)
				if docs.hits(path) != 1 {
					t.Errorf("%s: %d requests", path, docs.hits(path))
				}
			})
		}

		// The same display rules as registration: a right-to-left override
		// or a zero-width space in client_name never reaches the consent page.
		for name, clientName := range map[string]string{"rtl": "Good\u202eName", "zwsp": "Pay\u200bPal"} {
			t.Run("client_name with "+name, func(t *testing.T) {
				t.Parallel()
				path := "/name-" + name + ".json"
				d := clientDoc(docs.url(path), cimdTestRedirect)
				d["client_name"] = clientName
				docs.serveDoc(path, d)
				wantErrorPage(t, name, env.authorize(t, docs.url(path)), 400, "invalid_client", "client_name contains control, invisible or bidirectional formatting characters")
			})
		}
	})

	for _, d := range env.dialed() {
		if d != docs.Addr {
			t.Errorf("cimd_egress dialed %s, want only %s", d, docs.Addr)
		}
	}
	for _, r := range docs.requests() {
		if r.SNI != docs.Hostname {
			t.Errorf("request for %s with SNI %q", r.Path, r.SNI)
		}
	}
}

// ---------------------------------------------------------------------------
// 3. DNS rebinding

// TestCIMDDNSRebinding: the resolver changes its answer right after the
// filter's last question (TTL 0 rebinding: client.test is 127.0.0.1 when
// vetted, 10.0.0.1 a moment later). The fetch still goes to the vetted
// address only, because the egress connection is pinned to it
// (x-envoy-original-dst-host), never resolved again; the forbidden address
// is never dialed. The next resolution sees 10.0.0.1 and is refused
// without any connection. A change between the A and the AAAA question is
// caught too: every answer of both is vetted. Wasm only.
func TestCIMDDNSRebinding(t *testing.T) {
	t.Parallel()
	env := startCIMD(t, wasm, cimdOptions{vms: 1, hosts: []string{"client.test", "split.test"}, extra: []string{`"timeout": "1s"`}})
	docs, doh := env.docs, env.doh
	doh.SetTTL(0)
	hostport := net.JoinHostPort(docs.Hostname, strconv.Itoa(docs.Port))

	// no-store: every authorization resolves and fetches again.
	u := docs.url("/rebind.json")
	docs.serve("/rebind.json", 200, map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		mustJSON(t, clientDoc(u, cimdTestRedirect)))
	var rebound atomic.Bool
	doh.OnQuery(func(q harnesstest.DoHQuery) {
		if q.Name == docs.Hostname && q.Type == dnsmessage.TypeAAAA && !rebound.Load() {
			// The AAAA answer is already computed (empty, NOERROR); from
			// now on client.test is 10.0.0.1.
			doh.Set(docs.Hostname, "10.0.0.1")
			rebound.Store(true)
		}
	})
	t.Cleanup(func() { doh.OnQuery(nil) })

	wantConsent(t, "authorize during rebinding", env.authorize(t, u), hostport)
	if !rebound.Load() {
		t.Fatal("the rebinding hook did not run")
	}
	if n := docs.hits("/rebind.json"); n != 1 {
		t.Errorf("document fetched %d times, want 1", n)
	}
	if d := env.dialed(); !slices.Equal(d, []string{docs.Addr}) {
		t.Errorf("cimd_egress dialed %q, want only the vetted %s", d, docs.Addr)
	}
	var logged []string
	for _, q := range doh.Queries() {
		logged = append(logged, q.Type.String()+"="+strings.Join(q.Answers, ","))
	}
	if !slices.Equal(logged, []string{"TypeA=127.0.0.1", "TypeAAAA="}) {
		t.Errorf("resolver log %q", logged)
	}

	// The next authorization resolves again, gets 10.0.0.1, is refused.
	a := env.authorize(t, u)
	wantErrorPage(t, "after rebinding", a, 400, "invalid_client", "resolves to an address that is not allowed")
	if n := docs.hits("/rebind.json"); n != 1 {
		t.Errorf("document fetched %d times after the refusal, want 1", n)
	}
	if d := env.dialed(); !slices.Equal(d, []string{docs.Addr}) {
		t.Errorf("cimd_egress dialed %q after the refusal, want only %s", d, docs.Addr)
	}

	// Rebinding between the A and the AAAA question: A says 127.0.0.1
	// (allowed), then the name gains ::ffff:10.0.0.1, which the AAAA
	// answer carries: refused, nothing fetched.
	doh.Set("split.test", "127.0.0.1")
	split := env.hostURL("split.test", "/split.json")
	docs.serveDoc("/split.json", clientDoc(split, cimdTestRedirect))
	doh.OnQuery(func(q harnesstest.DoHQuery) {
		if q.Name == "split.test" && q.Type == dnsmessage.TypeA {
			doh.Set("split.test", "127.0.0.1", "::ffff:10.0.0.1")
		}
	})
	wantErrorPage(t, "rebinding between A and AAAA", env.authorize(t, split), 400, "invalid_client", "resolves to an address that is not allowed")
	if n := docs.hits("/split.json"); n != 0 {
		t.Errorf("split.test: document fetched %d times", n)
	}
	if d := env.dialed(); !slices.Equal(d, []string{docs.Addr}) {
		t.Errorf("cimd_egress dialed %q, want only %s", d, docs.Addr)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// 4. Caching and shared fetches

// TestCIMDCache: with cache_min "0s" and cache_max "3s", on one VM (the
// cache is per VM): max-age is honoured (a second authorization within
// max-age fetches nothing, one after it fetches again); a longer max-age is
// lowered to cache_max; no-store and no-cache responses are fetched on
// every authorization; failures are never cached, even when the failing
// response says max-age=3600 (a 404, then the fixed document is fetched at
// once; the same for a document refused for its content). Wasm only.
func TestCIMDCache(t *testing.T) {
	t.Parallel()
	env := startCIMD(t, wasm, cimdOptions{vms: 1,
		extra: []string{`"timeout": "1s"`, `"cache_min": "0s"`, `"cache_max": "3s"`, `"fetch_rate_per_minute": 600`}})
	docs := env.docs
	hostport := net.JoinHostPort(docs.Hostname, strconv.Itoa(docs.Port))
	serveWith := func(path, cacheControl string) string {
		u := docs.url(path)
		docs.serve(path, 200, map[string]string{"Content-Type": "application/json", "Cache-Control": cacheControl},
			mustJSON(t, clientDoc(u, cimdTestRedirect)))
		return u
	}
	consentHits := func(t *testing.T, what, u, path string, want int) {
		t.Helper()
		wantConsent(t, what, env.authorize(t, u), hostport)
		if n := docs.hits(path); n != want {
			t.Errorf("%s: %d fetches of %s, want %d", what, n, path, want)
		}
	}

	t.Run("max-age honoured", func(t *testing.T) {
		t.Parallel()
		// max-age=2, less the age from the server's Date (whole seconds):
		// fresh for 1 to 2 s after the fetch.
		u := serveWith("/max-age.json", "max-age=2")
		consentHits(t, "first", u, "/max-age.json", 1)
		fetched := time.Now()
		consentHits(t, "within max-age", u, "/max-age.json", 1)
		time.Sleep(time.Until(fetched.Add(2200 * time.Millisecond)))
		consentHits(t, "after max-age", u, "/max-age.json", 2)
		consentHits(t, "within max-age again", u, "/max-age.json", 2)
	})

	t.Run("max-age lowered to cache_max", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		u := serveWith("/long.json", "public, max-age=86400")
		consentHits(t, "first", u, "/long.json", 1)
		fetched := time.Now()
		time.Sleep(time.Until(start.Add(2200 * time.Millisecond)))
		consentHits(t, "past max-age=2 but within cache_max", u, "/long.json", 1)
		time.Sleep(time.Until(fetched.Add(3200 * time.Millisecond)))
		consentHits(t, "after cache_max", u, "/long.json", 2)
	})

	t.Run("no-store honoured", func(t *testing.T) {
		t.Parallel()
		u := serveWith("/no-store.json", "no-store, max-age=3600")
		for i := 1; i <= 3; i++ {
			consentHits(t, "no-store #"+strconv.Itoa(i), u, "/no-store.json", i)
		}
		u = serveWith("/no-cache.json", "no-cache")
		for i := 1; i <= 2; i++ {
			consentHits(t, "no-cache #"+strconv.Itoa(i), u, "/no-cache.json", i)
		}
	})

	t.Run("errors not cached", func(t *testing.T) {
		t.Parallel()
		u := docs.url("/fixme.json")
		docs.serve("/fixme.json", 404, map[string]string{"Content-Type": "application/json", "Cache-Control": "max-age=3600"}, `{"error":"not here"}`)
		wantErrorPage(t, "404", env.authorize(t, u), 400, "invalid_client", "answered HTTP 404")
		wantErrorPage(t, "404 again", env.authorize(t, u), 400, "invalid_client", "answered HTTP 404")
		if n := docs.hits("/fixme.json"); n != 2 {
			t.Errorf("404 fetched %d times, want 2 (not cached)", n)
		}
		serveWith("/fixme.json", "max-age=3600")
		consentHits(t, "fixed", u, "/fixme.json", 3)
		consentHits(t, "fixed, now cached", u, "/fixme.json", 3)

		// A document refused for its content, served as cacheable.
		u = docs.url("/bad-then-good.json")
		bad := clientDoc(u, cimdTestRedirect)
		bad["client_secret"] = "oops"
		docs.serve("/bad-then-good.json", 200, map[string]string{"Content-Type": "application/json", "Cache-Control": "max-age=3600"}, mustJSON(t, bad))
		wantErrorPage(t, "invalid document", env.authorize(t, u), 400, "invalid_client", "must not contain client_secret")
		serveWith("/bad-then-good.json", "max-age=3600")
		consentHits(t, "fixed document", u, "/bad-then-good.json", 2)
	})
}

// gatedDoc answers a document only once released, and reports the first
// request: a slow document host whose answer the test controls.
type gatedDoc struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func serveGated(t *testing.T, docs *cimdHost, path string) (string, *gatedDoc) {
	u := docs.url(path)
	body := mustJSON(t, clientDoc(u, cimdTestRedirect))
	g := &gatedDoc{arrived: make(chan struct{}), release: make(chan struct{})}
	docs.respond(path, cimdResponse{Handler: func(w http.ResponseWriter, r *http.Request) {
		g.once.Do(func() { close(g.arrived) })
		select {
		case <-g.release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, body)
	}})
	return u, g
}

// concurrentAuthorize sends n authorization requests for clientID to base
// at once and releases the gated document once every request has been
// written to the gateway, the document host has its first request, and
// 300 ms more have passed. It returns the answers.
func concurrentAuthorize(t *testing.T, base, clientID string, n int, g *gatedDoc) []authzAnswer {
	t.Helper()
	u := cimdAuthorizeURL(base, clientID, cimdTestRedirect)
	answers := make([]authzAnswer, n)
	var written, done sync.WaitGroup
	written.Add(n)
	done.Add(n)
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
	for i := range n {
		go func() {
			defer done.Done()
			var once sync.Once
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(written.Done) },
			})
			req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
			res, err := client.Do(req)
			once.Do(written.Done)
			if err != nil {
				t.Errorf("authorize #%d: %v", i, err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers[i] = authzAnswer{status: res.StatusCode, header: res.Header, body: string(b)}
		}()
	}
	written.Wait()
	select {
	case <-g.arrived:
	case <-time.After(5 * time.Second):
		t.Error("the document was never requested")
	}
	time.Sleep(300 * time.Millisecond)
	close(g.release)
	done.Wait()
	return answers
}

// TestCIMDSharedFetch: 20 concurrent authorizations for one client_id
// while its document is slow to come. On one VM exactly one fetch is made
// (one A and one AAAA question too): the first request leads the fetch,
// the others park on it (authcore.Wait) and are woken by its result; all
// 20 get the consent page. On two VMs (round-robin) at most two fetches
// are made: the cache and the in-flight registry belong to each VM's
// engine (an Envoy worker's; VMs share no Go heap), so each VM fetches
// once and its own requests share that fetch.
//
// With the records in etcd, each woken request goes on to its own store
// callouts (the operators' admin state) from inside the leader's
// callback. Each such callout must belong to the request that made it:
// its response resumes that request and answers it, whatever became of
// the leader. (Through the SDK, a callout made after a wake-up was
// registered to the context whose callback ran, and the woken requests
// hung.) Wasm only.
func TestCIMDSharedFetch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		vms  int
		etcd bool
	}{{1, false}, {2, false}, {1, true}} {
		name := strconv.Itoa(c.vms) + " VMs"
		if c.etcd {
			name += ", etcd store"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := cimdOptions{vms: c.vms, extra: []string{`"timeout": "3s"`}}
			if c.etcd {
				o.etcd = oneEtcd(t).URL(0)
			}
			env := startCIMD(t, wasm, o)
			vms := c.vms
			hostport := net.JoinHostPort(env.docs.Hostname, strconv.Itoa(env.docs.Port))
			u, g := serveGated(t, env.docs, "/shared.json")
			answers := concurrentAuthorize(t, env.tg.base, u, 20, g)
			for i, a := range answers {
				if !a.isConsent(hostport) {
					t.Errorf("authorize #%d: %d %s", i, a.status, a.body)
				}
			}
			hits, queries := env.docs.hits("/shared.json"), env.doh.Count(env.docs.Hostname)
			t.Logf("%d VMs: %d fetches, %d DoH queries for 20 concurrent authorizations", vms, hits, queries)
			if hits < 1 || hits > vms {
				t.Errorf("%d VMs: %d fetches for 20 concurrent authorizations, want 1..%d", vms, hits, vms)
			}
			if queries != 2*hits {
				t.Errorf("%d DoH queries for %d fetches, want 2 per fetch", queries, hits)
			}
		})
	}
}

// TestCIMDAbandonedFetch: the client of the request that leads a document
// fetch goes away while the fetch is in flight. Its stream is deleted with
// the callout pending, other streams are served meanwhile, and when the
// document comes the engine still takes it (it is cached) while the gone
// stream's outcome is dropped: nothing else is answered with it, and the
// VM serves on. Wasm only (the filter's own ABI layer keeps such a
// stream's context out of reuse and hands the answer to the engine only).
func TestCIMDAbandonedFetch(t *testing.T) {
	t.Parallel()
	env := startCIMD(t, wasm, cimdOptions{vms: 1, extra: []string{`"timeout": "5s"`}})
	hostport := net.JoinHostPort(env.docs.Hostname, strconv.Itoa(env.docs.Port))
	u, g := serveGated(t, env.docs, "/abandoned.json")
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", cimdAuthorizeURL(env.tg.base, u, cimdTestRedirect), nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		abandoned <- err
	}()
	select {
	case <-g.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the document was never requested")
	}
	cancel()
	if err := <-abandoned; err == nil {
		t.Fatal("the abandoned authorization was answered")
	}
	tok := env.tg.mint(t, env.tg.base+"/mcp", "mcp:tools")
	mcp := func(when string) {
		t.Helper()
		if st, _, body := do(t, "POST", env.tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok)); st != 200 {
			t.Fatalf("MCP request %s: %d %s", when, st, body)
		}
	}
	mcp("while the abandoned fetch is in flight")
	close(g.release)
	// Whether the answer has reached the VM yet or not, the next
	// authorization is answered from that one fetch: from the cache, or
	// parked on the fetch and woken by its answer. (Dropped with the
	// stream, as the SDK did, the fetch stayed in flight until its
	// timeout, and the next authorization waited for it and fetched
	// again.)
	wantConsent(t, "the next authorization", env.authorize(t, u), hostport)
	mcp("after the abandoned fetch's answer")
	if hits := env.docs.hits("/abandoned.json"); hits != 1 {
		t.Errorf("%d fetches, want 1 (the abandoned one's document is cached)", hits)
	}
	if !env.tg.host.VM(0).Alive() {
		t.Fatalf("the VM died: %v", env.tg.host.VM(0).Err())
	}
}

// ---------------------------------------------------------------------------
// 5. URL checks

// TestCIMDURLChecks: client_id URLs that break the rules are refused with
// the error page before any I/O: no DoH question, no fetch (the document
// host counts every request, whatever its path). A valid URL is the control: it is resolved (and, in the
// wasm, fetched). Natively too, where the resolver is reachable over plain
// HTTP and the egress is a tripwire.
func TestCIMDURLChecks(t *testing.T) {
	t.Parallel()
	forEachKind(t, func(t *testing.T, kind string) {
		env := startCIMD(t, kind, cimdOptions{vms: 1, extra: []string{`"timeout": "1s"`}})
		docs := env.docs
		hp := net.JoinHostPort(docs.Hostname, strconv.Itoa(docs.Port))
		port := strconv.Itoa(docs.Port)
		docs.serveDoc("/c.json", clientDoc("https://"+hp+"/c.json", cimdTestRedirect))
		env.doh.Set("other.test", docs.IP)
		for _, c := range []struct{ why, id string }{
			{"http scheme", "http://" + hp + "/c.json"},
			{"upper-case scheme", "HTTPS://" + hp + "/c.json"},
			{"no path", "https://" + hp},
			{"path /", "https://" + hp + "/"},
			{"fragment", "https://" + hp + "/c.json#frag"},
			{"empty fragment", "https://" + hp + "/c.json#"},
			{"userinfo", "https://user@" + hp + "/c.json"},
			{"userinfo with password", "https://user:pw@" + hp + "/c.json"},
			{"dot-dot segment", "https://" + hp + "/a/../c.json"},
			{"dot segment", "https://" + hp + "/./c.json"},
			{"trailing dot-dot", "https://" + hp + "/a/.."},
			{"%2e%2e", "https://" + hp + "/a/%2e%2e/c.json"},
			{"%2E%2e", "https://" + hp + "/a/%2E%2e/c.json"},
			{".%2e", "https://" + hp + "/a/.%2e/c.json"},
			{"%2e", "https://" + hp + "/%2e/c.json"},
			{"..;param", "https://" + hp + "/a/..;x/c.json"},
			{"encoded slash", "https://" + hp + "/a%2fc.json"},
			{"query", "https://" + hp + "/c.json?v=1"},
			{"IPv4 literal", "https://" + net.JoinHostPort(docs.IP, port) + "/c.json"},
			{"IPv6 literal", "https://[::1]:" + port + "/c.json"},
			{"integer IPv4", "https://2130706433:" + port + "/c.json"},
			{"hex IPv4", "https://0x7f000001:" + port + "/c.json"},
			{"short IPv4", "https://127.1:" + port + "/c.json"},
			{"localhost", "https://localhost:" + port + "/c.json"},
			{"host not in allow_hosts", "https://other.test:" + port + "/c.json"},
			{"percent-encoded host", "https://client%2etest:" + port + "/c.json"},
			{"space", "https://" + hp + "/c .json"},
		} {
			before := len(env.doh.Queries())
			a := env.authorize(t, c.id)
			wantErrorPage(t, c.why+" "+c.id, a, 400, "invalid_client")
			if n := len(env.doh.Queries()); n != before {
				t.Errorf("%s %s: %d DoH questions asked", c.why, c.id, n-before)
			}
		}
		if n := docs.totalHits(); n != 0 {
			t.Errorf("the document host received %d requests: %+v", n, docs.requests())
		}
		if d := env.dialed(); len(d) != 0 {
			t.Errorf("cimd_egress dialed %q", d)
		}
		if n := env.tripwire.Load(); n != 0 {
			t.Errorf("native egress called %d times", n)
		}

		// Control: a valid URL is resolved, and fetched.
		a := env.authorize(t, "https://"+hp+"/c.json")
		if n := env.doh.Count(docs.Hostname); n != 2 {
			t.Errorf("control: %d DoH questions, want 2", n)
		}
		switch kind {
		case wasm:
			wantConsent(t, "control", a, hp)
			if n := docs.hits("/c.json"); n != 1 {
				t.Errorf("control: %d fetches", n)
			}
		case native:
			if n := env.tripwire.Load(); n != 1 {
				t.Errorf("control: native egress called %d times, want 1", n)
			}
		}
	})
}
