package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// originalDstHeader is the header an ORIGINAL_DST cluster with
// use_http_header takes the destination from (Envoy's default
// http_header_name).
const originalDstHeader = "x-envoy-original-dst-host"

// pinKey identifies the connections of an original-dst cluster: Envoy keeps
// a host per destination address, and with auto_sni its connection pools
// are keyed by server name too.
type pinKey struct {
	dst netip.AddrPort
	sni string
}

// newCluster parses a Cluster. Every connection a cluster opens is recorded
// for Host.Dialed.
func newCluster(name string, c Cluster) (*cluster, error) {
	cl := &cluster{name: name}
	if !c.OriginalDst {
		u, err := parseBaseURL(c.URL)
		if err != nil {
			return nil, err
		}
		cl.base = u
		cl.client = newHTTPClient(c.TLS, cl.dialer(""))
		return cl, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("original-dst URL %q: scheme must be http or https", c.URL)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("original-dst URL %q must have no path or query", c.URL)
	}
	cl.base = &url.URL{Scheme: u.Scheme}
	cl.originalDst = true
	cl.tls = &tls.Config{}
	if c.TLS != nil {
		cl.tls = c.TLS.Clone()
	}
	cl.pinned = map[pinKey]*http.Client{}
	return cl, nil
}

// dialer returns a DialContext that records the address it connects to.
// With fixed set it connects there whatever address the transport asks for
// (the request URL's host is then irrelevant: an original-dst connection
// never resolves a name).
func (c *cluster) dialer(fixed string) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if fixed != "" {
			addr = fixed
		}
		c.mu.Lock()
		c.dialed = append(c.dialed, addr)
		c.mu.Unlock()
		return baseDialer.DialContext(ctx, network, addr)
	}
}

// pinnedClient returns the client whose connections go to dst, with TLS
// server name sni when the cluster is https.
func (c *cluster) pinnedClient(dst netip.AddrPort, sni string) *http.Client {
	k := pinKey{dst, sni}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.pinned[k]; cl != nil {
		return cl
	}
	var tc *tls.Config
	if c.base.Scheme == "https" {
		// auto_sni + auto_san_validation: the name sent and verified is the
		// :authority host; the cluster's RootCAs stay.
		tc = c.tls.Clone()
		tc.ServerName = sni
	}
	cl := newHTTPClient(tc, c.dialer(dst.String()))
	c.pinned[k] = cl
	return cl
}

// closeIdle closes the idle connections of every client of the cluster.
func (c *cluster) closeIdle() {
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.pinned {
		cl.CloseIdleConnections()
	}
}

// parseOriginalDst reads the destination of an original-dst callout from
// the values of x-envoy-original-dst-host, as Envoy's
// parseInternetAddressAndPortNoThrow: only the first value counts; it must
// be "a.b.c.d:port" or "[v6]:port" with a decimal port up to 65535. Zones
// ("%eth0") are refused.
func parseOriginalDst(values []string) (netip.AddrPort, error) {
	if len(values) == 0 {
		return netip.AddrPort{}, errors.New("no " + originalDstHeader + " header")
	}
	ap, err := netip.ParseAddrPort(values[0])
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("invalid %s %q: %w", originalDstHeader, values[0], err)
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("invalid %s %q: zone not supported", originalDstHeader, values[0])
	}
	return ap, nil
}

// authorityHost returns the host of an :authority value without its port
// or IPv6 brackets, as Envoy's Http::Utility::parseAuthority.
func authorityHost(authority string) string {
	if h, _, err := net.SplitHostPort(authority); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(authority, "["), "]")
}

// noHealthyUpstream is the local reply Envoy's router gives an async-client
// request when the cluster's load balancer picks no host, which is what an
// ORIGINAL_DST cluster does for a request without a usable override
// header (an HTTP callout has no downstream connection to fall back on).
func noHealthyUpstream() *calloutResponse { return calloutLocalReply(503, "no healthy upstream") }

// calloutLocalReply is a reply Envoy's router makes for a callout itself
// (no healthy upstream, connection failure, timeout). Envoy delivers it as
// an ordinary response, with headers: only a reset with no reply possible
// reaches the filter as a failure with 0 headers (envoy
// source/extensions/common/wasm/context.cc, onHttpCallFailure).
func calloutLocalReply(status int, body string) *calloutResponse {
	return &calloutResponse{
		headers: headerMap{{":status", statusString(status)}, {"content-length", fmt.Sprint(len(body))}, {"content-type", "text/plain"}},
		body:    []byte(body),
	}
}

// Dialed returns the addresses ("ip:port", "[ipv6]:port") the named
// cluster opened connections to, in order, including attempts that
// failed; nil for an unknown cluster. A reused keep-alive connection is
// not dialed again. Tests use it to prove an address was never reached.
func (h *Host) Dialed(cluster string) []string {
	c := h.clusters[cluster]
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.dialed...)
}
