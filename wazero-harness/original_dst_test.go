package harness

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpgate/mcpgate/wazero-harness/harnesstest"
)

// pinnedSeen is what a pinned backend reports about a request.
type pinnedSeen struct {
	Backend string   `json:"backend"`
	Host    string   `json:"host"`
	SNI     string   `json:"sni"`
	DstHdr  []string `json:"dst_header"`
	Local   string   `json:"local"`
}

// pinnedBackend starts a server on network addr ("127.0.0.1:0", "[::1]:0")
// that reports the request; with cert it serves TLS. hits counts requests.
func pinnedBackend(t testing.TB, name, addr string, cert *tls.Certificate) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "https://elsewhere.test/", http.StatusFound)
			return
		}
		seen := pinnedSeen{Backend: name, Host: r.Host, DstHdr: r.Header.Values("X-Envoy-Original-Dst-Host")}
		if r.TLS != nil {
			seen.SNI = r.TLS.ServerName
		}
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			seen.Local = a.String()
		}
		_ = json.NewEncoder(w).Encode(seen)
	}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestOriginalDstCluster(t *testing.T) {
	t.Parallel()
	ca := harnesstest.NewCA(t)
	good := ca.Issue("good.test")
	other := ca.Issue("other.test")
	srvGood, hitsGood := pinnedBackend(t, "good", "127.0.0.1:0", &good)
	srvOther, hitsOther := pinnedBackend(t, "other", "127.0.0.1:0", &other)
	srvPlain, _ := pinnedBackend(t, "plain", "127.0.0.1:0", nil)
	goodAddr := srvGood.Listener.Addr().String()
	otherAddr := srvOther.Listener.Addr().String()
	plainAddr := srvPlain.Listener.Addr().String()
	_, goodPort, _ := net.SplitHostPort(goodAddr)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	l.Close()

	h := newHost(t, Options{
		Wasm: kitchenWasm,
		Clusters: map[string]Cluster{
			// The host part of an original-dst URL is ignored; a name that
			// cannot resolve proves nothing resolves it.
			"egress":      {URL: "https://ignored.invalid", OriginalDst: true, TLS: &tls.Config{RootCAs: ca.Pool}},
			"egress_http": {URL: "http://", OriginalDst: true},
			"egress_sys":  {URL: "https://", OriginalDst: true}, // system roots: the test CA is not trusted
		},
	})
	srv := serve(t, h)

	// callout runs /callout on the kitchen filter and decodes its report:
	// ok is false when the callout failed (0 headers).
	callout := func(t *testing.T, cluster, path, authority string, hdrs ...string) (r calloutResult, ok bool) {
		t.Helper()
		q := url.Values{"cluster": {cluster}, "path": {path}, "authority": {authority}, "timeout": {"3000"}}
		for _, v := range hdrs {
			q.Add("hdr", v)
		}
		st, _, body := get(t, srv.URL+"/callout?"+q.Encode())
		switch st {
		case 200:
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			return r, true
		case 502:
			if !strings.HasPrefix(body, "callout failed (0 headers") {
				t.Fatalf("502 %q", body)
			}
			return r, false
		default:
			t.Fatalf("kitchen answered %d %q", st, body)
		}
		return
	}
	seen := func(t *testing.T, r calloutResult) pinnedSeen {
		t.Helper()
		var s pinnedSeen
		if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
			t.Fatalf("backend answer %q: %v", r.Body, err)
		}
		return s
	}
	dst := func(addr string) string { return originalDstHeader + ":" + addr }

	t.Run("pinned to the header address, SNI and Host from :authority", func(t *testing.T) {
		before := len(h.Dialed("egress"))
		r, ok := callout(t, "egress", "/doc", "good.test:"+goodPort, dst(goodAddr))
		if !ok || r.Status != "200" {
			t.Fatalf("callout: ok %v %+v", ok, r)
		}
		s := seen(t, r)
		if s.Backend != "good" || s.SNI != "good.test" || s.Host != "good.test:"+goodPort || s.Local != goodAddr {
			t.Errorf("backend saw %+v; want backend good, SNI good.test, Host good.test:%s on %s", s, goodPort, goodAddr)
		}
		if len(s.DstHdr) != 0 {
			t.Errorf("x-envoy-original-dst-host reached the backend: %q", s.DstHdr)
		}
		if d := h.Dialed("egress")[before:]; !slices.Equal(d, []string{goodAddr}) {
			t.Errorf("dialed %q, want [%s]", d, goodAddr)
		}
	})

	t.Run("authority without port", func(t *testing.T) {
		r, ok := callout(t, "egress", "/doc", "good.test", dst(goodAddr))
		if !ok || r.Status != "200" {
			t.Fatalf("callout: ok %v %+v", ok, r)
		}
		if s := seen(t, r); s.SNI != "good.test" || s.Host != "good.test" {
			t.Errorf("backend saw %+v", s)
		}
	})

	t.Run("only the first header value counts", func(t *testing.T) {
		before := len(h.Dialed("egress"))
		r, ok := callout(t, "egress", "/doc", "good.test", dst(goodAddr), dst("10.0.0.1:443"))
		if !ok || r.Status != "200" {
			t.Fatalf("callout: ok %v %+v", ok, r)
		}
		r, ok = callout(t, "egress", "/doc", "good.test", dst("not-an-ip:443"), dst(goodAddr))
		if !ok || r.Status != "503" || r.Body != "no healthy upstream" {
			t.Fatalf("first value invalid: ok %v %+v, want Envoy's 503 no healthy upstream", ok, r)
		}
		for _, a := range h.Dialed("egress")[before:] {
			if a != goodAddr {
				t.Errorf("dialed %s", a)
			}
		}
	})

	t.Run("certificate for another name fails", func(t *testing.T) {
		before := hitsOther.Load()
		if r, ok := callout(t, "egress", "/doc", "good.test", dst(otherAddr)); !isConnectFailure(r, ok) {
			t.Fatalf("callout to a server with a certificate for other.test: %+v, want Envoy's 503 connection failure", r)
		}
		if hitsOther.Load() != before {
			t.Error("the request reached the server with the wrong certificate")
		}
		if !slices.Contains(h.Dialed("egress"), otherAddr) {
			t.Error("the connection was not attempted")
		}
	})

	t.Run(":authority the certificate does not name fails", func(t *testing.T) {
		before := hitsGood.Load()
		if r, ok := callout(t, "egress", "/doc", "evil.test", dst(goodAddr)); !isConnectFailure(r, ok) {
			t.Fatalf("callout: %+v, want Envoy's 503 connection failure", r)
		}
		if hitsGood.Load() != before {
			t.Error("the request reached the server")
		}
	})

	t.Run("CA not trusted by the cluster fails", func(t *testing.T) {
		if r, ok := callout(t, "egress_sys", "/doc", "good.test", dst(goodAddr)); !isConnectFailure(r, ok) {
			t.Fatalf("callout: %+v, want Envoy's 503 connection failure", r)
		}
	})

	t.Run("missing or malformed header: 503 no healthy upstream, nothing dialed", func(t *testing.T) {
		for _, hdrs := range [][]string{
			nil,
			{dst("")},
			{dst("127.0.0.1")},
			{dst("good.test:443")},
			{dst("localhost:" + goodPort)},
			{dst("[127.0.0.1]:" + goodPort)},
			{dst("127.0.0.1:65536")},
			{dst("127.0.0.1:-1")},
			{dst("::1:443")},
			{dst("[fe80::1%lo]:443")},
			{dst("0177.0.0.1:" + goodPort)},
			{dst(" 127.0.0.1:" + goodPort)},
		} {
			before := len(h.Dialed("egress"))
			r, ok := callout(t, "egress", "/doc", "good.test", hdrs...)
			if !ok || r.Status != "503" || r.Body != "no healthy upstream" || r.NumHeaders != 3 {
				t.Errorf("%q: ok %v %+v, want Envoy's 503 no healthy upstream", hdrs, ok, r)
			}
			if d := h.Dialed("egress")[before:]; len(d) != 0 {
				t.Errorf("%q: dialed %q", hdrs, d)
			}
		}
	})

	t.Run("redirect not followed", func(t *testing.T) {
		r, ok := callout(t, "egress", "/redirect", "good.test", dst(goodAddr))
		if !ok || r.Status != "302" || r.Location != "https://elsewhere.test/" {
			t.Fatalf("ok %v %+v, want the 302 itself", ok, r)
		}
	})

	t.Run("unreachable address fails and is recorded", func(t *testing.T) {
		before := hitsGood.Load()
		if r, ok := callout(t, "egress", "/doc", "good.test:"+goodPort, dst(deadAddr)); !isConnectFailure(r, ok) {
			t.Fatalf("callout: %+v, want Envoy's 503 connection failure", r)
		}
		if hitsGood.Load() != before {
			t.Error("the :authority's server was reached")
		}
		if d := h.Dialed("egress"); d[len(d)-1] != deadAddr {
			t.Errorf("last dial %s, want %s", d[len(d)-1], deadAddr)
		}
	})

	t.Run("plain http", func(t *testing.T) {
		r, ok := callout(t, "egress_http", "/doc", "doc.test", dst(plainAddr))
		if !ok || r.Status != "200" {
			t.Fatalf("ok %v %+v", ok, r)
		}
		if s := seen(t, r); s.Backend != "plain" || s.Host != "doc.test" || s.SNI != "" || len(s.DstHdr) != 0 {
			t.Errorf("backend saw %+v", s)
		}
		if d := h.Dialed("egress_http"); !slices.Equal(d, []string{plainAddr}) {
			t.Errorf("dialed %q", d)
		}
	})

	t.Run("IPv6", func(t *testing.T) {
		srv6, _ := pinnedBackend(t, "v6", "[::1]:0", &good)
		addr6 := srv6.Listener.Addr().String()
		r, ok := callout(t, "egress", "/doc", "good.test", dst(addr6))
		if !ok || r.Status != "200" {
			t.Fatalf("ok %v %+v", ok, r)
		}
		if s := seen(t, r); s.Backend != "v6" || s.SNI != "good.test" {
			t.Errorf("backend saw %+v", s)
		}
		if !slices.Contains(h.Dialed("egress"), addr6) {
			t.Errorf("dialed %q, want %s", h.Dialed("egress"), addr6)
		}
	})

	t.Run("connections are pooled per address and name", func(t *testing.T) {
		before := len(h.Dialed("egress"))
		for i := 0; i < 3; i++ {
			if r, ok := callout(t, "egress", "/doc", "good.test", dst(goodAddr)); !ok || r.Status != "200" {
				t.Fatalf("ok %v %+v", ok, r)
			}
		}
		if d := h.Dialed("egress")[before:]; len(d) > 1 {
			t.Errorf("three sequential callouts dialed %q; want at most one new connection", d)
		}
	})
}

