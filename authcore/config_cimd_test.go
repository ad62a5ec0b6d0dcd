package authcore

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseCIMDSection(t *testing.T, section string) (*Config, error) {
	t.Helper()
	members := map[string]string{}
	if section != "" {
		members["cimd"] = section
	}
	return ParseConfig([]byte(cfgJSON(members)))
}

func TestCIMDConfigDefaults(t *testing.T) {
	for _, section := range []string{"", `{}`} {
		c, err := parseCIMDSection(t, section)
		if err != nil {
			t.Fatalf("%q: %v", section, err)
		}
		want := CIMDConfig{
			Mode:               CIMDModePinned,
			EgressCluster:      "cimd_egress",
			DoHCluster:         "cimd_doh",
			DoHPath:            "/dns-query",
			Timeout:            3 * time.Second,
			MaxBytes:           5120,
			CacheMin:           time.Minute,
			CacheMax:           24 * time.Hour,
			FetchRatePerMinute: 10,
		}
		if !reflect.DeepEqual(c.CIMD, want) {
			t.Errorf("%q: defaults = %+v, want %+v", section, c.CIMD, want)
		}
		if w := c.CIMD.Warnings(); w != nil {
			t.Errorf("disabled CIMD warns: %v", w)
		}
	}
}

func TestCIMDConfigFull(t *testing.T) {
	c, err := parseCIMDSection(t, `{
		"enabled": true, "mode": "pinned",
		"egress_cluster": "egress", "doh_cluster": "doh",
		"doh_authority": "cloudflare-dns.com", "doh_path": "/dns-query",
		"timeout": "2s", "max_bytes": 8192, "cache_min": "30s", "cache_max": "1h",
		"fetch_rate_per_minute": 5,
		"allow_hosts": ["*.Example.com", "client.test"], "deny_hosts": ["evil.example.com"],
		"allow_loopback_for_tests": true, "allowed_ports": [443, 8443]
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := CIMDConfig{
		Enabled: true, Mode: CIMDModePinned, EgressCluster: "egress", DoHCluster: "doh",
		DoHAuthority: "cloudflare-dns.com", DoHPath: "/dns-query", Timeout: 2 * time.Second,
		MaxBytes: 8192, CacheMin: 30 * time.Second, CacheMax: time.Hour, FetchRatePerMinute: 5,
		AllowHosts: []string{"*.example.com", "client.test"}, DenyHosts: []string{"evil.example.com"},
		AllowLoopbackForTests: true, AllowedPorts: []int{443, 8443},
	}
	if !reflect.DeepEqual(c.CIMD, want) {
		t.Errorf("got %+v\nwant %+v", c.CIMD, want)
	}
	w := c.CIMD.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "allow_loopback_for_tests") || !strings.Contains(w[0], "never use it in production") {
		t.Errorf("warnings = %q", w)
	}

	fp, err := parseCIMDSection(t, `{"enabled": true, "mode": "forward_proxy", "forward_proxy_cluster": "dfp"}`)
	if err != nil {
		t.Fatal(err)
	}
	if fp.CIMD.ForwardProxyCluster != "dfp" || fp.CIMD.Mode != CIMDModeForwardProxy {
		t.Errorf("forward proxy config = %+v", fp.CIMD)
	}
	if w := fp.CIMD.Warnings(); len(w) != 1 || !strings.Contains(w[0], "does not vet") {
		t.Errorf("forward proxy warnings = %q", w)
	}
}

// TestCIMDConfigRejects: every error names the JSON path of the problem.
func TestCIMDConfigRejects(t *testing.T) {
	const on = `"enabled": true, "doh_authority": "dns.example.net"`
	cases := []struct {
		name, section, path, msg string
	}{
		{"not an object", `[]`, "cimd", "must be an object"},
		{"unknown key", `{"enable": true}`, "cimd.enable", "unknown key"},
		{"enabled wrong type", `{"enabled": "yes"}`, "cimd.enabled", "true or false"},
		{"unknown mode", `{"mode": "direct"}`, "cimd.mode", `"pinned" or "forward_proxy"`},
		{"empty cluster", `{"egress_cluster": ""}`, "cimd.egress_cluster", "cluster name"},
		{"cluster with space", `{"doh_cluster": "a b"}`, "cimd.doh_cluster", "cluster name"},
		{"doh authority with path", `{"doh_authority": "dns.example/x"}`, "cimd.doh_authority", "host name"},
		{"doh authority bad port", `{"doh_authority": "dns.example:0"}`, "cimd.doh_authority", "port"},
		{"doh path relative", `{"doh_path": "dns-query"}`, "cimd.doh_path", `starting with "/"`},
		{"doh path with query", `{"doh_path": "/dns-query?x=1"}`, "cimd.doh_path", "without query"},
		{"timeout too long", `{"timeout": "11s"}`, "cimd.timeout", "between"},
		{"timeout not a duration", `{"timeout": 3}`, "cimd.timeout", "duration"},
		{"max_bytes too big", `{"max_bytes": 65537}`, "cimd.max_bytes", "between"},
		{"max_bytes too small", `{"max_bytes": 10}`, "cimd.max_bytes", "between"},
		{"rate zero", `{"fetch_rate_per_minute": 0}`, "cimd.fetch_rate_per_minute", "between"},
		{"cache_min above cache_max", `{"cache_min": "2h", "cache_max": "1h"}`, "cimd.cache_min", "must not exceed"},
		{"allow host wildcard in middle", `{"allow_hosts": ["a.*.example.com"]}`, "cimd.allow_hosts[0]", `"*."`},
		{"allow host bare star", `{"allow_hosts": ["*"]}`, "cimd.allow_hosts[0]", `"*."`},
		{"deny host with port", `{"deny_hosts": ["example.com:443"]}`, "cimd.deny_hosts[0]", "not a host name"},
		{"deny host duplicate", `{"deny_hosts": ["a.example", "A.example"]}`, "cimd.deny_hosts[1]", "duplicate"},
		{"host both allowed and denied", `{"allow_hosts": ["x.example"], "deny_hosts": ["x.example"]}`, "cimd.allow_hosts", "also in cimd.deny_hosts"},
		{"ports empty", `{"allowed_ports": []}`, "cimd.allowed_ports", "at least one port"},
		{"port out of range", `{"allowed_ports": [70000]}`, "cimd.allowed_ports[0]", "between"},
		{"port duplicate", `{"allowed_ports": [443, 443]}`, "cimd.allowed_ports[1]", "duplicate"},
		{"pinned needs doh authority", `{"enabled": true}`, "cimd.doh_authority", "required"},
		{"pinned refuses forward proxy cluster", `{` + on + `, "forward_proxy_cluster": "dfp"}`, "cimd.forward_proxy_cluster", "only in"},
		{"doh cluster equals egress cluster", `{` + on + `, "doh_cluster": "x", "egress_cluster": "x"}`, "cimd.doh_cluster", "must differ"},
		{"loopback without allow list", `{` + on + `, "allow_loopback_for_tests": true}`, "cimd.allow_loopback_for_tests", "allow_hosts"},
		{"forward proxy needs cluster", `{"enabled": true, "mode": "forward_proxy"}`, "cimd.forward_proxy_cluster", "required"},
		{"forward proxy refuses doh keys", `{"mode": "forward_proxy", "forward_proxy_cluster": "dfp", "doh_authority": "dns.example"}`, "cimd.doh_authority", "only in"},
		{"forward proxy refuses egress cluster", `{"mode": "forward_proxy", "forward_proxy_cluster": "dfp", "egress_cluster": "e"}`, "cimd.egress_cluster", "only in"},
		{"forward proxy refuses loopback", `{"mode": "forward_proxy", "forward_proxy_cluster": "dfp", "allow_loopback_for_tests": false}`, "cimd.allow_loopback_for_tests", "no effect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCIMDSection(t, tc.section)
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, e := range cimdFlattenErrors(err) {
				var ce *ConfigError
				if errors.As(e, &ce) && ce.Path == tc.path && strings.Contains(ce.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("error %q does not name %s with %q", err, tc.path, tc.msg)
			}
		})
	}
}

func cimdFlattenErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, cimdFlattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
