package e2e

// Test infrastructure for Client ID Metadata Documents: a test CA and an
// RFC 8484 DNS-over-HTTPS resolver (package harnesstest, shared with the
// harness's tests), an https host serving client
// metadata documents on loopback, and the harness clusters that connect
// them to the filter the way Envoy would (cimd_doh: the resolver;
// cimd_egress: ORIGINAL_DST pinned by x-envoy-original-dst-host, SNI and
// certificate check by the :authority host name).
//
// A CIMD test through the wasm typically does:
//
//	ca := harnesstest.NewCA(t)
//	doh := harnesstest.StartDoH(t, ca)
//	docs := startCIMDHost(t, ca)                  // client.test on 127.0.0.1:port
//	doh.Set(docs.Hostname, docs.IP)               // client.test A 127.0.0.1
//	docs.serveDoc("/client.json", clientDoc(docs.url("/client.json"), "http://127.0.0.1:9/cb"))
//	config := ... `"cimd": ` + cimdSection(doh, docs.Hostname) ...
//	tg := startTarget(t, wasm, config, targetOptions{harnessClusters: cimdClusters(doh, ca)})
//	... authorize with client_id=docs.url("/client.json") ...
//	docs.hits("/client.json"), doh.Count(docs.Hostname), tg.host.Dialed("cimd_egress")

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mcpgate/mcpgate/authcore"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
	"github.com/mcpgate/mcpgate/wazero-harness/harnesstest"
)

// ---------------------------------------------------------------------------
// The host serving client metadata documents

// cimdHost is an https server on 127.0.0.1:random with a certificate for
// its host names, serving what the test registers per path (404
// otherwise) and recording every request.
type cimdHost struct {
	// Hostname is the first host name, "client.test" by default: the host
	// of document URLs, the SNI expected and the name DoH must resolve.
	Hostname string
	// IP and Port are where the server listens (127.0.0.1); Addr is
	// "127.0.0.1:port", the address a pinned connection must reach.
	IP   string
	Port int
	Addr string

	t      testing.TB
	pool   *x509.CertPool
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]cimdResponse
	hitsBy map[string]int
	reqs   []cimdRequest
}

// cimdResponse describes how a path is answered.
type cimdResponse struct {
	Status  int               // default 200
	Headers map[string]string // set as given (a Content-Length too)
	Body    string
	// Delay holds back the status line and headers.
	Delay time.Duration
	// Trickle sends the headers at once, then the body in Chunk-byte pieces
	// (default 64) with Trickle between them, flushed (chunked encoding
	// unless Headers has a Content-Length).
	Trickle time.Duration
	Chunk   int
	// Handler, when set, answers instead of all the above.
	Handler http.HandlerFunc
}

// cimdRequest is one request the host received.
type cimdRequest struct {
	Path   string
	Host   string // the Host header (the callout's :authority)
	SNI    string // the TLS server name the client sent
	Header http.Header
	At     time.Time
}

// startCIMDHost starts the document host with a certificate from ca for
// hostnames (default "client.test").
func startCIMDHost(t testing.TB, ca *harnesstest.CA, hostnames ...string) *cimdHost {
	t.Helper()
	if len(hostnames) == 0 {
		hostnames = []string{"client.test"}
	}
	h := &cimdHost{Hostname: harnesstest.DNSName(hostnames[0]), t: t, pool: ca.Pool, routes: map[string]cimdResponse{}, hitsBy: map[string]int{}}
	h.srv = harnesstest.StartTLS(t, "127.0.0.1:0", ca.Issue(hostnames...), h)
	ap := netip.MustParseAddrPort(h.srv.Listener.Addr().String())
	h.IP, h.Port, h.Addr = ap.Addr().String(), int(ap.Port()), ap.String()
	return h
}

// url returns the https URL of path on the host, with its port:
// "https://client.test:PORT/path" (a client_id).
func (h *cimdHost) url(path string) string {
	return "https://" + net.JoinHostPort(h.Hostname, strconv.Itoa(h.Port)) + path
}

