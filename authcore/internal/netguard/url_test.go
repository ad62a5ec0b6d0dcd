package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseURLAccepts(t *testing.T) {
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
		if _, err := ParseURL(tc.url, true); err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		u, _ := ParseURL(tc.url, true)
		if u.Host != tc.host || u.Authority != tc.authority || u.PathQuery != tc.path || u.Port != tc.port || u.Raw != tc.url {
			t.Errorf("%s: split as %+v", tc.url, u)
		}
	}
}

// TestParseURLRejects: every URL rule (CIMD draft §3 and the policy above),
// each with the rule it must be refused by.
func TestParseURLRejects(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength)
	cases := []struct{ url, rule string }{
		{long, RuleLength},
		// scheme
		{"http://example.com/x", RuleScheme},
		{"HTTPS://example.com/x", RuleScheme},
		{"Https://example.com/x", RuleScheme},
		{"ftp://example.com/x", RuleScheme},
		{"//example.com/x", RuleScheme},
		{"example.com/x", RuleScheme},
		{"https:/example.com/x", RuleScheme},
		{"", RuleScheme},
		// path
		{"https://example.com", RulePath},
		{"https://example.com/", RulePath},
		{"https://example.com:8443", RulePath},
		{"https://example.com:8443/", RulePath},
		// dot segments, in every spelling
		{"https://example.com/.", RuleDotSegment},
		{"https://example.com/..", RuleDotSegment},
		{"https://example.com/a/../b", RuleDotSegment},
		{"https://example.com/a/./b", RuleDotSegment},
		{"https://example.com/a/..", RuleDotSegment},
		{"https://example.com/a/%2e%2e/b", RuleDotSegment},
		{"https://example.com/a/%2E%2E/b", RuleDotSegment},
		{"https://example.com/a/%2e%2E/b", RuleDotSegment},
		{"https://example.com/a/.%2e/b", RuleDotSegment},
		{"https://example.com/a/%2e./b", RuleDotSegment},
		{"https://example.com/a/%2e/b", RuleDotSegment},
		{"https://example.com/a/%2E", RuleDotSegment},
		{"https://example.com/a/..;x/b", RuleDotSegment},
		{"https://example.com/a/%2e%2e;x/b", RuleDotSegment},
		// encoded separators
		{"https://example.com/a%2f..%2fb", RuleEncodedSlash},
		{"https://example.com/a%2F..%2Fb", RuleEncodedSlash},
		{"https://example.com/a%5c..%5cb", RuleEncodedSlash},
		// fragment
		{"https://example.com/x#frag", RuleFragment},
		{"https://example.com/x#", RuleFragment},
		// userinfo
		{"https://user@example.com/x", RuleUserinfo},
		{"https://user:pass@example.com/x", RuleUserinfo},
		{"https://example.com@evil.example/x", RuleUserinfo},
		{"https://@example.com/x", RuleUserinfo},
		// IP literals, every spelling
		{"https://127.0.0.1/x", RuleIPLiteral},
		{"https://10.0.0.1:8443/x", RuleIPLiteral},
		{"https://169.254.169.254/latest/meta-data", RuleIPLiteral},
		{"https://[::1]/x", RuleIPLiteral},
		{"https://[::ffff:10.0.0.1]/x", RuleIPLiteral},
		{"https://[fe80::1%25eth0]/x", RuleIPLiteral},
		{"https://2130706433/x", RuleIPLiteral},
		{"https://0x7f000001/x", RuleIPLiteral},
		{"https://0x7f.1/x", RuleIPLiteral},
		{"https://0X7F.0.0.1/x", RuleIPLiteral},
		{"https://0177.0.0.1/x", RuleIPLiteral},
		{"https://127.1/x", RuleIPLiteral},
		{"https://017700000001/x", RuleIPLiteral},
		{"https://example.0x10/x", RuleIPLiteral},
		{"https://example.123/x", RuleIPLiteral},
		{"https://0x/x", RuleIPLiteral},
		// host syntax
		{"https:///x", RuleHost},
		{"https://:443/x", RuleHost},
		{"https://%65xample.com/x", RuleHost},
		{"https://example.com./x", RuleHost},
		{"https://example..com/x", RuleHost},
		{"https://.example.com/x", RuleHost},
		{"https://exa!mple.com/x", RuleHost},
		{"https://exa$mple.com/x", RuleHost},
		{"https://" + strings.Repeat("a", 64) + ".com/x", RuleHost},
		{"https://metadata/x", RuleHost},
		{"https://localhost/x", RuleHost},
		{"https://a.example:1:2/x", RulePort},
		// reserved names
		{"https://foo.localhost/x", RuleSpecialUseName},
		{"https://printer.local/x", RuleSpecialUseName},
		{"https://metadata.google.internal/computeMetadata/v1", RuleSpecialUseName},
		{"https://1.0.0.127.in-addr.arpa/x", RuleSpecialUseName},
		{"https://router.home.arpa/x", RuleSpecialUseName},
		{"https://x.onion/x", RuleSpecialUseName},
		{"https://x.invalid/x", RuleSpecialUseName},
		{"https://NAS.LAN/x", RuleSpecialUseName},
		// port
		{"https://example.com:/x", RulePort},
		{"https://example.com:0/x", RulePort},
		{"https://example.com:65536/x", RulePort},
		{"https://example.com:0443/x", RulePort},
		{"https://example.com:+443/x", RulePort},
		{"https://example.com:http/x", RulePort},
		// query (SHOULD NOT; refused by policy)
		{"https://example.com/x?a=b", RuleQuery},
		{"https://example.com/x?", RuleQuery},
		{"https://example.com?a=b", RuleQuery},
		// characters outside RFC 3986
		{"https://example.com/a b", RuleCharacters},
		{"https://example.com/a\\..\\b", RuleCharacters},
		{"https://example.com/a\"b", RuleCharacters},
		{"https://example.com/a<b>", RuleCharacters},
		{"https://example.com/%zz", RuleCharacters},
		{"https://example.com/%2", RuleCharacters},
		{"https://exämple.com/x", RuleCharacters},
		{"https://example.com/x\n", RuleCharacters},
		{"https://example.com/\x00", RuleCharacters},
		{"https://example.com\t/x", RuleCharacters},
	}
	for _, tc := range cases {
		_, err := ParseURL(tc.url, true)
		var re *URLError
		if !errors.As(err, &re) {
			t.Errorf("%q: accepted (err %v), want rule %s", tc.url, err, tc.rule)
			continue
		}
		if re.Rule != tc.rule {
			t.Errorf("%q: rule %s (%s), want %s", tc.url, re.Rule, re.Detail, tc.rule)
		}
	}
}

