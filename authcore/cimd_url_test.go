package authcore

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckCIMDURLAccepts(t *testing.T) {
	cases := []struct {
		url, host, authority, path string
		port                       int
	}{
		{"https://client.example.com/oauth/metadata.json", "client.example.com", "client.example.com", "/oauth/metadata.json", 443},
		{"https://Client.Example.COM/x", "client.example.com", "client.example.com", "/x", 443},
		{"https://client.example.com:8443/x", "client.example.com", "client.example.com:8443", "/x", 8443},
		{"https://client.example.com:443/x", "client.example.com", "client.example.com:443", "/x", 443},
		{"https://a-b_c.example.co.uk/a/b/", "a-b_c.example.co.uk", "a-b_c.example.co.uk", "/a/b/", 443},
		{"https://claude.ai/oauth/claude-code-client-metadata", "claude.ai", "claude.ai", "/oauth/claude-code-client-metadata", 443},
		{"https://example.com/..a/a../.a./%2e%2ex", "example.com", "example.com", "/..a/a../.a./%2e%2ex", 443},
		{"https://example.com//double", "example.com", "example.com", "//double", 443},
		{"https://example.com/%41bc", "example.com", "example.com", "/%41bc", 443},
		{"https://1a.example.com/x", "1a.example.com", "1a.example.com", "/x", 443},
		{"https://client.test/x", "client.test", "client.test", "/x", 443},
	}
	for _, tc := range cases {
		if err := checkCIMDURL(tc.url); err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		u, _ := parseVettedURL(tc.url, true)
		if u.Host != tc.host || u.Authority != tc.authority || u.PathQuery != tc.path || u.Port != tc.port || u.Raw != tc.url {
			t.Errorf("%s: split as %+v", tc.url, u)
		}
	}
}