// respond registers how path is answered (replacing what it had).
func (h *cimdHost) respond(path string, r cimdResponse) {
	h.mu.Lock()
	h.routes[path] = r
	h.mu.Unlock()
}

// serve answers path with status, headers and body.
func (h *cimdHost) serve(path string, status int, headers map[string]string, body string) {
	h.respond(path, cimdResponse{Status: status, Headers: headers, Body: body})
}

// serveDoc answers path with 200, content-type application/json and doc
// marshalled as JSON (a string or []byte doc is served as is).
func (h *cimdHost) serveDoc(path string, doc any) {
	h.t.Helper()
	var body string
	switch d := doc.(type) {
	case string:
		body = d
	case []byte:
		body = string(d)
	default:
		b, err := json.Marshal(doc)
		if err != nil {
			h.t.Fatal(err)
		}
		body = string(b)
	}
	h.serve(path, http.StatusOK, map[string]string{"Content-Type": "application/json"}, body)
}

// serveTrickle answers path with 200 and headers at once, then body one
// chunk (64 bytes) every interval: a body that arrives past a deadline.
func (h *cimdHost) serveTrickle(path string, headers map[string]string, body string, every time.Duration) {
	h.respond(path, cimdResponse{Headers: headers, Body: body, Trickle: every})
}

// redirect answers path with status (301, 302, 303, 307, 308) and
// Location: location.
func (h *cimdHost) redirect(path string, status int, location string) {
	h.serve(path, status, map[string]string{"Location": location}, "")
}

// serveOversized answers path with a 200 application/json body of n bytes
// (a JSON object padded with spaces), with a Content-Length when
// withLength, chunked otherwise.
func (h *cimdHost) serveOversized(path string, n int, withLength bool) {
	body := `{"client_id":"x"` + strings.Repeat(" ", max(0, n-len(`{"client_id":"x"}`))) + "}"
	hdr := map[string]string{"Content-Type": "application/json"}
	if withLength {
		hdr["Content-Length"] = strconv.Itoa(len(body))
		h.serve(path, http.StatusOK, hdr, body)
		return
	}
	h.respond(path, cimdResponse{Headers: hdr, Body: body, Trickle: time.Nanosecond, Chunk: 4096})
}

// hits returns how many requests path received.
func (h *cimdHost) hits(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hitsBy[path]
}

// totalHits returns how many requests the host received.
func (h *cimdHost) totalHits() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

// requests returns every request received, in order.
func (h *cimdHost) requests() []cimdRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

// client returns an HTTP client that trusts the CA, follows no redirects
// and connects to this host whatever the URL's host resolves to.
func (h *cimdHost) client() *http.Client {
	addr := h.Addr
	tr := &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: h.pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (h *cimdHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := cimdRequest{Path: r.URL.Path, Host: r.Host, Header: r.Header.Clone(), At: time.Now()}
	if r.TLS != nil {
		rec.SNI = r.TLS.ServerName
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, rec)
	h.hitsBy[r.URL.Path]++
	resp, ok := h.routes[r.URL.Path]
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if resp.Handler != nil {
		resp.Handler(w, r)
		return
	}
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-r.Context().Done():
			return false
		}
	}
	if resp.Delay > 0 && !wait(resp.Delay) {
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if resp.Trickle <= 0 {
		if _, set := resp.Headers["Content-Length"]; !set {
			w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp.Body)
		return
	}
	w.WriteHeader(status)
	fl := w.(http.Flusher)
	fl.Flush()
	chunk := resp.Chunk
	if chunk <= 0 {
		chunk = 64
	}
	for body := resp.Body; body != ""; {
		n := min(chunk, len(body))
		if _, err := io.WriteString(w, body[:n]); err != nil {
			return
		}
		fl.Flush()
		body = body[n:]
		if body != "" && !wait(resp.Trickle) {
			return
		}
	}
}

// clientDoc returns a valid client metadata document for clientID (its
// URL) with the given redirect URIs: a public client (auth method none)
// using the authorization code grant.
func clientDoc(clientID string, redirectURIs ...string) map[string]any {
	return map[string]any{
		"client_id":                  clientID,
		"client_name":                "CIMD e2e client",
		"redirect_uris":              redirectURIs,
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	}
}

