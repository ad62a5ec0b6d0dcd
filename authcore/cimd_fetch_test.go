package authcore

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mcpgate/mcpgate/authcore/internal/dnsmsg"
)

// cimdClock is a settable clock.
type cimdClock struct{ t time.Time }

func (c *cimdClock) now() time.Time          { return c.t }
func (c *cimdClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// cimdNet plays Envoy and the outside world for the fetch flow: a DoH
// resolver on cluster "cimd_doh" answering from a, aaaa and rcode, and a
// document server (serve) behind every other cluster. It records calls.
type cimdNet struct {
	t        *testing.T
	clock    *cimdClock
	a, aaaa  map[string][]string
	rcode    map[string]dnsmessage.RCode
	dohDelay time.Duration
	docDelay time.Duration
	// afterDNS runs after each DoH answer (to change DNS between check and
	// connect).
	afterDNS func()
	serve    func(c Call) CallResult
	calls    []Call
	docCalls []Call
}

func newCIMDNet(t *testing.T, clock *cimdClock) *cimdNet {
	return &cimdNet{
		t: t, clock: clock,
		a:     map[string][]string{"client.example.com": {"93.184.215.14"}},
		aaaa:  map[string][]string{},
		rcode: map[string]dnsmessage.RCode{},
		serve: docResponse(200, testDoc(nil), "cache-control", "max-age=600"),
	}
}

func (n *cimdNet) handle(c Call) CallResult {
	n.calls = append(n.calls, c)
	if c.Cluster != "cimd_doh" {
		n.clock.advance(n.docDelay)
		n.docCalls = append(n.docCalls, c)
		return n.serve(c)
	}
	n.clock.advance(n.dohDelay)
	_, q, ok := strings.Cut(c.Path, "?dns=")
	msg, err := base64.RawURLEncoding.DecodeString(q)
	if !ok || err != nil || len(msg) < 12 {
		n.t.Fatalf("bad DoH path %q", c.Path)
	}
	host, qtype := dnsTestQuestion(n.t, msg)
	src := n.a
	if qtype == dnsTypeAAAA {
		src = n.aaaa
	}
	var rrs []testRR
	for _, a := range src[host] {
		rrs = append(rrs, testRR{name: host, typ: qtype, ttl: 60, data: a})
	}
	res := CallResult{Status: 200, Headers: Header{{"content-type", "application/dns-message"}}, Body: dnsTestResponse(host, qtype, n.rcode[host], rrs...)}
	if n.afterDNS != nil {
		n.afterDNS()
	}
	return res
}

// drive performs Calls until the flow yields something else.
func (n *cimdNet) drive(o Outcome) Outcome {
	for {
		c, ok := o.(Call)
		if !ok {
			return o
		}
		o = c.Resume(n.handle(c))
	}
}

// docResponse serves body with status, content-type application/json, a
// correct content-length and the extra header pairs.
func docResponse(status int, body string, kv ...string) func(Call) CallResult {
	return func(Call) CallResult {
		h := Header{{"content-type", "application/json"}, {"content-length", strconv.Itoa(len(body))}}
		for i := 0; i+1 < len(kv); i += 2 {
			h = append(h, [2]string{kv[i], kv[i+1]})
		}
		return CallResult{Status: status, Headers: h, Body: []byte(body)}
	}
}

// cimdResult captures what a fetch's continuation received.
type cimdResult struct {
	doc   *CIMDDocument
	err   *Error
	calls int
}

// sentinel is the outcome the test continuation returns.
var cimdSentinel = Reply{Status: 299}

// cimdDone reports whether o is the test continuation's outcome.
func cimdDone(o Outcome) bool {
	r, ok := o.(Reply)
	return ok && r.Status == 299
}

func (r *cimdResult) then(d *CIMDDocument, e *Error) Outcome {
	r.doc, r.err = d, e
	r.calls++
	return cimdSentinel
}

func newCIMDEngine(t *testing.T, section string, clock *cimdClock, logs *[]string) *Engine {
	t.Helper()
	cfg, err := ParseConfig([]byte(cfgJSON(map[string]string{"cimd": section})))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{Now: clock.now, Log: func(_ LogLevel, msg string) {
		if logs != nil {
			*logs = append(*logs, msg)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const cimdOn = `{"enabled": true, "doh_authority": "dns.test"}`

func newCIMDTest(t *testing.T, section string) (*Engine, *cimdNet, *cimdClock) {
	clock := &cimdClock{t: time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)}
	return newCIMDEngine(t, section, clock, nil), newCIMDNet(t, clock), clock
}

// fetch runs one complete fetch of url and returns the result.
func (n *cimdNet) fetch(e *Engine, url string) *cimdResult {
	n.t.Helper()
	r := &cimdResult{}
	if o := n.drive(e.fetchCIMD(url, r.then)); !cimdDone(o) {
		n.t.Fatalf("fetch of %s ended in %#v", url, o)
	}
	if r.calls != 1 {
		n.t.Fatalf("continuation called %d times", r.calls)
	}
	return r
}

func TestFetchCIMDPinned(t *testing.T) {
	e, n, clock := newCIMDTest(t, cimdOn)
	r := n.fetch(e, testDocURL)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.doc.ClientID != testDocURL || r.doc.Host != "client.example.com" || !r.doc.FetchedAt.Equal(clock.t) || !r.doc.FreshUntil.Equal(clock.t.Add(10*time.Minute)) {
		t.Errorf("doc = %+v", r.doc)
	}
	if len(n.calls) != 3 {
		t.Fatalf("%d calls", len(n.calls))
	}
	for i, qt := range []dnsmsg.Type{dnsmsg.TypeA, dnsmsg.TypeAAAA} {
		c := n.calls[i]
		want, _ := dnsmsg.QueryPath("/dns-query", "client.example.com", qt)
		if c.Cluster != "cimd_doh" || c.Method != "GET" || c.Authority != "dns.test" || c.Path != want ||
			c.Headers.Get("accept") != "application/dns-message" || c.Timeout != 3*time.Second {
			t.Errorf("DoH call %d = %+v", i, c)
		}
	}
	c := n.calls[2]
	if c.Cluster != "cimd_egress" || c.Method != "GET" || c.Authority != "client.example.com" || c.Path != "/oauth/metadata.json" ||
		c.Headers.Get("x-envoy-original-dst-host") != "93.184.215.14:443" || c.Headers.Get("accept") != "application/json" ||
		c.Timeout != 3*time.Second || c.Body != nil {
		t.Errorf("document call = %+v", c)
	}
}

// TestFetchCIMDPinnedAddressAndPort: the pinned destination carries the
// URL's port, IPv6 is bracketed, IPv4 is preferred, :authority keeps the
// host name (for SNI and certificate verification).
func TestFetchCIMDPinnedAddressAndPort(t *testing.T) {
	cases := []struct {
		url, authority string
		a, aaaa        []string
		dst            string
	}{
		{"https://client.example.com:8443/m", "client.example.com:8443", []string{"93.184.215.14"}, nil, "93.184.215.14:8443"},
		{"https://Client.Example.com/m", "client.example.com", []string{"93.184.215.14"}, nil, "93.184.215.14:443"},
		{"https://client.example.com/m", "client.example.com", nil, []string{"2606:4700::6810:84e5"}, "[2606:4700::6810:84e5]:443"},
		{"https://client.example.com/m", "client.example.com", []string{"1.1.1.1", "1.0.0.1"}, []string{"2606:4700::1"}, "1.1.1.1:443"},
	}
	for _, tc := range cases {
		e, n, _ := newCIMDTest(t, cimdOn)
		n.a["client.example.com"], n.aaaa["client.example.com"] = tc.a, tc.aaaa
		n.serve = docResponse(200, testDoc(map[string]string{"client_id": `"` + tc.url + `"`}))
		r := n.fetch(e, tc.url)
		if r.err != nil {
			t.Errorf("%s: %v", tc.url, r.err)
			continue
		}
		c := n.docCalls[0]
		if c.Authority != tc.authority || c.Headers.Get("x-envoy-original-dst-host") != tc.dst || c.Headers.Count("x-envoy-original-dst-host") != 1 {
			t.Errorf("%s: authority %q dst %q", tc.url, c.Authority, c.Headers.Get("x-envoy-original-dst-host"))
		}
	}
}

// TestFetchCIMDRefusesSpecialUseAnswers: a host with any special-use
// answer is refused and the document server never sees a request (issue 5
// "Done when"; CIMD-01 §6.5).
func TestFetchCIMDRefusesSpecialUseAnswers(t *testing.T) {
	cases := []struct {
		name    string
		a, aaaa []string
	}{
		{"10/8", []string{"10.0.0.1"}, nil},
		{"127/8", []string{"127.0.0.1"}, nil},
		{"metadata", []string{"169.254.169.254"}, nil},
		{"CGNAT", []string{"100.64.0.1"}, nil},
		{"this network", []string{"0.0.0.0"}, nil},
		{"IPv4-mapped", nil, []string{"::ffff:10.0.0.1"}},
		{"NAT64", nil, []string{"64:ff9b::a00:1"}},
		{"6to4", nil, []string{"2002:a00:1::1"}},
		{"IPv6 loopback", nil, []string{"::1"}},
		{"link-local v6", nil, []string{"fe80::1"}},
		{"ULA", nil, []string{"fd00::1"}},
		{"AWS IPv6 metadata", nil, []string{"fd00:ec2::254"}},
		{"one bad A among good", []string{"8.8.8.8", "10.1.2.3"}, nil},
		{"good A, bad AAAA", []string{"8.8.8.8"}, []string{"fd12::1"}},
	}
	for _, tc := range cases {
		e, n, _ := newCIMDTest(t, cimdOn)
		n.a["client.example.com"], n.aaaa["client.example.com"] = tc.a, tc.aaaa
		r := n.fetch(e, testDocURL)
		if r.err == nil || r.err.Code != ErrCodeInvalidClient || !strings.Contains(r.err.Description, "not allowed") {
			t.Errorf("%s: err %v", tc.name, r.err)
		}
		if len(n.docCalls) != 0 {
			t.Errorf("%s: the document server was reached", tc.name)
		}
	}
}

// TestFetchCIMDRefusesOffChainAnswers: an A record for another name in the
// answer is vetted too.
func TestFetchCIMDRefusesOffChainAnswers(t *testing.T) {
	e, n, _ := newCIMDTest(t, cimdOn)
	n.a["client.example.com"] = []string{"8.8.8.8"}
	n.serve = docResponse(200, testDoc(nil))
	r := &cimdResult{}
	o := e.fetchCIMD(testDocURL, r.then)
	// Answer the A query with the good record plus a private one for a
	// name off the chain.
	c := o.(Call)
	body := dnsTestResponse("client.example.com", dnsTypeA, 0,
		testRR{name: "client.example.com", typ: dnsTypeA, ttl: 5, data: "8.8.8.8"},
		testRR{name: "internal.example.com", typ: dnsTypeA, ttl: 5, data: "10.0.0.1"})
	o = c.Resume(CallResult{Status: 200, Headers: Header{{"content-type", "application/dns-message"}}, Body: body})
	n.drive(o)
	if r.err == nil || !strings.Contains(r.err.Description, "not allowed") || len(n.docCalls) != 0 {
		t.Errorf("err %v, doc calls %d", r.err, len(n.docCalls))
	}
}

func TestFetchCIMDLoopbackForTests(t *testing.T) {
	const url = "https://client.test/metadata.json"
	doc := testDoc(map[string]string{"client_id": `"` + url + `"`})
	section := `{"enabled": true, "doh_authority": "dns.test", "allow_hosts": ["client.test"], "allow_loopback_for_tests": true}`
	for _, tc := range []struct {
		name, section string
		a, aaaa       []string
		ok            bool
		dst           string
	}{
		{"exception on, 127.0.0.1", section, []string{"127.0.0.1"}, nil, true, "127.0.0.1:443"},
		{"exception on, ::1", section, nil, []string{"::1"}, true, "[::1]:443"},
		{"exception on, 10.0.0.1 still refused", section, []string{"10.0.0.1"}, nil, false, ""},
		{"exception on, mapped loopback refused", section, nil, []string{"::ffff:127.0.0.1"}, false, ""},
		{"exception off", `{"enabled": true, "doh_authority": "dns.test", "allow_hosts": ["client.test"]}`, []string{"127.0.0.1"}, nil, false, ""},
	} {
		clock := &cimdClock{t: time.Unix(1e9, 0)}
		var logs []string
		e := newCIMDEngine(t, tc.section, clock, &logs)
		n := newCIMDNet(t, clock)
		n.a["client.test"], n.aaaa["client.test"] = tc.a, tc.aaaa
		n.serve = docResponse(200, doc)
		r := n.fetch(e, url)
		if (r.err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, r.err)
			continue
		}
		if tc.ok {
			if n.docCalls[0].Headers.Get("x-envoy-original-dst-host") != tc.dst {
				t.Errorf("%s: dst %q", tc.name, n.docCalls[0].Headers.Get("x-envoy-original-dst-host"))
			}
			if !strings.Contains(strings.Join(logs, "\n"), "TEST-ONLY allow_loopback_for_tests") {
				t.Errorf("%s: no loud log: %q", tc.name, logs)
			}
		} else if len(n.docCalls) != 0 {
			t.Errorf("%s: document server reached", tc.name)
		}
	}
}

// TestFetchCIMDDNSRebinding: the connection is pinned to the address that
// was vetted; an answer that changes after the check never reaches the
// egress call, and a later fetch vets the new answer.
func TestFetchCIMDDNSRebinding(t *testing.T) {
	e, n, _ := newCIMDTest(t, cimdOn)
	n.serve = docResponse(200, testDoc(nil), "cache-control", "no-store")
	n.afterDNS = func() { n.a["client.example.com"] = []string{"10.0.0.1"} }
	r := n.fetch(e, testDocURL)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if dst := n.docCalls[0].Headers.Get("x-envoy-original-dst-host"); dst != "93.184.215.14:443" {
		t.Fatalf("connection not pinned to the vetted address: %q", dst)
	}
	if n.docCalls[0].Cluster != "cimd_egress" {
		t.Fatalf("cluster %q", n.docCalls[0].Cluster)
	}
	r = n.fetch(e, testDocURL)
	if r.err == nil || len(n.docCalls) != 1 {
		t.Fatalf("rebound answer not refused: %v, %d document calls", r.err, len(n.docCalls))
	}
}

func TestFetchCIMDResolutionFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(n *cimdNet)
		code  string
		desc  string
		calls int
	}{
		{"NXDOMAIN stops after A", func(n *cimdNet) { n.rcode["client.example.com"] = 3 }, ErrCodeInvalidClient, "does not exist", 1},
		{"SERVFAIL", func(n *cimdNet) { n.rcode["client.example.com"] = 2 }, ErrCodeTemporarilyUnavailable, "could not be resolved", 1},
		{"no address", func(n *cimdNet) { n.a["client.example.com"] = nil }, ErrCodeInvalidClient, "has no address", 2},
		{"slow resolver", func(n *cimdNet) { n.dohDelay = 4 * time.Second }, ErrCodeTemporarilyUnavailable, "could not be resolved", 1},
	}
	for _, tc := range cases {
		e, n, _ := newCIMDTest(t, cimdOn)
		tc.setup(n)
		r := n.fetch(e, testDocURL)
		if r.err == nil || r.err.Code != tc.code || !strings.Contains(r.err.Description, tc.desc) || len(n.calls) != tc.calls || len(n.docCalls) != 0 {
			t.Errorf("%s: err %v, %d calls", tc.name, r.err, len(n.calls))
		}
	}
	// Resolver transport failures.
	for _, res := range []CallResult{
		{Err: fmt.Errorf("reset")},
		{Status: 503, Headers: Header{{"content-type", "application/dns-message"}}, Body: dnsTestResponse("client.example.com", dnsTypeA, 0, testRR{name: "client.example.com", typ: dnsTypeA, ttl: 5, data: "8.8.8.8"})},
		{Status: 200, Headers: Header{{"content-type", "text/html"}}, Body: []byte("<html>")},
		{Status: 200, Body: dnsTestResponse("client.example.com", dnsTypeA, 0)},
		{Status: 200, Headers: Header{{"content-type", "application/dns-message"}}, Body: make([]byte, dnsmsg.MaxMessage+1)},
	} {
		e, _, _ := newCIMDTest(t, cimdOn)
		r := &cimdResult{}
		o := e.fetchCIMD(testDocURL, r.then).(Call).Resume(res)
		if !cimdDone(o) || r.err == nil || r.err.Code != ErrCodeTemporarilyUnavailable {
			t.Errorf("%+v: outcome %T err %v", res.Status, o, r.err)
		}
	}
}

// TestFetchCIMDResponseRules: CIMD-01 §4 and §6.5-6.6 on the document
// response; every failure leaves the cache empty.
func TestFetchCIMDResponseRules(t *testing.T) {
	good := testDoc(nil)
	big := testDoc(map[string]string{"software_id": `"` + strings.Repeat("x", 5120) + `"`})
	exact := testDoc(map[string]string{"software_id": `"` + strings.Repeat("x", 5120-len(testDoc(map[string]string{"software_id": `""`}))) + `"`})
	if len(exact) != 5120 {
		t.Fatalf("exact doc is %d bytes", len(exact))
	}
	raw := func(status int, body string, h ...[2]string) func(Call) CallResult {
		return func(Call) CallResult { return CallResult{Status: status, Headers: h, Body: []byte(body)} }
	}
	ct := [2]string{"content-type", "application/json"}
	cases := []struct {
		name  string
		serve func(Call) CallResult
		delay time.Duration
		desc  string // "" means accepted
	}{
		{"ok", docResponse(200, good), 0, ""},
		{"charset parameter", raw(200, good, [2]string{"content-type", "Application/JSON; charset=utf-8"}), 0, ""},
		{"+json media type", raw(200, good, [2]string{"content-type", "application/oauth-client-metadata+json"}), 0, ""},
		{"exactly max_bytes", docResponse(200, exact), 0, ""},
		{"identity encoding", docResponse(200, good, "content-encoding", "identity"), 0, ""},
		{"302", docResponse(302, "", "location", "https://169.254.169.254/"), 0, "HTTP 302; redirects are not followed"},
		{"301", docResponse(301, good), 0, "HTTP 301"},
		{"307", docResponse(307, good), 0, "HTTP 307"},
		{"308", docResponse(308, good), 0, "HTTP 308"},
		{"304", docResponse(304, ""), 0, "HTTP 304"},
		{"404", docResponse(404, good), 0, "HTTP 404"},
		{"500", docResponse(500, good), 0, "HTTP 500"},
		{"201", docResponse(201, good), 0, "HTTP 201"},
		{"no response", func(Call) CallResult { return CallResult{Err: fmt.Errorf("upstream connect error")} }, 0, "could not be fetched"},
		{"body past the deadline", docResponse(200, good), 3*time.Second + time.Millisecond, "could not be fetched within 3s"},
		{"Envoy's timeout reply", docResponse(504, "upstream request timeout"), 3 * time.Second, "could not be fetched within 3s"},
		{"Envoy's connection failure reply", docResponse(503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure"), 0, "could not be fetched (HTTP 503"},
		{"oversized body", docResponse(200, big), 0, "larger than 5120 bytes"},
		{"oversized, truncated by the host", raw(200, good, ct, [2]string{"content-length", "100000"}), 0, "larger than 5120 bytes"},
		{"oversized body, no content-length", raw(200, big, ct), 0, "larger than 5120 bytes"},
		{"content-length short of the body", raw(200, good, ct, [2]string{"content-length", "10"}), 0, "truncated"},
		{"content-length past the body", raw(200, good, ct, [2]string{"content-length", strconv.Itoa(len(good) + 1)}), 0, "truncated"},
		{"content-length invalid", raw(200, good, ct, [2]string{"content-length", "12a"}), 0, "invalid content-length"},
		{"content-length negative", raw(200, good, ct, [2]string{"content-length", "-1"}), 0, "invalid content-length"},
		{"content-length conflicting", raw(200, good, ct, [2]string{"content-length", strconv.Itoa(len(good))}, [2]string{"content-length", "5"}), 0, "truncated"},
		{"gzip", docResponse(200, good, "content-encoding", "gzip"), 0, "content-encoding"},
		{"html", raw(200, good, [2]string{"content-type", "text/html"}), 0, "not served as JSON"},
		{"no content-type", raw(200, good), 0, "not served as JSON"},
		{"text/json", raw(200, good, [2]string{"content-type", "text/json"}), 0, "not served as JSON"},
		{"two content-types", raw(200, good, ct, ct), 0, "not served as JSON"},
		{"not JSON", docResponse(200, "client_id=x"), 0, "not valid JSON"},
		{"client_id with trailing slash", docResponse(200, testDoc(map[string]string{"client_id": `"` + testDocURL + `/"`})), 0, "does not equal"},
		{"client_id differing in case", docResponse(200, testDoc(map[string]string{"client_id": `"https://client.example.com/OAuth/metadata.json"`})), 0, "does not equal"},
		{"client_id percent-encoded", docResponse(200, testDoc(map[string]string{"client_id": `"https://client.example.com/oauth/%6Detadata.json"`})), 0, "does not equal"},
		{"secret", docResponse(200, testDoc(map[string]string{"client_secret": `"x"`})), 0, "client_secret"},
		{"client_secret_basic", docResponse(200, testDoc(map[string]string{"token_endpoint_auth_method": `"client_secret_basic"`})), 0, "shared secret"},
	}
	for _, tc := range cases {
		e, n, _ := newCIMDTest(t, cimdOn)
		n.serve, n.docDelay = tc.serve, tc.delay
		r := n.fetch(e, testDocURL)
		switch {
		case tc.desc == "" && r.err != nil:
			t.Errorf("%s: %v", tc.name, r.err)
		case tc.desc != "" && (r.err == nil || r.err.Code != ErrCodeInvalidClient || !strings.Contains(r.err.Description, tc.desc)):
			t.Errorf("%s: err %v, want %q", tc.name, r.err, tc.desc)
		case tc.desc != "" && (e.cimd.cache[testDocURL] != nil || r.doc != nil):
			t.Errorf("%s: failure cached or returned", tc.name)
		}
	}
}

// TestFetchCIMDURLRefusedWithoutIO: URLs that break the rules never cause
// a call (CIMD §3).
func TestFetchCIMDURLRefusedWithoutIO(t *testing.T) {
	for _, url := range []string{
		"https://client.example.com/a#frag", "https://user@client.example.com/x", "https://client.example.com/a/../x",
		"http://client.example.com/x", "https://client.example.com", "https://client.example.com/", "https://2130706433/x",
		"https://10.0.0.1/x", "https://[::1]/x", "https://client.example.com/x?y=1", "https://foo.internal/x",
	} {
		e, n, _ := newCIMDTest(t, cimdOn)
		r := n.fetch(e, url)
		if r.err == nil || r.err.Code != ErrCodeInvalidClient || len(n.calls) != 0 {
			t.Errorf("%s: err %v, %d calls", url, r.err, len(n.calls))
		}
	}
	// Host policy also applies before any I/O.
	e, n, _ := newCIMDTest(t, `{"enabled": true, "doh_authority": "dns.test", "deny_hosts": ["*.example.com"]}`)
	if r := n.fetch(e, testDocURL); r.err == nil || len(n.calls) != 0 {
		t.Errorf("denied host: %v, %d calls", r.err, len(n.calls))
	}
	// Disabled CIMD fetches nothing.
	e, n, _ = newCIMDTest(t, `{}`)
	if r := n.fetch(e, testDocURL); r.err == nil || !strings.Contains(r.err.Description, "not supported") || len(n.calls) != 0 {
		t.Errorf("disabled: %v, %d calls", r.err, len(n.calls))
	}
}

func TestFetchCIMDForwardProxy(t *testing.T) {
	e, n, _ := newCIMDTest(t, `{"enabled": true, "mode": "forward_proxy", "forward_proxy_cluster": "dfp", "timeout": "2s"}`)
	n.a["client.example.com"] = []string{"10.0.0.1"} // never consulted
	r := n.fetch(e, "https://client.example.com:8443/m")
	if r.err == nil || !strings.Contains(r.err.Description, "does not equal") {
		// the served document names testDocURL: expected mismatch
		t.Fatalf("err %v", r.err)
	}
	if len(n.calls) != 1 {
		t.Fatalf("%d calls", len(n.calls))
	}
	c := n.calls[0]
	if c.Cluster != "dfp" || c.Authority != "client.example.com:8443" || c.Path != "/m" || c.Timeout != 2*time.Second ||
		c.Headers.Get("x-envoy-original-dst-host") != "" {
		t.Errorf("call = %+v", c)
	}
	e, n, _ = newCIMDTest(t, `{"enabled": true, "mode": "forward_proxy", "forward_proxy_cluster": "dfp"}`)
	if r := n.fetch(e, testDocURL); r.err != nil {
		t.Error(r.err)
	}
}

func TestFetchCIMDCache(t *testing.T) {
	e, n, clock := newCIMDTest(t, cimdOn)
	if r := n.fetch(e, testDocURL); r.err != nil {
		t.Fatal(r.err)
	}
	// max-age=600: served from the cache, no call, a fresh copy each time.
	clock.advance(9 * time.Minute)
	r := n.fetch(e, testDocURL)
	if r.err != nil || len(n.calls) != 3 {
		t.Fatalf("cache miss: %v, %d calls", r.err, len(n.calls))
	}
	r.doc.RedirectURIs[0] = "https://evil.example/cb"
	if r2 := n.fetch(e, testDocURL); r2.doc.RedirectURIs[0] != "http://127.0.0.1/callback" {
		t.Fatal("a caller's change reached the cache")
	}
	// Expired: fetched again.
	clock.advance(61 * time.Second)
	if r := n.fetch(e, testDocURL); r.err != nil || len(n.docCalls) != 2 {
		t.Fatalf("expired entry served: %v, %d document calls", r.err, len(n.docCalls))
	}

	// no-store: never cached.
	e, n, _ = newCIMDTest(t, cimdOn)
	n.serve = docResponse(200, testDoc(nil), "cache-control", "no-store, max-age=600")
	n.fetch(e, testDocURL)
	if len(e.cimd.cache) != 0 {
		t.Fatal("no-store response stored")
	}
	n.fetch(e, testDocURL)
	if len(n.docCalls) != 2 {
		t.Fatalf("no-store cached: %d document calls", len(n.docCalls))
	}

	// Errors are not cached: a 404, then the document.
	e, n, _ = newCIMDTest(t, cimdOn)
	n.serve = docResponse(404, "")
	if r := n.fetch(e, testDocURL); r.err == nil {
		t.Fatal("404 accepted")
	}
	n.serve = docResponse(200, testDoc(nil), "cache-control", "max-age=600")
	if r := n.fetch(e, testDocURL); r.err != nil || len(n.docCalls) != 2 {
		t.Fatalf("error cached: %v", r.err)
	}
	// Invalid documents are not cached either.
	e, n, _ = newCIMDTest(t, cimdOn)
	n.serve = docResponse(200, testDoc(map[string]string{"client_secret": `"x"`}), "cache-control", "max-age=600")
	n.fetch(e, testDocURL)
	n.fetch(e, testDocURL)
	if len(n.docCalls) != 2 {
		t.Fatalf("invalid document cached")
	}
}

func TestCIMDCacheBounded(t *testing.T) {
	s := &cimdState{}
	now := time.Unix(1e9, 0)
	doc := &CIMDDocument{}
	for i := 0; i <= cimdCacheEntries; i++ {
		s.cachePut("https://c"+strconv.Itoa(i)+".example/x", doc, now.Add(time.Hour))
		if i == 10 {
			s.cacheGet("https://c0.example/x", now) // keep c0 recent
		}
	}
	if len(s.cache) != cimdCacheEntries || s.lru.Len() != cimdCacheEntries {
		t.Fatalf("cache holds %d", len(s.cache))
	}
	if s.cacheGet("https://c0.example/x", now) == nil || s.cacheGet("https://c1.example/x", now) != nil {
		t.Error("not least-recently-used eviction")
	}
	if s.cacheGet("https://c2.example/x", now.Add(time.Hour)) != nil || s.cache["https://c2.example/x"] != nil {
		t.Error("expired entry served or kept")
	}
}

// TestFetchCIMDRateLimit: the 11th fetch of one URL within a minute is
// throttled without any call; cache hits do not count; other URLs are not
// affected; the window slides.
func TestFetchCIMDRateLimit(t *testing.T) {
	e, n, clock := newCIMDTest(t, cimdOn)
	n.serve = docResponse(200, testDoc(nil), "cache-control", "no-store")
	for i := 0; i < 10; i++ {
		if r := n.fetch(e, testDocURL); r.err != nil {
			t.Fatalf("fetch %d: %v", i+1, r.err)
		}
		clock.advance(time.Second)
	}
	before := len(n.calls)
	r := n.fetch(e, testDocURL)
	if r.err == nil || r.err.Code != ErrCodeTemporarilyUnavailable || len(n.calls) != before {
		t.Fatalf("11th fetch: %v, %d new calls", r.err, len(n.calls)-before)
	}
	// Another URL is not throttled.
	other := "https://client.example.com/other"
	n.serve = docResponse(200, testDoc(map[string]string{"client_id": `"` + other + `"`}), "cache-control", "no-store")
	if r := n.fetch(e, other); r.err != nil {
		t.Fatal(r.err)
	}
	// A minute after the first fetch, one slot is free again.
	n.serve = docResponse(200, testDoc(nil), "cache-control", "no-store")
	clock.advance(50 * time.Second)
	if r := n.fetch(e, testDocURL); r.err != nil {
		t.Fatalf("after the window: %v", r.err)
	}
	if r := n.fetch(e, testDocURL); r.err == nil {
		t.Fatal("second fetch after the window not throttled")
	}

	// Failures count too.
	e, n, _ = newCIMDTest(t, `{"enabled": true, "doh_authority": "dns.test", "fetch_rate_per_minute": 2}`)
	n.serve = docResponse(404, "")
	n.fetch(e, testDocURL)
	n.fetch(e, testDocURL)
	if r := n.fetch(e, testDocURL); r.err == nil || r.err.Code != ErrCodeTemporarilyUnavailable {
		t.Fatalf("third failing fetch: %v", r.err)
	}
}

func TestCIMDRateTableBounded(t *testing.T) {
	s := &cimdState{}
	now := time.Unix(1e9, 0)
	for i := 0; i < cimdRateEntries; i++ {
		if !s.rateAllow("u"+strconv.Itoa(i), now, 10) {
			t.Fatal("refused below the bound")
		}
	}
	if s.rateAllow("new", now, 10) {
		t.Fatal("table grew past its bound")
	}
	if !s.rateAllow("u1", now, 10) {
		t.Fatal("known URL refused")
	}
	// A minute later the old entries are swept.
	if !s.rateAllow("new", now.Add(time.Minute), 10) || len(s.rate) > 2 {
		t.Fatalf("not swept: %d entries", len(s.rate))
	}
}

// startWaiters starts the leader and n-1 concurrent fetches of the same
// URL; it returns the leader's Call and the waiters' tickets.
func startWaiters(t *testing.T, e *Engine, url string, results []*cimdResult) (Call, []uint64) {
	t.Helper()
	o := e.fetchCIMD(url, results[0].then)
	lead, ok := o.(Call)
	if !ok {
		t.Fatalf("leader got %T", o)
	}
	var tickets []uint64
	for _, r := range results[1:] {
		w, ok := e.fetchCIMD(url, r.then).(Wait)
		if !ok || w.Ticket == 0 {
			t.Fatalf("waiter got %#v", w)
		}
		tickets = append(tickets, w.Ticket)
	}
	return lead, tickets
}

func newResults(n int) []*cimdResult {
	rs := make([]*cimdResult, n)
	for i := range rs {
		rs[i] = &cimdResult{}
	}
	return rs
}

// TestFetchCIMDSharedFetch: N concurrent authorizations for one URL make
// one fetch; every one gets its own copy of the document.
func TestFetchCIMDSharedFetch(t *testing.T) {
	e, n, _ := newCIMDTest(t, cimdOn)
	rs := newResults(5)
	lead, tickets := startWaiters(t, e, testDocURL, rs)
	if w := e.Woken(); len(w) != 0 {
		t.Fatalf("woken before the fetch completed: %v", w)
	}
	if o := n.drive(lead); !cimdDone(o) || rs[0].err != nil {
		t.Fatalf("leader: %#v %v", o, rs[0].err)
	}
	woken := e.Woken()
	if fmt.Sprint(woken) != fmt.Sprint(tickets) {
		t.Fatalf("woken %v, want %v", woken, tickets)
	}
	if len(e.Woken()) != 0 {
		t.Fatal("tickets woken twice")
	}
	for i, tk := range woken {
		if o := e.Continue(tk); !cimdDone(o) {
			t.Fatalf("continue: %#v", o)
		}
		r := rs[i+1]
		if r.calls != 1 || r.err != nil || r.doc.ClientID != testDocURL {
			t.Errorf("waiter %d: %+v", i, r)
		}
		if r.doc == rs[0].doc || &r.doc.RedirectURIs[0] == &rs[0].doc.RedirectURIs[0] {
			t.Error("waiters share the leader's copy")
		}
		r.doc.RedirectURIs[0] = "https://evil.example/cb" // must reach no one else
	}
	if rs[0].doc.RedirectURIs[0] != "http://127.0.0.1/callback" || rs[2].doc == rs[1].doc {
		t.Error("waiters share a copy")
	}
	if c := n.fetch(e, testDocURL); c.doc.RedirectURIs[0] != "http://127.0.0.1/callback" {
		t.Error("a waiter's change reached the cache")
	}
	if len(n.docCalls) != 1 || len(n.calls) != 3 {
		t.Errorf("%d document calls, %d calls", len(n.docCalls), len(n.calls))
	}
	if r, ok := e.Continue(woken[0]).(Reply); !ok || r.Status != 500 {
		t.Error("a ticket continued twice")
	}
	if len(e.cimd.waiters) != 0 || len(e.cimd.flights) != 0 {
		t.Errorf("state left: %d waiters, %d flights", len(e.cimd.waiters), len(e.cimd.flights))
	}
}

// TestFetchCIMDSharedError: waiters get the leader's error, and the error
// is not cached: the next authorization fetches again.
func TestFetchCIMDSharedError(t *testing.T) {
	e, n, _ := newCIMDTest(t, cimdOn)
	n.serve = docResponse(404, "")
	rs := newResults(3)
	lead, _ := startWaiters(t, e, testDocURL, rs)
	n.drive(lead)
	for _, tk := range e.Woken() {
		e.Continue(tk)
	}
	for i, r := range rs {
		if r.err == nil || !strings.Contains(r.err.Description, "HTTP 404") || r.calls != 1 {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if _, ok := e.fetchCIMD(testDocURL, (&cimdResult{}).then).(Call); !ok {
		t.Error("error cached or flight left behind")
	}
}

func TestFetchCIMDWaitCancel(t *testing.T) {
	e, n, _ := newCIMDTest(t, cimdOn)
	rs := newResults(3)
	lead, tickets := startWaiters(t, e, testDocURL, rs)
	e.Cancel(tickets[0])
	e.Cancel(tickets[0]) // twice is harmless
	e.Cancel(12345)      // unknown is harmless
	n.drive(lead)
	woken := e.Woken()
	if len(woken) != 1 || woken[0] != tickets[1] {
		t.Fatalf("woken %v", woken)
	}
	if _, ok := e.Continue(tickets[0]).(Reply); !ok || rs[1].calls != 0 {
		t.Error("cancelled continuation ran")
	}
	e.Continue(woken[0])
	if rs[2].calls != 1 || rs[2].err != nil {
		t.Errorf("remaining waiter: %+v", rs[2])
	}
}

// TestFetchCIMDContinueEarly: a host that continues a ticket before it is
// woken gets the same Wait back.
func TestFetchCIMDContinueEarly(t *testing.T) {
	e, _, _ := newCIMDTest(t, cimdOn)
	_, tickets := startWaiters(t, e, testDocURL, newResults(2))
	if w, ok := e.Continue(tickets[0]).(Wait); !ok || w.Ticket != tickets[0] {
		t.Fatalf("got %#v", w)
	}
}

// TestFetchCIMDLeaderVanishes: the leader's Resume never comes (its stream
// was reset and Envoy cancelled the callout). Past the flight's deadline,
// Woken releases the waiters; the first leads a new fetch, the others
// wait on it. A late Resume of the old leader wakes no one.
func TestFetchCIMDLeaderVanishes(t *testing.T) {
	e, n, clock := newCIMDTest(t, cimdOn)
	rs := newResults(3)
	oldLead, tickets := startWaiters(t, e, testDocURL, rs)
	clock.advance(3*3*time.Second + cimdFlightGrace - time.Millisecond)
	if w := e.Woken(); len(w) != 0 {
		t.Fatalf("woken before the deadline: %v", w)
	}
	clock.advance(time.Millisecond)
	woken := e.Woken()
	if fmt.Sprint(woken) != fmt.Sprint(tickets) {
		t.Fatalf("woken %v", woken)
	}
	newLead, ok := e.Continue(woken[0]).(Call)
	if !ok {
		t.Fatal("first retrying waiter does not lead")
	}
	w, ok := e.Continue(woken[1]).(Wait)
	if !ok {
		t.Fatal("second retrying waiter does not wait")
	}
	// The old leader's callout answers late: past its timeout, so its own
	// request gets an error; it wakes no one.
	n.drive(oldLead)
	if rs[0].calls != 1 || rs[0].err == nil || len(n.docCalls) != 0 {
		t.Fatalf("old leader: %+v", rs[0])
	}
	if len(e.Woken()) != 0 {
		t.Fatal("late leader woke the new flight's waiters")
	}
	if _, ok := e.fetchCIMD(testDocURL, (&cimdResult{}).then).(Wait); !ok {
		t.Fatal("late leader ended the new flight")
	}
	n.serve = docResponse(200, testDoc(nil), "cache-control", "no-store")
	n.drive(newLead)
	if got := e.Woken(); len(got) != 2 || got[0] != w.Ticket {
		t.Fatalf("woken %v", got)
	}
	e.Continue(w.Ticket)
	for i, r := range rs[1:] {
		if r.calls != 1 || r.err != nil {
			t.Errorf("waiter %d: %+v", i, r)
		}
	}
}

// TestFetchCIMDOverdueFlightInherited: a new request that finds an overdue
// flight before any Woken call leads a new fetch and takes its waiters.
func TestFetchCIMDOverdueFlightInherited(t *testing.T) {
	e, n, clock := newCIMDTest(t, cimdOn)
	rs := newResults(2)
	_, tickets := startWaiters(t, e, testDocURL, rs)
	clock.advance(time.Minute)
	late := &cimdResult{}
	lead, ok := e.fetchCIMD(testDocURL, late.then).(Call)
	if !ok {
		t.Fatal("late request does not lead")
	}
	n.drive(lead)
	if got := e.Woken(); len(got) != 1 || got[0] != tickets[0] {
		t.Fatalf("woken %v", got)
	}
	e.Continue(tickets[0])
	if rs[1].err != nil || rs[1].calls != 1 || late.err != nil {
		t.Errorf("waiter %+v, late %+v", rs[1], late)
	}
}

// TestFetchCIMDThrottledWaitersReleased: when the request that would lead
// an overdue flight's successor is throttled, the inherited waiters get
// the same error instead of hanging.
func TestFetchCIMDThrottledWaitersReleased(t *testing.T) {
	e, _, clock := newCIMDTest(t, `{"enabled": true, "doh_authority": "dns.test", "fetch_rate_per_minute": 1}`)
	rs := newResults(2)
	_, tickets := startWaiters(t, e, testDocURL, rs)
	clock.advance(15 * time.Second) // overdue, but within the rate window
	late := &cimdResult{}
	e.fetchCIMD(testDocURL, late.then)
	if late.err == nil || late.err.Code != ErrCodeTemporarilyUnavailable {
		t.Fatalf("late: %+v", late)
	}
	got := e.Woken()
	if len(got) != 1 || got[0] != tickets[0] {
		t.Fatalf("woken %v", got)
	}
	e.Continue(got[0])
	if rs[1].err == nil || rs[1].err.Code != ErrCodeTemporarilyUnavailable {
		t.Errorf("waiter: %+v", rs[1])
	}
}

func TestFetchCIMDWaitersBounded(t *testing.T) {
	e, _, _ := newCIMDTest(t, cimdOn)
	startWaiters(t, e, testDocURL, newResults(cimdMaxWaitersPerURL+1))
	r := &cimdResult{}
	if o := e.fetchCIMD(testDocURL, r.then); !cimdDone(o) || r.err == nil || r.err.Code != ErrCodeTemporarilyUnavailable {
		t.Fatalf("waiter past the bound: %#v %v", o, r.err)
	}
}

// TestResolveCIMDClient: the document becomes an AS client.
func TestResolveCIMDClient(t *testing.T) {
	e, n, _ := newCIMDTest(t, cimdOn)
	n.serve = docResponse(200, testDoc(map[string]string{"scope": `"mcp:tools mcp:read"`, "grant_types": `["authorization_code","refresh_token","urn:x"]`}))
	var got *Client
	var gotErr *Error
	o := n.drive(e.resolveCIMDClient(testDocURL, func(c *Client, err *Error) Outcome { got, gotErr = c, err; return cimdSentinel }))
	if !cimdDone(o) || gotErr != nil {
		t.Fatal(gotErr)
	}
	if got.ID != testDocURL || got.Name != "Example Client" || got.Source != ClientMetadataDocument || got.TokenEndpointAuthMethod != "none" ||
		fmt.Sprint(got.Scope) != "[mcp:tools mcp:read]" || fmt.Sprint(got.GrantTypes) != "[authorization_code refresh_token]" ||
		fmt.Sprint(got.RedirectURIs) != "[http://127.0.0.1/callback https://client.example.com/cb]" {
		t.Errorf("client = %+v", got)
	}
	n.serve = docResponse(404, "")
	o = n.drive(e.resolveCIMDClient("https://client.example.com/gone", func(c *Client, err *Error) Outcome { got, gotErr = c, err; return cimdSentinel }))
	if !cimdDone(o) || got != nil || gotErr == nil || gotErr.Code != ErrCodeInvalidClient {
		t.Errorf("404: client %v err %v", got, gotErr)
	}
}

// TestFetchCIMDConcurrentNative runs the flow from many goroutines, as the
// native adapter does, with a host loop that continues woken tickets: under
// -race it checks the engine's locking; it also checks that every request
// completes and that one fetch serves them all.
func TestFetchCIMDConcurrentNative(t *testing.T) {
	const N = 16
	fixed := time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)
	e := newCIMDEngine(t, cimdOn, &cimdClock{t: fixed}, nil) // nobody moves this clock
	var netMu sync.Mutex                                     // guards n
	n := newCIMDNet(t, &cimdClock{t: fixed})
	serveDoc := docResponse(200, testDoc(nil), "cache-control", "max-age=600")
	var docCalls atomic.Int32
	parked := make(chan struct{}, N)
	var wakeMu sync.Mutex
	wake := map[uint64]chan struct{}{}
	request := func(r *cimdResult) {
		o := e.fetchCIMD(testDocURL, r.then)
		for {
			switch x := o.(type) {
			case Call:
				var res CallResult
				if x.Cluster == "cimd_egress" {
					for i := 0; i < N-1; i++ { // every other request is parked
						<-parked
					}
					docCalls.Add(1)
					res = serveDoc(x)
				} else {
					netMu.Lock()
					res = n.handle(x)
					netMu.Unlock()
				}
				o = x.Resume(res)
				for _, tk := range e.Woken() {
					wakeMu.Lock()
					close(wake[tk])
					wakeMu.Unlock()
				}
			case Wait:
				ch := make(chan struct{})
				wakeMu.Lock()
				wake[x.Ticket] = ch
				wakeMu.Unlock()
				parked <- struct{}{}
				<-ch
				o = e.Continue(x.Ticket)
			default:
				return
			}
		}
	}
	results := make([]*cimdResult, N)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = &cimdResult{}
		wg.Add(1)
		go func(r *cimdResult) {
			defer wg.Done()
			request(r)
		}(results[i])
	}
	wg.Wait()
	for i, r := range results {
		if r.calls != 1 || r.err != nil || r.doc == nil {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if docCalls.Load() != 1 || len(n.calls) != 2 {
		t.Errorf("%d document fetches, %d DoH calls", docCalls.Load(), len(n.calls))
	}
}
