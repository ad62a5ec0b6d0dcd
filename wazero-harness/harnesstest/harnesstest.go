// Package harnesstest holds the test infrastructure shared by the
// harness's tests and the e2e suite, as net/http/httptest is to net/http:
// a throw-away certificate authority, a TLS test server on a chosen
// address, and an RFC 8484 DNS-over-HTTPS resolver answering from a zone
// the test changes at run time.
//
// It is for tests only: every constructor takes a testing.TB and fails the
// test on error.
package harnesstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// CA is a throw-away ECDSA certificate authority. Only clients built
// from it (Pool, TLSConfig) trust its certificates.
type CA struct {
	t    testing.TB
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// Pool holds the CA certificate alone: use it as RootCAs.
	Pool *x509.CertPool
	// PEM is the CA certificate in PEM, for files (-cacert, Envoy configs).
	PEM    []byte
	serial atomic.Int64
}

// NewCA creates a CA valid for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mcpgate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{t: t, cert: cert, key: key, Pool: x509.NewCertPool(),
		PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.Pool.AddCert(cert)
	ca.serial.Store(1)
	return ca
}

// Issue returns a server certificate signed by the CA for hosts: DNS names
// (SANs), or IP literals (IP SANs). Call it from the test goroutine.
func (ca *CA) Issue(hosts ...string) tls.Certificate {
	ca.t.Helper()
	if len(hosts) == 0 {
		ca.t.Fatal("CA.Issue: no hosts")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TLSConfig returns a client configuration that trusts only the CA.
func (ca *CA) TLSConfig() *tls.Config { return &tls.Config{RootCAs: ca.Pool} }

// WritePEM writes the CA certificate to a file in a temporary directory
// and returns its path (e.g. for mcpgate-run -cacert).
func (ca *CA) WritePEM() string {
	ca.t.Helper()
	p := filepath.Join(ca.t.TempDir(), "ca.PEM")
	if err := os.WriteFile(p, ca.PEM, 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

// StartTLS serves h over TLS with cert on a fresh listener at addr
// ("127.0.0.1:0"), with handshake errors (expected in negative tests) kept
// out of the test log.
func StartTLS(t testing.TB, addr string, cert tls.Certificate, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// DoH is an RFC 8484 resolver (GET ?dns= and POST) over https on
// loopback, answering A and AAAA questions from a zone the test changes at
// run time. A name that is not in the zone is NXDOMAIN.
type DoH struct {
	// URL is the server's base URL, https://127.0.0.1:port (the cimd_doh
	// cluster's URL).
	URL string
	// Authority is the name in the server's certificate, "doh.test": the
	// cimd_doh cluster's SNI and the config's doh_authority.
	Authority string
	// Path is the endpoint path, "/dns-query" (the config's doh_path).
	Path string

	t     testing.TB
	srv   *httptest.Server
	mu    sync.Mutex
	zone  map[string]*dohEntry
	ttl   uint32
	delay time.Duration
	hook  func(DoHQuery)
	log   []DoHQuery
}

// dohEntry is what the zone holds for one name.
type dohEntry struct {
	addrs []netip.Addr // A (IPv4) and AAAA (everything else) records
	cname string       // when set, the name is an alias and addrs are ignored
	rcode *dnsmessage.RCode
}

// DoHQuery is one logged query and what it was answered.
type DoHQuery struct {
	Name   string          // lower case, without the trailing dot
	Type   dnsmessage.Type // dnsmessage.TypeA, TypeAAAA, ...
	Method string          // GET or POST
	Accept string          // the request's Accept header
	Host   string          // the request's Host (the callout's :authority)
	RCode  dnsmessage.RCode
	// Answers lists the answer records, "name CNAME target" or the
	// address ("127.0.0.1", "::ffff:10.0.0.1").
	Answers []string
	At      time.Time
}

// StartDoH starts a resolver whose certificate (for "doh.test") is issued
// by ca. The zone starts empty; the TTL is 60 s.
func StartDoH(t testing.TB, ca *CA) *DoH {
	t.Helper()
	d := &DoH{Authority: "doh.test", Path: "/dns-query", t: t, zone: map[string]*dohEntry{}, ttl: 60}
	d.srv = StartTLS(t, "127.0.0.1:0", ca.Issue(d.Authority), d)
	d.URL = d.srv.URL
	return d
}

// DNSName normalises a host name: lower case, no trailing dot.
func DNSName(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

// Set makes name resolve to addrs (IPv4 literals become A records, all
// others, including "::ffff:10.0.0.1" and "64:ff9b::a00:1", AAAA records),
// replacing what name had. With no addrs the name exists with no address
// records (NOERROR, empty answer).
func (d *DoH) Set(name string, addrs ...string) {
	d.t.Helper()
	e := &dohEntry{}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			d.t.Fatalf("DoH.set(%q): %q is not an IP address", name, a)
		}
		e.addrs = append(e.addrs, ip)
	}
	d.mu.Lock()
	d.zone[DNSName(name)] = e
	d.mu.Unlock()
}

// SetCNAME makes name an alias of target (answers carry the CNAME record
// and then target's records of the queried type).
func (d *DoH) SetCNAME(name, target string) {
	d.mu.Lock()
	d.zone[DNSName(name)] = &dohEntry{cname: DNSName(target)}
	d.mu.Unlock()
}

// SetRcode makes queries for name fail with rc (e.g.
// dnsmessage.RCodeServerFailure, RCodeRefused).
func (d *DoH) SetRcode(name string, rc dnsmessage.RCode) {
	d.mu.Lock()
	d.zone[DNSName(name)] = &dohEntry{rcode: &rc}
	d.mu.Unlock()
}

// Remove deletes name: it becomes NXDOMAIN.
func (d *DoH) Remove(name string) {
	d.mu.Lock()
	delete(d.zone, DNSName(name))
	d.mu.Unlock()
}

// SetTTL sets the TTL of every record answered from now on.
func (d *DoH) SetTTL(ttl uint32) {
	d.mu.Lock()
	d.ttl = ttl
	d.mu.Unlock()
}

// SetDelay delays every answer by dl (resolver timeouts).
func (d *DoH) SetDelay(dl time.Duration) {
	d.mu.Lock()
	d.delay = dl
	d.mu.Unlock()
}

// OnQuery registers f, called with each query and its answer after the
// answer is computed and before it is sent, outside the server's lock (f
// may call set: DNS rebinding between a check and a connect).
func (d *DoH) OnQuery(f func(q DoHQuery)) {
	d.mu.Lock()
	d.hook = f
	d.mu.Unlock()
}

// Queries returns the query log.
func (d *DoH) Queries() []DoHQuery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.log)
}

// Count returns how many queries asked about name (any type).
func (d *DoH) Count(name string) int {
	name = DNSName(name)
	n := 0
	for _, q := range d.Queries() {
		if q.Name == name {
			n++
		}
	}
	return n
}

// ServeHTTP implements RFC 8484 §4.1: GET with ?dns=<base64url, no
// padding> or POST with an application/dns-message body.
func (d *DoH) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != d.Path {
		http.NotFound(w, r)
		return
	}
	var raw []byte
	switch r.Method {
	case http.MethodGet:
		var err error
		raw, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
		if err != nil || len(raw) == 0 {
			http.Error(w, "dns parameter missing or not base64url without padding", http.StatusBadRequest)
			return
		}
	case http.MethodPost:
		if r.Header.Get("Content-Type") != "application/dns-message" {
			http.Error(w, "content-type must be application/dns-message", http.StatusUnsupportedMediaType)
			return
		}
		var err error
		raw, err = io.ReadAll(io.LimitReader(r.Body, 65536))
		if err != nil {
			return
		}
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var p dnsmessage.Parser
	hdr, err := p.Start(raw)
	if err != nil {
		http.Error(w, "bad DNS message: "+err.Error(), http.StatusBadRequest)
		return
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || hdr.Response {
		http.Error(w, "want one question in a query", http.StatusBadRequest)
		return
	}
	resp, logged, ttl, delay, hook := d.answer(hdr, qs[0])
	logged.Method, logged.Accept, logged.Host = r.Method, r.Header.Get("Accept"), r.Host
	d.mu.Lock()
	d.log = append(d.log, logged)
	d.mu.Unlock()
	if hook != nil {
		hook(logged)
	}
	out, err := resp.Pack()
	if err != nil {
		http.Error(w, "packing the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/dns-message")
	w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(ttl)))
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// answer builds the response to q from the zone.
func (d *DoH) answer(hdr dnsmessage.Header, q dnsmessage.Question) (dnsmessage.Message, DoHQuery, uint32, time.Duration, func(DoHQuery)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := DNSName(q.Name.String())
	logged := DoHQuery{Name: name, Type: q.Type, At: time.Now()}
	m := dnsmessage.Message{
		Header: dnsmessage.Header{ID: hdr.ID, Response: true, OpCode: hdr.OpCode,
			RecursionDesired: hdr.RecursionDesired, RecursionAvailable: true},
		Questions: []dnsmessage.Question{q},
	}
	rrh := func(owner string, typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(owner + "."), Type: typ, Class: dnsmessage.ClassINET, TTL: d.ttl}
	}
	e := d.zone[name]
	switch {
	case q.Class != dnsmessage.ClassINET:
		m.Header.RCode = dnsmessage.RCodeNotImplemented
	case e == nil:
		m.Header.RCode = dnsmessage.RCodeNameError
	case e.rcode != nil:
		m.Header.RCode = *e.rcode
	default:
		cur := name
		for range 16 {
			e := d.zone[cur]
			if e == nil || e.rcode != nil {
				break
			}
			if e.cname != "" {
				m.Answers = append(m.Answers, dnsmessage.Resource{Header: rrh(cur, dnsmessage.TypeCNAME),
					Body: &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(e.cname + ".")}})
				logged.Answers = append(logged.Answers, cur+" CNAME "+e.cname)
				cur = e.cname
				continue
			}
			for _, a := range e.addrs {
				switch {
				case a.Is4() && q.Type == dnsmessage.TypeA:
					m.Answers = append(m.Answers, dnsmessage.Resource{Header: rrh(cur, dnsmessage.TypeA), Body: &dnsmessage.AResource{A: a.As4()}})
				case !a.Is4() && q.Type == dnsmessage.TypeAAAA:
					m.Answers = append(m.Answers, dnsmessage.Resource{Header: rrh(cur, dnsmessage.TypeAAAA), Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
				default:
					continue
				}
				logged.Answers = append(logged.Answers, a.String())
			}
			break
		}
	}
	logged.RCode = m.Header.RCode
	return m, logged, d.ttl, d.delay, d.hook
}
