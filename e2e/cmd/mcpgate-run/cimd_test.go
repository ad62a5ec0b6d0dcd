package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mcpgate/mcpgate/wazero-harness/harnesstest"
)

// startRun starts what `make run` starts with extra flags, on free ports.
func startRun(t *testing.T, extra ...string) *gateway {
	t.Helper()
	if testing.Short() {
		t.Skip("compiles the filter")
	}
	args := append([]string{
		"-wasm", testWasm(t), "-config", devConfigPath,
		"-listen", "127.0.0.1:0", "-upstream-listen", "127.0.0.1:0",
		"-cache-dir", wazeroCacheDir,
	}, extra...)
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g, err := start(context.Background(), o, &logs)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() { _ = g.close() })
	return g
}

// authorizePage opens the authorization endpoint for clientID (a public
// client with PKCE) and returns the page's status and body.
func authorizePage(t *testing.T, g *gateway, clientID, redirect string) (int, string) {
	t.Helper()
	meta := getJSON(t, g.base+"/.well-known/oauth-authorization-server")
	ep, _ := meta["authorization_endpoint"].(string)
	u, err := url.Parse(ep)
	if err != nil || ep == "" {
		t.Fatalf("authorization_endpoint %q", ep)
	}
	sum := sha256.Sum256([]byte("a verifier that is long enough for pkce, 43+ characters"))
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {"xyz"}, "scope": {"mcp:tools"}, "resource": {"http://127.0.0.1:8080/mcp"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.base+u.Path+"?"+q.Encode(), nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return v
}

// TestRunCIMDDefault: `make run` advertises CIMD and sets up the public
// resolver and the pinned egress cluster the configuration names.
func TestRunCIMDDefault(t *testing.T) {
	g := startRun(t)
	if v := getJSON(t, g.base+"/.well-known/oauth-authorization-server")["client_id_metadata_document_supported"]; v != true {
		t.Errorf("AS metadata client_id_metadata_document_supported = %v, want true", v)
	}
	if c, ok := g.cimd.clusters["cimd_doh"]; !ok || c.URL != "https://cloudflare-dns.com" {
		t.Errorf("cimd_doh cluster %+v", c)
	}
	if c, ok := g.cimd.clusters["cimd_egress"]; !ok || !c.OriginalDst {
		t.Errorf("cimd_egress cluster %+v: want ORIGINAL_DST", c)
	}
	var out bytes.Buffer
	g.printURLs(&out)
	if !strings.Contains(out.String(), "client_id_metadata_document_supported") || !strings.Contains(out.String(), "cloudflare-dns.com") {
		t.Errorf("printed URLs do not mention CIMD and its resolver:\n%s", out.String())
	}
}

// TestRunCIMDResolverUnreachable: with the resolver out of reach (a machine
// without internet; here a closed loopback port stands in for it) the
// authorization page says the document host could not be resolved.
func TestRunCIMDResolverUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	g := startRun(t, "-cluster", "cimd_doh="+closed)
	status, body := authorizePage(t, g, "https://client.example.com/mcp/client.json", "http://127.0.0.1:9/cb")
	if status < 400 || !strings.Contains(body, "client metadata document host could not be resolved") {
		t.Fatalf("authorization page: %d\n%s", status, body)
	}
}

// TestRunCIMDLoopbackHost: -cimd-loopback-host and -cacert let a trial
// serve its client metadata document on this machine; the consent page
// names the client. When that host is down, the page says the document
// could not be fetched.
func TestRunCIMDLoopbackHost(t *testing.T) {
	const host = "client.trial.test"
	ca := harnesstest.NewCA(t)
	caFile := ca.WritePEM()
	var docID atomic.Pointer[string] // the document's client_id, set once the port is known
	redirect := "http://127.0.0.1:9/cb"
	docs := harnesstest.StartTLS(t, "127.0.0.1:0", ca.Issue(host), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/client.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Trial client","redirect_uris":[%q],"token_endpoint_auth_method":"none"}`, *docID.Load(), redirect)
	}))
	port := docs.Listener.Addr().(*net.TCPAddr).Port
	clientID := fmt.Sprintf("https://%s:%d/client.json", host, port)
	docID.Store(&clientID)

	g := startRun(t, "-cimd-loopback-host", fmt.Sprintf("%s:%d", host, port), "-cacert", caFile)
	status, body := authorizePage(t, g, clientID, redirect)
	if status != http.StatusOK || !strings.Contains(body, "Trial client") || !strings.Contains(body, host) {
		t.Fatalf("consent page for the loopback document host: %d\n%s", status, body)
	}
	var out bytes.Buffer
	g.printURLs(&out)
	if !strings.Contains(out.String(), "TEST ONLY") {
		t.Errorf("the loopback trial mode is not announced:\n%s", out.String())
	}

	// The same host, down: a clear message on the authorization page.
	docs.Close()
	status, body = authorizePage(t, g, strings.Replace(clientID, "client.json", "other.json", 1), redirect)
	if status < 400 || !strings.Contains(body, "could not be fetched") {
		t.Fatalf("authorization page with the document host down: %d\n%s", status, body)
	}
}