// ---------------------------------------------------------------------------
// Wiring

// cimdClusters returns the harness clusters of the CIMD pinned mode, named
// as the config defaults: cimd_doh (https to the resolver, SNI and
// certificate check for doh.Authority, trusting ca) and cimd_egress
// (ORIGINAL_DST over https: the connection goes to the callout's
// x-envoy-original-dst-host, SNI and certificate check by the :authority
// host, trusting ca).
func cimdClusters(doh *harnesstest.DoH, ca *harnesstest.CA) map[string]harness.Cluster {
	return map[string]harness.Cluster{
		"cimd_doh":    {URL: doh.URL, TLS: &tls.Config{RootCAs: ca.Pool, ServerName: doh.Authority}},
		"cimd_egress": {URL: "https://", OriginalDst: true, TLS: &tls.Config{RootCAs: ca.Pool}},
	}
}

// cimdSection returns the JSON of a "cimd" config section for pinned mode
// against doh, allowing only hosts and loopback answers (the test hosts
// listen on 127.0.0.1). Extra members (e.g. `"max_bytes": 1024`) are
// appended as given.
func cimdSection(doh *harnesstest.DoH, hosts []string, extra ...string) string {
	hs, _ := json.Marshal(hosts)
	s := fmt.Sprintf(`{"enabled": true, "doh_authority": %q, "doh_path": %q, "allow_hosts": %s, "allow_loopback_for_tests": true`,
		doh.Authority, doh.Path, hs)
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

// ---------------------------------------------------------------------------
// Self-test of the infrastructure

var (
	kitchenOnce  sync.Once
	kitchenBytes []byte
	kitchenErr   error
)

// kitchenWasm builds the harness's kitchen test filter, whose /callout
// route dispatches a callout with the given cluster, :authority and
// headers and reports the response as JSON.
func kitchenWasm(t testing.TB) []byte {
	t.Helper()
	kitchenOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-kitchen")
		if err != nil {
			kitchenErr = err
			return
		}
		out := filepath.Join(dir, "kitchen.wasm")
		if kitchenErr = harness.Build("../wazero-harness/testdata/kitchen", out); kitchenErr == nil {
			kitchenBytes, kitchenErr = os.ReadFile(out)
		}
		os.RemoveAll(dir)
	})
	if kitchenErr != nil {
		t.Fatalf("building the kitchen filter: %v", kitchenErr)
	}
	return kitchenBytes
}

// dohAsk sends one RFC 8484 query with client and parses the answer with
// dnsmessage.
func dohAsk(t *testing.T, client *http.Client, d *harnesstest.DoH, method, name string, qtype dnsmessage.Type, id uint16) (*http.Response, dnsmessage.Message) {
	t.Helper()
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name + "."), Type: qtype, Class: dnsmessage.ClassINET}},
	}
	raw, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, d.URL+d.Path+"?dns="+base64.RawURLEncoding.EncodeToString(raw), nil)
	} else {
		req, _ = http.NewRequest(method, d.URL+d.Path, strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/dns-message")
	}
	req.Header.Set("Accept", "application/dns-message")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("DoH %s %s: %v", method, name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m dnsmessage.Message
	if resp.StatusCode == 200 {
		if err := m.Unpack(body); err != nil {
			t.Fatalf("DoH answer for %s does not parse: %v", name, err)
		}
	}
	return resp, m
}

// answerAddrs lists the A/AAAA data and CNAME targets of an answer.
func answerAddrs(m dnsmessage.Message) []string {
	var out []string
	for _, rr := range m.Answers {
		switch b := rr.Body.(type) {
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(b.A).String())
		case *dnsmessage.AAAAResource:
			out = append(out, netip.AddrFrom16(b.AAAA).String())
		case *dnsmessage.CNAMEResource:
			out = append(out, "CNAME "+b.CNAME.String())
		}
	}
	return out
}

