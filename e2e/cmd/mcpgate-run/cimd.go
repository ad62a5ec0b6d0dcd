package main

// Client ID Metadata Documents in `make run`: the clusters the filter's
// CIMD section names (cimd_doh: the DNS-over-HTTPS resolver; cimd_egress:
// an ORIGINAL_DST cluster pinned to the vetted address) are set up here the
// way envoy/envoy.yaml sets them up in Envoy, so that metadata-document
// clients (VS Code-, Claude-style: client_id is an https URL) resolve out
// of the box on a machine with internet.
//
// For trials with a document host on this machine, -cimd-loopback-host
// NAME:PORT makes NAME resolve to 127.0.0.1 (answered by a DoH resolver run
// here, which then replaces the public one) and switches on the filter's
// test-only allow_loopback_for_tests for exactly those hosts; -cacert
// adds the CA that signed that host's certificate to the system's roots.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// hostPorts collects repeated -cimd-loopback-host NAME:PORT flags.
type hostPorts map[string][]int

func (h hostPorts) String() string {
	var parts []string
	for name, ports := range h {
		for _, p := range ports {
			parts = append(parts, net.JoinHostPort(name, strconv.Itoa(p)))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (h hostPorts) Set(s string) error {
	name, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want NAME:PORT, got %q", s)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("%q: bad port", s)
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" || net.ParseIP(name) != nil || !strings.Contains(name, ".") {
		// The filter refuses IP-literal hosts and single-label names in a
		// client_id URL, so such a flag could never match.
		return fmt.Errorf("%q: want a dotted host name such as client.test", s)
	}
	h[name] = append(h[name], port)
	return nil
}

// cimdSection is the part of the filter configuration read here.
type cimdSection struct {
	Enabled       bool   `json:"enabled"`
	Mode          string `json:"mode"`
	DoHCluster    string `json:"doh_cluster"`
	DoHAuthority  string `json:"doh_authority"`
	EgressCluster string `json:"egress_cluster"`
}

// cimdSetup is what CIMD adds to a gateway.
type cimdSetup struct {
	section  cimdSection
	clusters map[string]harness.Cluster
	config   []byte       // the configuration, rewritten for loopback hosts
	doh      *http.Server // the local resolver for loopback hosts, or nil
	dohURL   string
	notes    []string // printed with the URLs
}

// setupCIMD reads the configuration's cimd section and returns the clusters
// it needs that -cluster did not give (user-given ones win), and for
// -cimd-loopback-host the rewritten configuration and a running local
// resolver (close it with the gateway). caFile (-cacert) adds roots to the
// system's for document hosts. A configuration that is not mcpgate's (the
// gateway runs any module) needs nothing.
func setupCIMD(o *options, config []byte, caFile string) (*cimdSetup, error) {
	var top struct {
		CIMD *cimdSection `json:"cimd"`
	}
	s := &cimdSetup{config: config, clusters: map[string]harness.Cluster{}}
	if err := json.Unmarshal(config, &top); err != nil {
		top.CIMD = nil
	}
	if top.CIMD == nil || !top.CIMD.Enabled {
		if len(o.cimdLoopback) > 0 {
			return nil, errors.New("-cimd-loopback-host: the configuration does not enable cimd")
		}
		return s, nil
	}
	s.section = *top.CIMD
	if s.section.Mode != "" && s.section.Mode != "pinned" {
		// forward_proxy: the proxy cluster comes from -cluster.
		if len(o.cimdLoopback) > 0 {
			return nil, fmt.Errorf("-cimd-loopback-host needs cimd mode pinned, not %q", s.section.Mode)
		}
		return s, nil
	}
	if s.section.DoHCluster == "" {
		s.section.DoHCluster = "cimd_doh"
	}
	if s.section.EgressCluster == "" {
		s.section.EgressCluster = "cimd_egress"
	}

	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if caFile != "" {
		pemBytes, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("no certificate in %s", caFile)
		}
	}
	if _, ok := o.clusters[s.section.EgressCluster]; !ok {
		s.clusters[s.section.EgressCluster] = harness.Cluster{URL: "https://", OriginalDst: true, TLS: &tls.Config{RootCAs: roots}}
	}

	if len(o.cimdLoopback) == 0 {
		if _, ok := o.clusters[s.section.DoHCluster]; !ok && s.section.DoHAuthority != "" {
			s.clusters[s.section.DoHCluster] = harness.Cluster{URL: "https://" + s.section.DoHAuthority}
		}
		s.notes = append(s.notes, fmt.Sprintf("client ids that are https URLs are resolved through %s (DNS over HTTPS) and fetched from the internet", s.section.DoHAuthority))
		return s, nil
	}

	// Loopback document hosts (trials only).
	if s.config, err = allowLoopbackHosts(config, o.cimdLoopback); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local DoH resolver: %w", err)
	}
	s.dohURL = "http://" + ln.Addr().String()
	s.doh = &http.Server{Handler: loopbackDoH(o.cimdLoopback), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.doh.Serve(ln) }()
	s.clusters[s.section.DoHCluster] = harness.Cluster{URL: s.dohURL}
	s.notes = append(s.notes, fmt.Sprintf(
		"TEST ONLY: client metadata documents are fetched only from %s, which resolve to 127.0.0.1 (local resolver %s); the filter runs with allow_loopback_for_tests",
		o.cimdLoopback.String(), s.dohURL))
	return s, nil
}

