package netguard

import (
	"strconv"
	"strings"
)

// URLs that mcpgate fetches or shows: Client ID Metadata Document URLs
// (CIMD draft §3), jwks_uri and logo_uri.
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
//   - The scheme must be written "https" in lower case, as mcpgate
//     recognises a client metadata URL; "HTTPS://" is not one.
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

// MaxURLLength bounds a URL.
const MaxURLLength = 2048

// URLError names the rule a URL broke. Rule is a stable
// identifier (tests and logs use it); Detail is safe to show to the user.
type URLError struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	Rule   string
	Detail string
}

func (e *URLError) Error() string { return "url rule " + e.Rule + ": " + e.Detail }

// Rules of [URLError].
const (
	RuleLength         = "length"
	RuleCharacters     = "characters"
	RuleScheme         = "scheme"
	RuleFragment       = "fragment"
	RuleUserinfo       = "userinfo"
	RuleIPLiteral      = "ip_literal"
	RuleHost           = "host"
	RuleSpecialUseName = "special_use_name"
	RulePort           = "port"
	RulePath           = "path"
	RuleDotSegment     = "dot_segment"
	RuleEncodedSlash   = "encoded_slash"
	RuleQuery          = "query"
	RuleHostDenied     = "host_denied"
	RuleHostNotAllowed = "host_not_allowed"
	RulePortNotAllowed = "port_not_allowed"
)

// RuleError returns a [URLError] for rule, with a detail safe to show.
func RuleError(rule, detail string) error { return &URLError{Rule: rule, Detail: detail} }

// URL is a vetted URL, split for the fetcher.
type URL struct {
	_ [0]func() // not comparable: no equality function in the wasm module
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

// ParseURL checks and splits an https URL that mcpgate would fetch or
// show, on syntax alone (host allow and deny lists are the caller's). The
// error is a *[URLError] naming the rule. clientID applies the rules specific to client IDs: a path other
// than "/" and no query. Without it (jwks_uri, logo_uri) the path may be
// empty or "/" and a query is allowed.
func ParseURL(s string, clientID bool) (*URL, error) {
	if len(s) > MaxURLLength {
		return nil, RuleError(RuleLength, "longer than "+strconv.Itoa(MaxURLLength)+" bytes")
	}
	if msg := uriChars(s); msg != "" {
		return nil, RuleError(RuleCharacters, msg)
	}
	if !strings.HasPrefix(s, "https://") {
		return nil, RuleError(RuleScheme, `must start with "https://"`)
	}
	if strings.IndexByte(s, '#') >= 0 {
		return nil, RuleError(RuleFragment, "must not have a fragment")
	}
	rest := s[len("https://"):]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	if strings.IndexByte(authority, '@') >= 0 {
		return nil, RuleError(RuleUserinfo, "must not contain userinfo")
	}
	if strings.HasPrefix(authority, "[") {
		return nil, RuleError(RuleIPLiteral, "the host must be a domain name, not an IP address")
	}
	host, port, hasPort := strings.Cut(authority, ":")
	u := &URL{Raw: s, Port: 443}
	if hasPort {
		if !ValidPort(port) {
			return nil, RuleError(RulePort, "the port must be a number between 1 and 65535 without leading zeros")
		}
		u.Port, _ = strconv.Atoi(port)
	}
	if host == "" {
		return nil, RuleError(RuleHost, "must have a host")
	}
	if hostNumeric(host) {
		return nil, RuleError(RuleIPLiteral, "the host must be a domain name, not an IP address")
	}
	if msg := CheckHostName(host); msg != "" {
		return nil, RuleError(RuleHost, msg)
	}
	u.Host = strings.ToLower(host)
	if !strings.Contains(u.Host, ".") {
		return nil, RuleError(RuleHost, "the host must be a fully qualified domain name")
	}
	if name := specialUseName(u.Host); name != "" {
		return nil, RuleError(RuleSpecialUseName, "the host is under "+name+", a name reserved for local use")
	}
	u.Authority = u.Host
	if hasPort {
		u.Authority += ":" + port
	}

	path, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && clientID {
		return nil, RuleError(RuleQuery, "must not have a query")
	}
	if clientID && (path == "" || path == "/") {
		return nil, RuleError(RulePath, `must have a path other than "/"`)
	}
	if msg := pathSegments(path); msg != "" {
		if strings.Contains(msg, "slash") {
			return nil, RuleError(RuleEncodedSlash, msg)
		}
		return nil, RuleError(RuleDotSegment, msg)
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

// uriChars accepts only the characters RFC 3986 allows in a URI, with
// well-formed percent-escapes.
func uriChars(s string) string {
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

// pathSegments refuses dot segments in any spelling and encoded
// slashes or backslashes. path has passed uriChars.
func pathSegments(path string) string {
	lower := strings.ToLower(path)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "the path must not contain an encoded slash or backslash"
	}
	for _, seg := range strings.Split(path, "/") {
		d := percentDecode(seg)
		d, _, _ = strings.Cut(d, ";")
		if d == "." || d == ".." {
			return `the path must not contain "." or ".." segments, plain or percent-encoded`
		}
	}
	return ""
}

// percentDecode decodes %XX escapes; malformed escapes are kept as is.
func percentDecode(s string) string {
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

// ValidPort accepts 1-65535 written without sign or leading zeros.
func ValidPort(s string) bool {
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

// hostNumeric reports whether host would be read as an IPv4 address by
// some parser: its last label is all decimal digits, or "0x" followed by hex
// digits (WHATWG URL "ends in a number"). Such hosts cover "2130706433",
// "0x7f000001", "0x7f.1", "0177.0.0.1" and "127.1". No top-level domain is
// numeric (RFC 3696 §2), so no real host name is refused.
func hostNumeric(host string) bool {
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

// CheckHostName checks a DNS host name: 1-253 bytes, labels of 1-63
// letters, digits, "-" or "_", no trailing dot.
func CheckHostName(h string) string {
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

// specialUseName returns the reserved top-level domain host is under, or
// "". These are for local use only (RFC 6761, RFC 6762 appendix G, RFC 7686,
// RFC 8375, RFC 9476): documents are never fetched from hosts under them.
// "test" and "example" stay allowed, for tests. host is in lower case.
func specialUseName(host string) string {
	tld := host[strings.LastIndexByte(host, '.')+1:]
	switch tld {
	case "localhost", "local", "internal", "intranet", "private", "corp", "home", "lan", "arpa", "onion", "invalid", "alt":
		return tld
	}
	return ""
}

// HostMatch reports whether host (lower case) matches a host pattern of
// the configuration (cimd.allow_hosts, cimd.deny_hosts): an exact name, or "*.suffix" for any name
// strictly under suffix.
func HostMatch(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == pattern
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
