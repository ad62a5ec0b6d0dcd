package authcore

import (
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

// CIMD fetch modes.
const (
	// CIMDModePinned resolves the document's host through a DNS-over-HTTPS
	// resolver cluster, refuses special-use answers, and fetches through an
	// Envoy ORIGINAL_DST cluster pinned to the vetted address. It is the
	// default and the only mode in which mcpgate itself defends against SSRF.
	CIMDModePinned = "pinned"
	// CIMDModeForwardProxy fetches through an Envoy dynamic forward proxy
	// cluster, which resolves the host itself. mcpgate then cannot see or
	// vet the address it connects to: a host that resolves to 10.0.0.1,
	// 127.0.0.1 or 169.254.169.254 is reached. Use it only when egress from
	// Envoy is restricted at the network (an egress firewall or proxy that
	// refuses private, loopback, link-local and metadata addresses).
	CIMDModeForwardProxy = "forward_proxy"
)

// CIMDConfig configures Client ID Metadata Document support (the "cimd"
// config section). Zero values are never used: [ParseConfig] fills in the
// defaults even when the section is absent.
type CIMDConfig struct {
	// Enabled turns CIMD on: a client_id that is an https URL is resolved by
	// fetching it, and AS metadata advertises
	// client_id_metadata_document_supported.
	Enabled bool
	// Mode is CIMDModePinned (default) or CIMDModeForwardProxy.
	Mode string
	// EgressCluster is the Envoy ORIGINAL_DST cluster (use_http_header) the
	// document is fetched through in pinned mode; default "cimd_egress".
	EgressCluster string
	// DoHCluster is the cluster of the DNS-over-HTTPS resolver (RFC 8484);
	// default "cimd_doh".
	DoHCluster string
	// DoHAuthority is the :authority of DoH requests, e.g.
	// "cloudflare-dns.com". Required in pinned mode when enabled: mcpgate
	// never picks a resolver for the operator.
	DoHAuthority string
	// DoHPath is the path of the DoH endpoint; default "/dns-query".
	DoHPath string
	// ForwardProxyCluster is the dynamic forward proxy cluster used in
	// forward_proxy mode (required there, refused in pinned mode).
	ForwardProxyCluster string
	// Timeout bounds each outbound call (each DoH query and the document
	// fetch); default 3s, at most 10s.
	Timeout time.Duration
	// MaxBytes caps the document size; default 5120 (CIMD §6.6), at most
	// 65536.
	MaxBytes int
	// CacheMin and CacheMax clamp the HTTP caching lifetime of a cached
	// document; defaults 1m and 24h. A response with no-store or no-cache
	// is never cached, whatever CacheMin says.
	CacheMin, CacheMax time.Duration
	// FetchRatePerMinute caps fetches of one URL per sliding minute, per VM;
	// default 10 (the 11th fetch within a minute is throttled).
	FetchRatePerMinute int
	// AllowHosts, when not empty, lists the only hosts whose documents may
	// be fetched. DenyHosts lists hosts that may never be fetched. Entries
	// are exact host names ("client.example.com") or suffix patterns
	// ("*.example.com", which matches sub.example.com but not example.com).
	// They are stored in lower case.
	AllowHosts, DenyHosts []string
	// AllowLoopbackForTests lets DNS answers in 127.0.0.0/8 and ::1 through
	// the special-use address check. It exists for end-to-end tests that
	// serve documents from loopback, is allowed only in pinned mode together
	// with a non-empty AllowHosts, and is logged loudly on every use
	// ([CIMDConfig.Warnings] returns the start-up warning).
	AllowLoopbackForTests bool
	// AllowedPorts, when not empty, lists the only ports a document URL may
	// name (443 when the URL has none). Empty allows any port.
	AllowedPorts []int
}

// Defaults of the "cimd" section.
const (
	defaultCIMDTimeout  = 3 * time.Second
	maxCIMDTimeout      = 10 * time.Second
	defaultCIMDMaxBytes = 5120
	maxCIMDMaxBytes     = 65536
	defaultCIMDCacheMin = time.Minute
	defaultCIMDCacheMax = 24 * time.Hour
	defaultCIMDRate     = 10
)

// cimdConfig parses the "cimd" object. Defaults are set first, so they hold
// when the section is absent.
func (p *cfgParser) cimdConfig(path string, v jsonv.Result, dst *CIMDConfig) {
	*dst = CIMDConfig{
		Mode:               CIMDModePinned,
		EgressCluster:      "cimd_egress",
		DoHCluster:         "cimd_doh",
		DoHPath:            "/dns-query",
		Timeout:            defaultCIMDTimeout,
		MaxBytes:           defaultCIMDMaxBytes,
		CacheMin:           defaultCIMDCacheMin,
		CacheMax:           defaultCIMDCacheMax,
		FetchRatePerMinute: defaultCIMDRate,
	}
	// set records which keys were given, to report contradictions with the
	// mode even for keys that have defaults.
	set := map[string]bool{}
	mark := func(key string, f func(string, jsonv.Result)) func(string, jsonv.Result) {
		return func(fp string, v jsonv.Result) {
			if v.Exists() {
				set[key] = true
			}
			f(fp, v)
		}
	}
	cluster := func(dst *string) func(string, jsonv.Result) {
		return func(fp string, v jsonv.Result) {
			if !v.Exists() {
				return
			}
			p.str(dst)(fp, v)
			if v.Type == jsonv.String && !cimdValidCluster(v.Str) {
				p.fail(fp, "must be a non-empty Envoy cluster name without spaces or control characters")
			}
		}
	}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"enabled": p.boolean(&dst.Enabled),
		"mode": func(fp string, v jsonv.Result) {
			p.str(&dst.Mode)(fp, v)
			if v.Type == jsonv.String && v.Str != CIMDModePinned && v.Str != CIMDModeForwardProxy {
				p.fail(fp, "must be "+quote(CIMDModePinned)+" or "+quote(CIMDModeForwardProxy))
			}
		},
		"egress_cluster":        mark("egress_cluster", cluster(&dst.EgressCluster)),
		"doh_cluster":           mark("doh_cluster", cluster(&dst.DoHCluster)),
		"forward_proxy_cluster": mark("forward_proxy_cluster", cluster(&dst.ForwardProxyCluster)),
		"doh_authority": mark("doh_authority", func(fp string, v jsonv.Result) {
			p.str(&dst.DoHAuthority)(fp, v)
			if v.Type == jsonv.String {
				if msg := cimdCheckAuthority(v.Str); msg != "" {
					p.fail(fp, msg)
				}
			}
		}),
		"doh_path": mark("doh_path", func(fp string, v jsonv.Result) {
			p.str(&dst.DoHPath)(fp, v)
			if v.Type == jsonv.String && (!strings.HasPrefix(v.Str, "/") || strings.ContainsAny(v.Str, "?# ") || clientmeta.HasControl(v.Str)) {
				p.fail(fp, `must be a path starting with "/", without query or fragment (the dns= parameter is added)`)
			}
		}),
		"timeout":                  p.duration(&dst.Timeout, 100*time.Millisecond, maxCIMDTimeout),
		"max_bytes":                p.integer(&dst.MaxBytes, 256, maxCIMDMaxBytes),
		"cache_min":                p.duration(&dst.CacheMin, 0, 7*24*time.Hour),
		"cache_max":                p.duration(&dst.CacheMax, 0, 7*24*time.Hour),
		"fetch_rate_per_minute":    p.integer(&dst.FetchRatePerMinute, 1, 600),
		"allow_hosts":              p.hostPatterns(&dst.AllowHosts),
		"deny_hosts":               p.hostPatterns(&dst.DenyHosts),
		"allow_loopback_for_tests": mark("allow_loopback_for_tests", p.boolean(&dst.AllowLoopbackForTests)),
		"allowed_ports": func(fp string, v jsonv.Result) {
			p.array(fp, v, func(ep string, _ int, e jsonv.Result) {
				n := 0
				p.integer(&n, 1, 65535)(ep, e)
				if n == 0 {
					return
				}
				for _, q := range dst.AllowedPorts {
					if q == n {
						p.fail(ep, "duplicate port "+itoa(n))
						return
					}
				}
				dst.AllowedPorts = append(dst.AllowedPorts, n)
			})
			if v.IsArray() && len(v.Array()) == 0 {
				p.fail(fp, "must list at least one port, or be left out to allow any port")
			}
		},
	})
	if len(p.errs) > 0 {
		return
	}
	// Contradictions inside the section.
	if dst.CacheMin > dst.CacheMax {
		p.fail(join(path, "cache_min"), "must not exceed "+join(path, "cache_max")+" ("+dst.CacheMax.String()+")")
	}
	for _, a := range dst.AllowHosts {
		for _, d := range dst.DenyHosts {
			if a == d {
				p.fail(join(path, "allow_hosts"), quote(a)+" is also in "+join(path, "deny_hosts"))
			}
		}
	}
	switch dst.Mode {
	case CIMDModePinned:
		if set["forward_proxy_cluster"] {
			p.fail(join(path, "forward_proxy_cluster"), "is used only in "+quote(CIMDModeForwardProxy)+" mode")
		}
		if dst.Enabled && dst.DoHAuthority == "" {
			p.fail(join(path, "doh_authority"), `required in `+quote(CIMDModePinned)+` mode: the :authority of the DNS-over-HTTPS resolver, e.g. "cloudflare-dns.com"`)
		}
		if dst.DoHCluster == dst.EgressCluster {
			p.fail(join(path, "doh_cluster"), "must differ from "+join(path, "egress_cluster")+": the resolver is not reached through the pinned egress cluster")
		}
		if dst.AllowLoopbackForTests && len(dst.AllowHosts) == 0 {
			p.fail(join(path, "allow_loopback_for_tests"), "requires a non-empty "+join(path, "allow_hosts")+" naming the test hosts, so loopback can never be reached through an arbitrary host name")
		}
	case CIMDModeForwardProxy:
		if dst.ForwardProxyCluster == "" {
			p.fail(join(path, "forward_proxy_cluster"), "required in "+quote(CIMDModeForwardProxy)+" mode")
		}
		for _, k := range []string{"egress_cluster", "doh_cluster", "doh_authority", "doh_path"} {
			if set[k] {
				p.fail(join(path, k), "is used only in "+quote(CIMDModePinned)+" mode: in "+quote(CIMDModeForwardProxy)+" mode the forward proxy resolves the host")
			}
		}
		if set["allow_loopback_for_tests"] {
			p.fail(join(path, "allow_loopback_for_tests"), "has no effect in "+quote(CIMDModeForwardProxy)+" mode, where addresses are not vetted at all")
		}
	}
}

