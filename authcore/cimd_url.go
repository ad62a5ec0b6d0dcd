package authcore

import (
	"strconv"
	"strings"
)

// Client ID Metadata Document URLs (CHECKLIST 13; CIMD draft §3).
//
// A client_id that starts with "https://" names a document that mcpgate
// fetches from an arbitrary host chosen by whoever sends the authorization
// request. Every check here happens before any I/O, on the string exactly as
// received; the document's client_id is later compared with the same string
// byte for byte (no normalisation).
//
// Policy decisions beyond the letter of the specification:
//   - A query is SHOULD NOT in the specification; mcpgate refuses it. A query
//     makes the identity of a client depend on parameters that servers
//     commonly ignore or reorder, and no known client uses one.
//   - The scheme must be written "https" in lower case, as isCIMDURL
//     recognises it; "HTTPS://" is not a client metadata URL.
//   - The host must be a domain name with at least two labels, made of
//     letters, digits, "-" and "_". IP literals are refused in every form a
//     resolver or URL parser might accept: "[::1]", "10.0.0.1", and the
//     integer forms "2130706433", "0x7f.1", "0177.0.0.1" (any host whose last
//     label is numeric is treated as an address, as the WHATWG URL parser
//     does). Percent-encoding in the host is refused (only letters,
//     digits, "-", "_" and dots are allowed).
//   - Names reserved for local use (localhost, *.local, *.internal, *.arpa,
//     *.onion, ...) are refused by name, before DNS.
//   - Dot segments are refused in any spelling: ".", "..", "%2e", "%2E.",
//     ".%2e", and with a ";parameter" suffix. Encoded slashes and
//     backslashes ("%2f", "%5c") are refused too, since servers that decode
//     them would see a different path.
//   - Characters outside RFC 3986 (spaces, quotes, backslash, non-ASCII) and
//     malformed percent-escapes are refused.

// maxCIMDURLLength bounds a client_id URL.
const maxCIMDURLLength = 2048

// isCIMDURL (authorize_cimd_hook.go) recognises a client metadata document
// URL by its "https://" prefix; checkCIMDURL then decides whether it is
// acceptable.

// cimdURLError names the rule a document URL broke. Rule is a stable
// identifier (tests and logs use it); Detail is safe to show to the user.
type cimdURLError struct {
	Rule   string
	Detail string
}

func (e *cimdURLError) Error() string { return "url rule " + e.Rule + ": " + e.Detail }

// Rules of cimdURLError.
const (
	cimdRuleLength         = "length"
	cimdRuleCharacters     = "characters"
	cimdRuleScheme         = "scheme"
	cimdRuleFragment       = "fragment"
	cimdRuleUserinfo       = "userinfo"
	cimdRuleIPLiteral      = "ip_literal"
	cimdRuleHost           = "host"
	cimdRuleSpecialUseName = "special_use_name"
	cimdRulePort           = "port"
	cimdRulePath           = "path"
	cimdRuleDotSegment     = "dot_segment"
	cimdRuleEncodedSlash   = "encoded_slash"
	cimdRuleQuery          = "query"
	cimdRuleHostDenied     = "host_denied"
	cimdRuleHostNotAllowed = "host_not_allowed"
	cimdRulePortNotAllowed = "port_not_allowed"
)

func cimdURLRule(rule, detail string) error { return &cimdURLError{Rule: rule, Detail: detail} }

// vettedURL is a vetted document URL, split for the fetcher.
type vettedURL struct {
	// Raw is the URL exactly as given.
	Raw string
	// Host is the host name in lower case.
	Host string
	// Port is the port to connect to (443 when the URL names none).
	Port int
	// Authority is Host, followed by ":port" when the URL names one.
	Authority string
	// PathQuery is the request target: the path as given, plus "?query"
	// when queries are allowed and present.
	PathQuery string
}