func TestCIMDFlags(t *testing.T) {
	h := hostPorts{}
	for _, bad := range []string{"client.test", "127.0.0.1:8443", "localhost:8443", "client.test:0", "client.test:x"} {
		if err := h.Set(bad); err == nil {
			t.Errorf("-cimd-loopback-host %s accepted", bad)
		}
	}
	if err := h.Set("Client.Test.:8443"); err != nil || len(h["client.test"]) != 1 {
		t.Errorf("-cimd-loopback-host Client.Test.:8443: %v %v", err, h)
	}
	cfg, err := allowLoopbackHosts([]byte(`{"cimd":{"enabled":true,"allow_hosts":["a.example"]}}`), h)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CIMD struct {
			Allow bool     `json:"allow_loopback_for_tests"`
			Hosts []string `json:"allow_hosts"`
			Ports []int    `json:"allowed_ports"`
		} `json:"cimd"`
	}
	if err := json.Unmarshal(cfg, &got); err != nil {
		t.Fatal(err)
	}
	if !got.CIMD.Allow || strings.Join(got.CIMD.Hosts, ",") != "a.example,client.test" || fmt.Sprint(got.CIMD.Ports) != "[443 8443]" {
		t.Errorf("rewritten cimd section %+v", got.CIMD)
	}
	o := &options{clusters: clusterFlags{}, cimdLoopback: h}
	if _, err := setupCIMD(o, []byte(`{"issuer":"x"}`), ""); err == nil {
		t.Error("-cimd-loopback-host accepted with cimd disabled")
	}
}

// TestLoopbackDoH: the local resolver answers A for the trial names only.
func TestLoopbackDoH(t *testing.T) {
	hosts := hostPorts{"client.test": {8443}}
	ask := func(name string, typ dnsmessage.Type) dnsmessage.Message {
		t.Helper()
		q := dnsmessage.Message{Header: dnsmessage.Header{ID: 7, RecursionDesired: true},
			Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}}}
		b, _ := q.Pack()
		rec := httptest.NewRecorder()
		loopbackDoH(hosts).ServeHTTP(rec, httptest.NewRequest("GET", "/dns-query?dns="+base64.RawURLEncoding.EncodeToString(b), nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/dns-message" {
			t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
		}
		var m dnsmessage.Message
		if err := m.Unpack(rec.Body.Bytes()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := ask("Client.Test.", dnsmessage.TypeA)
	if m.ID != 7 || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 1 || m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{127, 0, 0, 1} {
		t.Errorf("A client.test: %+v", m)
	}
	if m := ask("client.test.", dnsmessage.TypeAAAA); m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 0 {
		t.Errorf("AAAA client.test: %+v", m)
	}
	if m := ask("example.com.", dnsmessage.TypeA); m.RCode != dnsmessage.RCodeNameError || len(m.Answers) != 0 {
		t.Errorf("A example.com: %+v", m)
	}
	for _, bad := range []string{"/dns-query", "/dns-query?dns=!!", "/dns-query?dns=AAAA"} {
		rec := httptest.NewRecorder()
		loopbackDoH(hosts).ServeHTTP(rec, httptest.NewRequest("GET", bad, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, rec.Code)
		}
	}
}

// FuzzAnswerLoopback: the local resolver never panics on a query and
// answers only with a well-formed message.
func FuzzAnswerLoopback(f *testing.F) {
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 1},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName("client.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b, _ := q.Pack()
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0})
	hosts := hostPorts{"client.test": {443}}
	f.Fuzz(func(t *testing.T, query []byte) {
		out, err := answerLoopback(query, hosts)
		if err != nil {
			return
		}
		var m dnsmessage.Message
		if err := m.Unpack(out); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if !m.Response || len(m.Questions) != 1 {
			t.Fatalf("answer %+v", m)
		}
	})
}