// TestParseURLNonClientID: jwks_uri and logo_uri may have an empty
// path or "/" and a query, but keep every other rule.
func TestParseURLNonClientID(t *testing.T) {
	for _, s := range []string{"https://example.com", "https://example.com/", "https://example.com/jwks?v=2"} {
		u, err := ParseURL(s, false)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if !strings.HasPrefix(u.PathQuery, "/") {
			t.Errorf("%s: path %q", s, u.PathQuery)
		}
	}
	for _, s := range []string{"https://10.0.0.1/jwks", "http://example.com/jwks", "https://example.com/a/../jwks", "https://u@example.com/", "https://example.com/#x"} {
		if _, err := ParseURL(s, false); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// FuzzParseURL checks the invariants of an accepted URL against an
// independent reading of it.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"https://client.example.com/metadata.json", "https://example.com:8443/a/b", "https://example.com/%2e%2e/x",
		"https://127.0.0.1/x", "https://[::1]/x", "https://0x7f.1/x", "https://u@h.example/x", "https://h.example/x#f",
		"https://h.example/x?q", "https://h.example/", "https://h.example/a%2fb", "https://h.localhost/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s, true)
		if err != nil {
			var re *URLError
			if !errors.As(err, &re) || re.Rule == "" || re.Detail == "" {
				t.Fatalf("%q: error %v is not a named rule", s, err)
			}
			return
		}
		if !strings.HasPrefix(s, "https://") {
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
		for _, seg := range strings.Split(cimdTestDecode(u.PathQuery), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q: dot segment survived", s)
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