// TestCheckCIMDURLRejects: every rule of CHECKLIST 13 and issue 5 scope 1,
// each with the rule it must be refused by.
func TestCheckCIMDURLRejects(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", maxCIMDURLLength)
	cases := []struct{ url, rule string }{
		{long, cimdRuleLength},
		// scheme
		{"http://example.com/x", cimdRuleScheme},
		{"HTTPS://example.com/x", cimdRuleScheme},
		{"Https://example.com/x", cimdRuleScheme},
		{"ftp://example.com/x", cimdRuleScheme},
		{"//example.com/x", cimdRuleScheme},
		{"example.com/x", cimdRuleScheme},
		{"https:/example.com/x", cimdRuleScheme},
		{"", cimdRuleScheme},
		// path
		{"https://example.com", cimdRulePath},
		{"https://example.com/", cimdRulePath},
		{"https://example.com:8443", cimdRulePath},
		{"https://example.com:8443/", cimdRulePath},
		// dot segments, in every spelling
		{"https://example.com/.", cimdRuleDotSegment},
		{"https://example.com/..", cimdRuleDotSegment},
		{"https://example.com/a/../b", cimdRuleDotSegment},
		{"https://example.com/a/./b", cimdRuleDotSegment},
		{"https://example.com/a/..", cimdRuleDotSegment},
		{"https://example.com/a/%2e%2e/b", cimdRuleDotSegment},
		{"https://example.com/a/%2E%2E/b", cimdRuleDotSegment},
		{"https://example.com/a/%2e%2E/b", cimdRuleDotSegment},
		{"https://example.com/a/.%2e/b", cimdRuleDotSegment},
		{"https://example.com/a/%2e./b", cimdRuleDotSegment},
		{"https://example.com/a/%2e/b", cimdRuleDotSegment},
		{"https://example.com/a/%2E", cimdRuleDotSegment},
		{"https://example.com/a/..;x/b", cimdRuleDotSegment},
		{"https://example.com/a/%2e%2e;x/b", cimdRuleDotSegment},
		// encoded separators
		{"https://example.com/a%2f..%2fb", cimdRuleEncodedSlash},
		{"https://example.com/a%2F..%2Fb", cimdRuleEncodedSlash},
		{"https://example.com/a%5c..%5cb", cimdRuleEncodedSlash},
		// fragment
		{"https://example.com/x#frag", cimdRuleFragment},
		{"https://example.com/x#", cimdRuleFragment},
		// userinfo
		{"https://user@example.com/x", cimdRuleUserinfo},
		{"https://user:pass@example.com/x", cimdRuleUserinfo},
		{"https://example.com@evil.example/x", cimdRuleUserinfo},
		{"https://@example.com/x", cimdRuleUserinfo},
		// IP literals, every spelling
		{"https://127.0.0.1/x", cimdRuleIPLiteral},
		{"https://10.0.0.1:8443/x", cimdRuleIPLiteral},
		{"https://169.254.169.254/latest/meta-data", cimdRuleIPLiteral},
		{"https://[::1]/x", cimdRuleIPLiteral},
		{"https://[::ffff:10.0.0.1]/x", cimdRuleIPLiteral},
		{"https://[fe80::1%25eth0]/x", cimdRuleIPLiteral},
		{"https://2130706433/x", cimdRuleIPLiteral},
		{"https://0x7f000001/x", cimdRuleIPLiteral},
		{"https://0x7f.1/x", cimdRuleIPLiteral},
		{"https://0X7F.0.0.1/x", cimdRuleIPLiteral},
		{"https://0177.0.0.1/x", cimdRuleIPLiteral},
		{"https://127.1/x", cimdRuleIPLiteral},
		{"https://017700000001/x", cimdRuleIPLiteral},
		{"https://example.0x10/x", cimdRuleIPLiteral},
		{"https://example.123/x", cimdRuleIPLiteral},
		{"https://0x/x", cimdRuleIPLiteral},
		// host syntax
		{"https:///x", cimdRuleHost},
		{"https://:443/x", cimdRuleHost},
		{"https://%65xample.com/x", cimdRuleHost},
		{"https://example.com./x", cimdRuleHost},
		{"https://example..com/x", cimdRuleHost},
		{"https://.example.com/x", cimdRuleHost},
		{"https://exa!mple.com/x", cimdRuleHost},
		{"https://exa$mple.com/x", cimdRuleHost},
		{"https://" + strings.Repeat("a", 64) + ".com/x", cimdRuleHost},
		{"https://metadata/x", cimdRuleHost},
		{"https://localhost/x", cimdRuleHost},
		{"https://a.example:1:2/x", cimdRulePort},
		// reserved names
		{"https://foo.localhost/x", cimdRuleSpecialUseName},
		{"https://printer.local/x", cimdRuleSpecialUseName},
		{"https://metadata.google.internal/computeMetadata/v1", cimdRuleSpecialUseName},
		{"https://1.0.0.127.in-addr.arpa/x", cimdRuleSpecialUseName},
		{"https://router.home.arpa/x", cimdRuleSpecialUseName},
		{"https://x.onion/x", cimdRuleSpecialUseName},
		{"https://x.invalid/x", cimdRuleSpecialUseName},
		{"https://NAS.LAN/x", cimdRuleSpecialUseName},
		// port
		{"https://example.com:/x", cimdRulePort},
		{"https://example.com:0/x", cimdRulePort},
		{"https://example.com:65536/x", cimdRulePort},
		{"https://example.com:0443/x", cimdRulePort},
		{"https://example.com:+443/x", cimdRulePort},
		{"https://example.com:http/x", cimdRulePort},
		// query (SHOULD NOT; refused by policy)
		{"https://example.com/x?a=b", cimdRuleQuery},
		{"https://example.com/x?", cimdRuleQuery},
		{"https://example.com?a=b", cimdRuleQuery},
		// characters outside RFC 3986
		{"https://example.com/a b", cimdRuleCharacters},
		{"https://example.com/a\\..\\b", cimdRuleCharacters},
		{"https://example.com/a\"b", cimdRuleCharacters},
		{"https://example.com/a<b>", cimdRuleCharacters},
		{"https://example.com/%zz", cimdRuleCharacters},
		{"https://example.com/%2", cimdRuleCharacters},
		{"https://exämple.com/x", cimdRuleCharacters},
		{"https://example.com/x\n", cimdRuleCharacters},
		{"https://example.com/\x00", cimdRuleCharacters},
		{"https://example.com\t/x", cimdRuleCharacters},
	}
	for _, tc := range cases {
		err := checkCIMDURL(tc.url)
		var re *cimdURLError
		if !errors.As(err, &re) {
			t.Errorf("%q: accepted (err %v), want rule %s", tc.url, err, tc.rule)
			continue
		}
		if re.Rule != tc.rule {
			t.Errorf("%q: rule %s (%s), want %s", tc.url, re.Rule, re.Detail, tc.rule)
		}
	}
}

func TestIsCIMDURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/x": true, "https://": true,
		"HTTPS://example.com/x": false, "http://example.com/x": false, "mcp_abc": false, "": false,
	} {
		if isCIMDURL(s) != want {
			t.Errorf("isCIMDURL(%q) = %v", s, !want)
		}
	}
}