// An ordinary cluster records its dials too.
func TestClusterDialed(t *testing.T) {
	t.Parallel()
	b := serve(t, backend(t))
	h := newHost(t, Options{Wasm: kitchenWasm, Clusters: map[string]Cluster{"backend": {URL: b.URL}}})
	srv := serve(t, h)
	if st, _, body := get(t, srv.URL+"/callout?cluster=backend&path=/ok"); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	want := strings.TrimPrefix(b.URL, "http://")
	if d := h.Dialed("backend"); !slices.Equal(d, []string{want}) {
		t.Errorf("Dialed = %q, want [%s]", d, want)
	}
	if d := h.Dialed("nope"); d != nil {
		t.Errorf("unknown cluster: %q", d)
	}
	if _, err := New(t.Context(), Options{Wasm: kitchenWasm, Log: quiet, Clusters: map[string]Cluster{"x": {URL: "ftp://", OriginalDst: true}}}); err == nil {
		t.Error("original-dst cluster with scheme ftp accepted")
	}
}

// isConnectFailure reports whether a callout got Envoy's own reply for an
// upstream it could not connect to (TLS failures included): a 503 with
// headers, not a failure with none.
func isConnectFailure(r calloutResult, ok bool) bool {
	return ok && r.Status == "503" && r.NumHeaders == 3 &&
		r.Body == "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
}