// hostPatterns parses allow_hosts / deny_hosts: exact host names or
// "*.suffix" patterns, stored in lower case.
//
// Not inlined: its closure was copied at each call site, which made the wasm module larger.
//
//go:noinline
func (p *cfgParser) hostPatterns(dst *[]string) func(string, jsonv.Result) {
	return func(path string, v jsonv.Result) {
		var raw []string
		p.strings(&raw)(path, v)
		seen := map[string]bool{}
		for i, s := range raw {
			s = strings.ToLower(s)
			name := strings.TrimPrefix(s, "*.")
			switch {
			case strings.Contains(name, "*"):
				p.fail(index(path, i), `"*" is allowed only as a leading "*." label`)
				continue
			case netguard.CheckHostName(name) != "":
				p.fail(index(path, i), "not a host name: "+netguard.CheckHostName(name))
				continue
			case seen[s]:
				p.fail(index(path, i), "duplicate entry "+quote(s))
				continue
			}
			seen[s] = true
			*dst = append(*dst, s)
		}
	}
}

// validateCIMD checks what spans the CIMD configuration and the rest. The
// section is self-contained today; the hook stays for checks against the
// authorization server configuration.
func (p *cfgParser) validateCIMD(c *Config) {}

// Warnings returns messages to log loudly at start-up: settings that weaken
// the SSRF defence.
func (c *CIMDConfig) Warnings() []string {
	if !c.Enabled {
		return nil
	}
	var w []string
	if c.AllowLoopbackForTests {
		w = append(w, "cimd.allow_loopback_for_tests is ON: client metadata documents may be fetched from loopback addresses (127.0.0.0/8, ::1) for hosts in allow_hosts "+
			strings.Join(c.AllowHosts, ", ")+". This is for tests only; never use it in production.")
	}
	if c.Mode == CIMDModeForwardProxy {
		w = append(w, "cimd.mode is forward_proxy: mcpgate does not vet the addresses client metadata documents are fetched from; egress must be restricted at the network (no private, loopback, link-local or metadata addresses).")
	}
	return w
}

// cimdValidCluster accepts any non-empty name without spaces or control
// characters (Envoy cluster names are free-form).
func cimdValidCluster(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// cimdCheckAuthority checks "host" or "host:port" for a DoH :authority.
func cimdCheckAuthority(s string) string {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort && !netguard.ValidPort(port) {
		return "the port must be a number between 1 and 65535"
	}
	if msg := netguard.CheckHostName(host); msg != "" {
		return "must be a host name with an optional port: " + msg
	}
	return ""
}