// checkCIMDURL reports whether s is an acceptable client ID metadata
// document URL, on syntax alone (host allow and deny lists are applied by
// [CIMDConfig.vetURL]). The error is a *cimdURLError naming the rule.
func checkCIMDURL(s string) error {
	_, err := parseVettedURL(s, true)
	return err
}

// parseVettedURL checks and splits an https URL that mcpgate would fetch or
// show. clientID applies the rules specific to client IDs: a path other
// than "/" and no query. Without it (jwks_uri, logo_uri) the path may be
// empty or "/" and a query is allowed.
func parseVettedURL(s string, clientID bool) (*vettedURL, error) {
	if len(s) > maxCIMDURLLength {
		return nil, cimdURLRule(cimdRuleLength, "longer than "+strconv.Itoa(maxCIMDURLLength)+" bytes")
	}
	if msg := cimdURIChars(s); msg != "" {
		return nil, cimdURLRule(cimdRuleCharacters, msg)
	}
	if !strings.HasPrefix(s, "https://") {
		return nil, cimdURLRule(cimdRuleScheme, `must start with "https://"`)
	}
	if strings.IndexByte(s, '#') >= 0 {
		return nil, cimdURLRule(cimdRuleFragment, "must not have a fragment")
	}
	rest := s[len("https://"):]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if strings.IndexByte(authority, '@') >= 0 {
		return nil, cimdURLRule(cimdRuleUserinfo, "must not contain userinfo")
	}
	if strings.HasPrefix(authority, "[") {
		return nil, cimdURLRule(cimdRuleIPLiteral, "the host must be a domain name, not an IP address")
	}
	host, port, hasPort := strings.Cut(authority, ":")
	u := &vettedURL{Raw: s, Port: 443}
	if hasPort {
		if !cimdValidPort(port) {
			return nil, cimdURLRule(cimdRulePort, "the port must be a number between 1 and 65535 without leading zeros")
		}
		u.Port, _ = strconv.Atoi(port)
	}
	if host == "" {
		return nil, cimdURLRule(cimdRuleHost, "must have a host")
	}
	if cimdHostNumeric(host) {
		return nil, cimdURLRule(cimdRuleIPLiteral, "the host must be a domain name, not an IP address")
	}
	if msg := cimdCheckHostName(host); msg != "" {
		return nil, cimdURLRule(cimdRuleHost, msg)
	}
	u.Host = strings.ToLower(host)
	if !strings.Contains(u.Host, ".") {
		return nil, cimdURLRule(cimdRuleHost, "the host must be a fully qualified domain name")
	}
	if name := cimdSpecialUseName(u.Host); name != "" {
		return nil, cimdURLRule(cimdRuleSpecialUseName, "the host is under "+name+", a name reserved for local use")
	}
	u.Authority = u.Host
	if hasPort {
		u.Authority += ":" + port
	}

	path, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && clientID {
		return nil, cimdURLRule(cimdRuleQuery, "must not have a query")
	}
	if clientID && (path == "" || path == "/") {
		return nil, cimdURLRule(cimdRulePath, `must have a path other than "/"`)
	}
	if msg := cimdPathSegments(path); msg != "" {
		if strings.Contains(msg, "slash") {
			return nil, cimdURLRule(cimdRuleEncodedSlash, msg)
		}
		return nil, cimdURLRule(cimdRuleDotSegment, msg)
	}
	if path == "" {
		path = "/"
	}
	u.PathQuery = path
	if hasQuery {
		u.PathQuery += "?" + query
	}
	return u, nil
}

// cimdURIChars accepts only the characters RFC 3986 allows in a URI, with
// well-formed percent-escapes.
func cimdURIChars(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "malformed percent-encoding"
			}
			i += 2
		default:
			return "contains a character not allowed in a URL"
		}
	}
	return ""
}