// allowLoopbackHosts rewrites the configuration's cimd section for
// loopback trial hosts: allow_loopback_for_tests on, allow_hosts and
// allowed_ports extended with them (443 is kept allowed).
func allowLoopbackHosts(config []byte, hosts hostPorts) ([]byte, error) {
	var top map[string]any
	if err := json.Unmarshal(config, &top); err != nil {
		return nil, err
	}
	c, _ := top["cimd"].(map[string]any)
	c["allow_loopback_for_tests"] = true
	allowHosts, _ := c["allow_hosts"].([]any)
	ports, _ := c["allowed_ports"].([]any)
	if len(ports) == 0 {
		ports = []any{443}
	}
	names := make([]string, 0, len(hosts))
	for name := range hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		allowHosts = append(allowHosts, name)
		for _, p := range hosts[name] {
			ports = append(ports, p)
		}
	}
	c["allow_hosts"] = allowHosts
	c["allowed_ports"] = ports
	return json.MarshalIndent(top, "", "  ")
}

// maxDoHQuery bounds the DNS query a local resolver reads (RFC 8484 §6: a
// query is one DNS message; 512 bytes is plenty for one question).
const maxDoHQuery = 4096

// loopbackDoH is an RFC 8484 resolver (GET ?dns=, POST) that answers A
// queries for the given names with 127.0.0.1, AAAA queries for them with no
// records, and NXDOMAIN for every other name.
func loopbackDoH(hosts hostPorts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q []byte
		var err error
		switch r.Method {
		case http.MethodGet:
			q, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
		case http.MethodPost:
			q, err = io.ReadAll(io.LimitReader(r.Body, maxDoHQuery+1))
		default:
			http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
			return
		}
		if err != nil || len(q) == 0 || len(q) > maxDoHQuery {
			http.Error(w, "bad DNS query", http.StatusBadRequest)
			return
		}
		answer, err := answerLoopback(q, hosts)
		if err != nil {
			http.Error(w, "bad DNS query: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/dns-message")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write(answer)
	})
}

// answerLoopback answers one DNS query message (see loopbackDoH).
func answerLoopback(query []byte, hosts hostPorts) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	questions, err := p.AllQuestions()
	if err != nil {
		return nil, err
	}
	if h.Response || len(questions) != 1 {
		return nil, errors.New("want one question")
	}
	question := questions[0]
	name := strings.TrimSuffix(strings.ToLower(question.Name.String()), ".")
	_, known := hosts[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(question); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if known && question.Type == dnsmessage.TypeA && question.Class == dnsmessage.ClassINET {
		rr := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
		if err := b.AResource(rr, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// close stops the local resolver, if any.
func (s *cimdSetup) close() {
	if s != nil && s.doh != nil {
		_ = s.doh.Close()
	}
}