func TestCIMDInfra(t *testing.T) {
	t.Parallel()
	ca := harnesstest.NewCA(t)
	doh := harnesstest.StartDoH(t, ca)
	docs := startCIMDHost(t, ca)
	dohClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: doh.Authority}}}

	t.Run("DoH answers parse with dnsmessage", func(t *testing.T) {
		doh.Set(docs.Hostname, docs.IP)
		doh.Set("mapped.test", "::ffff:10.0.0.1", "64:ff9b::a00:1")
		doh.Set("empty.test")
		doh.SetCNAME("alias.test", docs.Hostname)
		doh.SetRcode("broken.test", dnsmessage.RCodeServerFailure)
		tests := []struct {
			method string
			name   string
			qtype  dnsmessage.Type
			rcode  dnsmessage.RCode
			want   []string
		}{
			{"GET", docs.Hostname, dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.0.0.1"}},
			{"POST", docs.Hostname, dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.0.0.1"}},
			{"GET", "CLIENT.Test", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.0.0.1"}},
			{"GET", docs.Hostname, dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, nil},
			{"GET", "mapped.test", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, []string{"::ffff:10.0.0.1", "64:ff9b::a00:1"}},
			{"GET", "mapped.test", dnsmessage.TypeA, dnsmessage.RCodeSuccess, nil},
			{"GET", "empty.test", dnsmessage.TypeA, dnsmessage.RCodeSuccess, nil},
			{"GET", "alias.test", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"CNAME client.test.", "127.0.0.1"}},
			{"GET", "nowhere.test", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil},
			{"GET", "broken.test", dnsmessage.TypeA, dnsmessage.RCodeServerFailure, nil},
		}
		for i, tt := range tests {
			id := uint16(i * 7)
			resp, m := dohAsk(t, dohClient, doh, tt.method, tt.name, tt.qtype, id)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/dns-message" || resp.Header.Get("Cache-Control") != "max-age=60" {
				t.Errorf("%s %s: %d %v", tt.method, tt.name, resp.StatusCode, resp.Header)
				continue
			}
			if !m.Response || m.ID != id || !m.RecursionAvailable || m.RCode != tt.rcode || len(m.Questions) != 1 ||
				!strings.EqualFold(m.Questions[0].Name.String(), tt.name+".") || m.Questions[0].Type != tt.qtype {
				t.Errorf("%s %s %v: header/question %+v %+v", tt.method, tt.name, tt.qtype, m.Header, m.Questions)
			}
			if got := answerAddrs(m); !slices.Equal(got, tt.want) {
				t.Errorf("%s %s %v: answers %q, want %q", tt.method, tt.name, tt.qtype, got, tt.want)
			}
		}
		// Runtime changes, and a hook that rebinds after the first answer.
		doh.Set(docs.Hostname, "10.0.0.1")
		if _, m := dohAsk(t, dohClient, doh, "GET", docs.Hostname, dnsmessage.TypeA, 0); !slices.Equal(answerAddrs(m), []string{"10.0.0.1"}) {
			t.Errorf("after set: %q", answerAddrs(m))
		}
		doh.Set("rebind.test", "127.0.0.1")
		doh.OnQuery(func(q harnesstest.DoHQuery) {
			if q.Name == "rebind.test" {
				doh.Set("rebind.test", "169.254.169.254")
			}
		})
		_, m1 := dohAsk(t, dohClient, doh, "GET", "rebind.test", dnsmessage.TypeA, 0)
		_, m2 := dohAsk(t, dohClient, doh, "GET", "rebind.test", dnsmessage.TypeA, 0)
		doh.OnQuery(nil)
		if a1, a2 := answerAddrs(m1), answerAddrs(m2); !slices.Equal(a1, []string{"127.0.0.1"}) || !slices.Equal(a2, []string{"169.254.169.254"}) {
			t.Errorf("rebinding: %q then %q", a1, a2)
		}
		doh.Remove("rebind.test")
		if _, m := dohAsk(t, dohClient, doh, "GET", "rebind.test", dnsmessage.TypeA, 0); m.RCode != dnsmessage.RCodeNameError {
			t.Errorf("after remove: %v", m.RCode)
		}
		if n := doh.Count("rebind.test"); n != 3 {
			t.Errorf("count(rebind.test) = %d, want 3", n)
		}
		last := doh.Queries()[len(doh.Queries())-1]
		if last.Method != "GET" || last.Accept != "application/dns-message" || last.RCode != dnsmessage.RCodeNameError {
			t.Errorf("last logged query %+v", last)
		}
		// Malformed requests.
		for _, target := range []string{doh.Path, doh.Path + "?dns=%%%", doh.Path + "?dns=AAAA"} {
			resp, err := dohClient.Get(doh.URL + target)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("GET %s: %d, want 400", target, resp.StatusCode)
			}
		}
		doh.Set(docs.Hostname, docs.IP)
	})

	t.Run("document host over net/http", func(t *testing.T) {
		c := docs.client()
		doc := clientDoc(docs.url("/client.json"), "http://127.0.0.1:9/callback")
		docs.serveDoc("/client.json", doc)
		docs.serve("/teapot", 418, map[string]string{"Content-Type": "text/plain"}, "short and stout")
		docs.redirect("/moved", 302, docs.url("/client.json"))
		docs.serveTrickle("/slow", map[string]string{"Content-Type": "application/json"}, strings.Repeat("x", 256), 50*time.Millisecond)
		docs.serveOversized("/big", 6000, false)
		docs.serveOversized("/big-cl", 6000, true)

		get := func(path string) (*http.Response, string) {
			t.Helper()
			resp, err := c.Get(docs.url(path))
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("GET %s body: %v", path, err)
			}
			return resp, string(b)
		}
		resp, body := get("/client.json")
		var got map[string]any
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &got) != nil || got["client_id"] != docs.url("/client.json") {
			t.Errorf("document: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if resp, body := get("/teapot"); resp.StatusCode != 418 || body != "short and stout" {
			t.Errorf("teapot: %d %q", resp.StatusCode, body)
		}
		if resp, _ := get("/moved"); resp.StatusCode != 302 || resp.Header.Get("Location") != docs.url("/client.json") {
			t.Errorf("redirect: %d %v", resp.StatusCode, resp.Header)
		}
		start := time.Now()
		if resp, body := get("/slow"); resp.StatusCode != 200 || len(body) != 256 || time.Since(start) < 150*time.Millisecond {
			t.Errorf("trickle: %d, %d bytes in %v", resp.StatusCode, len(body), time.Since(start))
		}
		if resp, body := get("/big"); len(body) != 6000 || resp.ContentLength != -1 || !json.Valid([]byte(body)) {
			t.Errorf("oversized chunked: %d bytes, content-length %d", len(body), resp.ContentLength)
		}
		if resp, body := get("/big-cl"); len(body) != 6000 || resp.ContentLength != 6000 {
			t.Errorf("oversized with length: %d bytes, content-length %d", len(body), resp.ContentLength)
		}
		if resp, _ := get("/unregistered"); resp.StatusCode != 404 {
			t.Errorf("unregistered path: %d", resp.StatusCode)
		}
		if docs.hits("/client.json") != 1 || docs.hits("/unregistered") != 1 {
			t.Errorf("hits %d %d", docs.hits("/client.json"), docs.hits("/unregistered"))
		}
		r := docs.requests()[0]
		if r.SNI != docs.Hostname || r.Host != net.JoinHostPort(docs.Hostname, strconv.Itoa(docs.Port)) {
			t.Errorf("first request: %+v", r)
		}
		// Another name fails verification.
		other := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "other.test"}}}
		if resp, err := other.Get("https://" + docs.Addr + "/client.json"); err == nil {
			resp.Body.Close()
			t.Error("the document host's certificate verified for other.test")
		}
	})

	t.Run("through harness callouts on cimdClusters", func(t *testing.T) {
		h, err := harness.New(context.Background(), harness.Options{
			Wasm:     kitchenWasm(t),
			VMs:      1,
			Clusters: cimdClusters(doh, ca),
			Log:      func(level int, msg string) { t.Logf("kitchen[%d]: %s", level, msg) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		callout := func(cluster, path, authority string, hdrs ...string) (status int, result map[string]any) {
			t.Helper()
			q := url.Values{"cluster": {cluster}, "path": {path}, "authority": {authority}, "timeout": {"3000"}, "hdr": hdrs}
			resp, err := http.Get(srv.URL + "/callout?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == 200 {
				if err := json.Unmarshal(b, &result); err != nil {
					t.Fatalf("kitchen: %s", b)
				}
			}
			return resp.StatusCode, result
		}

		// The resolver cluster: TLS verified for doh.test.
		query := dnsmessage.Message{Header: dnsmessage.Header{RecursionDesired: true},
			Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(docs.Hostname + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
		raw, _ := query.Pack()
		before := doh.Count(docs.Hostname)
		st, res := callout("cimd_doh", doh.Path+"?dns="+base64.RawURLEncoding.EncodeToString(raw), doh.Authority, "accept:application/dns-message")
		if st != 200 || res["status"] != "200" {
			t.Fatalf("DoH callout: %d %v", st, res)
		}
		if doh.Count(docs.Hostname) != before+1 {
			t.Error("the DoH server did not log the callout's query")
		} else if q := doh.Queries()[len(doh.Queries())-1]; q.Host != doh.Authority || q.Accept != "application/dns-message" || !slices.Equal(q.Answers, []string{docs.IP}) {
			t.Errorf("DoH logged %+v", q)
		}

		// The egress cluster, pinned to the document host's address, SNI
		// and certificate by name.
		docs.serveDoc("/pinned.json", clientDoc(docs.url("/pinned.json"), "http://127.0.0.1:9/callback"))
		authority := net.JoinHostPort(docs.Hostname, strconv.Itoa(docs.Port))
		st, res = callout("cimd_egress", "/pinned.json", authority, "x-envoy-original-dst-host:"+docs.Addr, "accept:application/json")
		if st != 200 || res["status"] != "200" || !strings.Contains(fmt.Sprint(res["body"]), docs.url("/pinned.json")) {
			t.Fatalf("egress callout: %d %v", st, res)
		}
		reqs := docs.requests()
		r := reqs[len(reqs)-1]
		if r.Path != "/pinned.json" || r.SNI != docs.Hostname || r.Host != authority || r.Header.Get("X-Envoy-Original-Dst-Host") != "" {
			t.Errorf("document host saw %+v", r)
		}
		if d := h.Dialed("cimd_egress"); !slices.Equal(d, []string{docs.Addr}) {
			t.Errorf("cimd_egress dialed %q, want [%s]", d, docs.Addr)
		}
		// Without the header: Envoy's 503, nothing dialed, nothing fetched.
		hits := docs.hits("/pinned.json")
		if st, res = callout("cimd_egress", "/pinned.json", authority); st != 200 || res["status"] != "503" || res["body"] != "no healthy upstream" {
			t.Errorf("egress callout without x-envoy-original-dst-host: %d %v", st, res)
		}
		if docs.hits("/pinned.json") != hits || len(h.Dialed("cimd_egress")) != 1 {
			t.Error("a callout without the header reached the document host")
		}
	})

	t.Run("cimdSection parses", func(t *testing.T) {
		var cfg map[string]any
		if err := json.Unmarshal([]byte(readConfig(t, "conformance.json")), &cfg); err != nil {
			t.Fatal(err)
		}
		var section any
		if err := json.Unmarshal([]byte(cimdSection(doh, []string{docs.Hostname}, `"max_bytes": 5120`)), &section); err != nil {
			t.Fatal(err)
		}
		cfg["cimd"] = section
		b, _ := json.Marshal(cfg)
		parsed, err := authcore.ParseConfig([]byte(strings.ReplaceAll(string(b), "{{BASE}}", "http://127.0.0.1:1")))
		if err != nil {
			t.Fatalf("config with cimdSection: %v", err)
		}
		c := parsed.CIMD
		if !c.Enabled || c.DoHAuthority != doh.Authority || c.DoHPath != doh.Path || !c.AllowLoopbackForTests ||
			!slices.Equal(c.AllowHosts, []string{docs.Hostname}) || c.EgressCluster != "cimd_egress" || c.DoHCluster != "cimd_doh" {
			t.Errorf("parsed cimd section: %+v", c)
		}
	})
}