// cimdPathSegments refuses dot segments in any spelling and encoded
// slashes or backslashes. path has passed cimdURIChars.
func cimdPathSegments(path string) string {
	lower := strings.ToLower(path)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "the path must not contain an encoded slash or backslash"
	}
	for _, seg := range strings.Split(path, "/") {
		d := cimdPercentDecode(seg)
		d, _, _ = strings.Cut(d, ";")
		if d == "." || d == ".." {
			return `the path must not contain "." or ".." segments, plain or percent-encoded`
		}
	}
	return ""
}

// cimdPercentDecode decodes %XX escapes; malformed escapes are kept as is.
func cimdPercentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// cimdValidPort accepts 1-65535 written without sign or leading zeros.
func cimdValidPort(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(s)
	return n >= 1 && n <= 65535
}

// cimdHostNumeric reports whether host would be read as an IPv4 address by
// some parser: its last label is all decimal digits, or "0x" followed by hex
// digits (WHATWG URL "ends in a number"). Such hosts cover "2130706433",
// "0x7f000001", "0x7f.1", "0177.0.0.1" and "127.1". No top-level domain is
// numeric (RFC 3696 §2), so no real host name is refused.
func cimdHostNumeric(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		for i := 2; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// cimdCheckHostName checks a DNS host name: 1-253 bytes, labels of 1-63
// letters, digits, "-" or "_", no trailing dot.
func cimdCheckHostName(h string) string {
	switch {
	case h == "":
		return "empty host name"
	case len(h) > 253:
		return "host name longer than 253 bytes"
	case strings.HasSuffix(h, "."):
		return "host name must not end with a dot"
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "each label of the host name must have 1 to 63 characters"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "the host name may contain only letters, digits, \"-\", \"_\" and dots"
			}
		}
	}
	return ""
}

// cimdSpecialUseName returns the reserved top-level domain host is under, or
// "". These are for local use only (RFC 6761, RFC 6762 appendix G, RFC 7686,
// RFC 8375, RFC 9476): documents are never fetched from hosts under them.
// "test" and "example" stay allowed, for tests. host is in lower case.
func cimdSpecialUseName(host string) string {
	tld := host[strings.LastIndexByte(host, '.')+1:]
	switch tld {
	case "localhost", "local", "internal", "intranet", "private", "corp", "home", "lan", "arpa", "onion", "invalid", "alt":
		return tld
	}
	return ""
}

// cimdHostMatch reports whether host (lower case) matches a pattern of
// allow_hosts / deny_hosts: an exact name, or "*.suffix" for any name
// strictly under suffix.
func cimdHostMatch(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == pattern
}

// hostDenied returns the deny_hosts pattern host matches, or "".
func (c *CIMDConfig) hostDenied(host string) string {
	for _, p := range c.DenyHosts {
		if cimdHostMatch(p, host) {
			return p
		}
	}
	return ""
}

// hostAllowed reports whether allow_hosts is empty or host matches it.
func (c *CIMDConfig) hostAllowed(host string) bool {
	if len(c.AllowHosts) == 0 {
		return true
	}
	for _, p := range c.AllowHosts {
		if cimdHostMatch(p, host) {
			return true
		}
	}
	return false
}

// vetURL applies the syntax rules and the configured host and port policy
// to a URL mcpgate is about to fetch. clientID selects the client ID rules
// (see parseVettedURL).
func (c *CIMDConfig) vetURL(s string, clientID bool) (*vettedURL, error) {
	u, err := parseVettedURL(s, clientID)
	if err != nil {
		return nil, err
	}
	if c.hostDenied(u.Host) != "" {
		return nil, cimdURLRule(cimdRuleHostDenied, "documents from this host are not accepted")
	}
	if !c.hostAllowed(u.Host) {
		return nil, cimdURLRule(cimdRuleHostNotAllowed, "documents from this host are not accepted")
	}
	if len(c.AllowedPorts) > 0 {
		ok := false
		for _, p := range c.AllowedPorts {
			ok = ok || p == u.Port
		}
		if !ok {
			return nil, cimdURLRule(cimdRulePortNotAllowed, "documents are not accepted from port "+strconv.Itoa(u.Port))
		}
	}
	return u, nil
}