func TestVetURLPolicy(t *testing.T) {
	cfg := &CIMDConfig{
		AllowHosts:   []string{"*.example.com", "client.test"},
		DenyHosts:    []string{"evil.example.com", "*.bad.example.com"},
		AllowedPorts: []int{443, 8443},
	}
	cases := []struct{ url, rule string }{
		{"https://a.example.com/x", ""},
		{"https://A.Example.com/x", ""},
		{"https://deep.a.example.com/x", ""},
		{"https://client.test/x", ""},
		{"https://a.example.com:8443/x", ""},
		{"https://example.com/x", cimdRuleHostNotAllowed},        // "*.example.com" does not match the apex
		{"https://xexample.com/x", cimdRuleHostNotAllowed},       // nor a name that merely ends alike
		{"https://sub.client.test/x", cimdRuleHostNotAllowed},    // exact entries are exact
		{"https://other.org/x", cimdRuleHostNotAllowed},          // not listed
		{"https://evil.example.com/x", cimdRuleHostDenied},       // deny wins over allow
		{"https://EVIL.example.com/x", cimdRuleHostDenied},       // case-insensitive
		{"https://x.bad.example.com/x", cimdRuleHostDenied},      // suffix deny
		{"https://a.example.com:8080/x", cimdRulePortNotAllowed}, // port list
		{"https://a.example.com/x#f", cimdRuleFragment},          // syntax still applies
	}
	for _, tc := range cases {
		_, err := cfg.vetURL(tc.url, true)
		var re *cimdURLError
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.rule != "" && (!errors.As(err, &re) || re.Rule != tc.rule):
			t.Errorf("%s: err %v, want rule %s", tc.url, err, tc.rule)
		}
	}
	// Without lists, any public host and port.
	if _, err := (&CIMDConfig{}).vetURL("https://anything.example.org:1234/x", true); err != nil {
		t.Error(err)
	}
}

// TestParseVettedURLNonClientID: jwks_uri and logo_uri may have an empty
// path or "/" and a query, but keep every other rule.
func TestParseVettedURLNonClientID(t *testing.T) {
	for _, s := range []string{"https://example.com", "https://example.com/", "https://example.com/jwks?v=2"} {
		u, err := parseVettedURL(s, false)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if !strings.HasPrefix(u.PathQuery, "/") {
			t.Errorf("%s: path %q", s, u.PathQuery)
		}
	}
	for _, s := range []string{"https://10.0.0.1/jwks", "http://example.com/jwks", "https://example.com/a/../jwks", "https://u@example.com/", "https://example.com/#x"} {
		if _, err := parseVettedURL(s, false); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// FuzzCheckCIMDURL checks the invariants of an accepted URL against an
// independent reading of it.
func FuzzCheckCIMDURL(f *testing.F) {
	for _, s := range []string{
		"https://client.example.com/metadata.json", "https://example.com:8443/a/b", "https://example.com/%2e%2e/x",
		"https://127.0.0.1/x", "https://[::1]/x", "https://0x7f.1/x", "https://u@h.example/x", "https://h.example/x#f",
		"https://h.example/x?q", "https://h.example/", "https://h.example/a%2fb", "https://h.localhost/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseVettedURL(s, true)
		if err != nil {
			var re *cimdURLError
			if !errors.As(err, &re) || re.Rule == "" || re.Detail == "" {
				t.Fatalf("%q: error %v is not a named rule", s, err)
			}
			return
		}
		if !strings.HasPrefix(s, "https://") || !isCIMDURL(s) {
			t.Fatalf("%q accepted without https://", s)
		}
		if strings.ContainsAny(s, "#?\\ ") {
			t.Fatalf("%q accepted with a fragment, query, backslash or space", s)
		}
		if authority, _, _ := strings.Cut(s[len("https://"):], "/"); strings.Contains(authority, "@") {
			t.Fatalf("%q accepted with userinfo", s)
		}
		if u.Host == "" || strings.Contains(u.Host, ":") || strings.Contains(u.Host, "%") || strings.HasPrefix(u.Host, "[") {
			t.Fatalf("%q: bad host %q", s, u.Host)
		}
		if _, err := netip.ParseAddr(u.Host); err == nil {
			t.Fatalf("%q: IP literal host accepted", s)
		}
		last := u.Host[strings.LastIndexByte(u.Host, '.')+1:]
		if strings.Trim(last, "0123456789") == "" {
			t.Fatalf("%q: numeric last label accepted", s)
		}
		if u.PathQuery == "/" || !strings.HasPrefix(u.PathQuery, "/") {
			t.Fatalf("%q: path %q", s, u.PathQuery)
		}
		rest := s[len("https://"):]
		if len(rest) < len(u.Authority) || !strings.EqualFold(rest[:len(u.Authority)], u.Authority) || rest[len(u.Authority):] != u.PathQuery {
			t.Fatalf("%q does not reassemble from %+v", s, u)
		}
		norm, ok := normalizePath(u.PathQuery)
		if !ok {
			t.Fatalf("%q: path does not decode", s)
		}
		for _, seg := range strings.Split(cimdTestDecode(u.PathQuery), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q: dot segment survived (normalised %q)", s, norm)
			}
		}
		if u.Port < 1 || u.Port > 65535 {
			t.Fatalf("%q: port %d", s, u.Port)
		}
	})
}

// cimdTestDecode decodes every %XX (test oracle, independent of the
// per-segment decoder).
func cimdTestDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
