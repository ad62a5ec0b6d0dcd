// Package uri splits a URI reference into its components (RFC 3986 §3:
// "URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]") with the
// readings of the standard library's net/url, for the URLs mcpgate parses:
// redirect URIs, metadata document client ids, issuers and the endpoints
// of its configuration.
//
// It exists so that the filter does not link net/url's URL type, whose
// parser and errors bring in fmt and, behind it, reflect (0.36 MB of the
// wasm module with the rest of fmt's users; issue 14). Every URL it
// accepts, net/url accepts with the same components (FuzzAgainstNetURL).
// It is stricter than net/url in one place, the host: percent-escapes
// (net/url's "%xx" for non-ASCII and IPv6 zones) and bytes outside ASCII
// are refused there. Host names reach mcpgate as ASCII (RFC 5890 A-labels),
// and a host written two ways is a host compared two ways.
//
// The package is pure: functions of strings, no I/O. It imports the
// standard library only.
package uri

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
)

// URL is a parsed URI reference. The fields mean what net/url.URL's mean.
type URL struct {
	_        [0]func() // not comparable: no equality function in the wasm module
	Scheme   string    // lower case
	Opaque   string    // the hier-part of "scheme:opaque", which has no "/" first
	HasUser  bool      // an authority with userinfo ("user@host")
	Host     string    // host or host:port; IPv6 literals in brackets
	Path     string    // decoded
	RawPath  string    // the path as written, when it is not what Path encodes back to
	OmitHost bool      // "scheme:/path": a path, no authority
	// ForceQuery is a query that is only "?".
	ForceQuery bool
	RawQuery   string // without "?", not decoded
	Fragment   string // without "#", decoded

	raw string // what Parse read
}

// String is the text the URL was parsed from.
func (u *URL) String() string { return u.raw }

var (
	errCTL      = errors.New("uri: control character in URL")
	errScheme   = errors.New("uri: missing scheme before ':'")
	errColon    = errors.New("uri: first path segment in URL cannot contain colon")
	errEscape   = errors.New("uri: invalid percent-escape")
	errHost     = errors.New("uri: invalid host")
	errPort     = errors.New("uri: invalid port")
	errUserinfo = errors.New("uri: invalid userinfo")
)

// Parse parses s, an absolute URI or a relative reference. It fails where
// net/url.Parse fails, and on hosts with percent-escapes or non-ASCII
// bytes.
func Parse(s string) (*URL, error) {
	rest, frag, hasFrag := strings.Cut(s, "#")
	u, err := parse(rest)
	if err != nil {
		return nil, err
	}
	if hasFrag {
		if u.Fragment, err = unescape(frag); err != nil {
			return nil, err
		}
	}
	u.raw = s
	return u, nil
}

func parse(s string) (*URL, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return nil, errCTL
		}
	}
	u := &URL{}
	if s == "*" {
		u.Path = "*"
		return u, nil
	}
	scheme, rest, err := splitScheme(s)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.ToLower(scheme)
	// A lone "?" at the end is a present, empty query; otherwise the
	// query is everything after the first "?".
	if strings.HasSuffix(rest, "?") && strings.Count(rest, "?") == 1 {
		u.ForceQuery, rest = true, rest[:len(rest)-1]
	} else {
		rest, u.RawQuery, _ = strings.Cut(rest, "?")
	}
	if !strings.HasPrefix(rest, "/") {
		if u.Scheme != "" {
			u.Opaque = rest
			return u, nil
		}
		// RFC 3986 §4.2: "a path segment that contains a colon character
		// (e.g., "this:that") cannot be used as the first segment of a
		// relative-path reference, as it would be mistaken for a scheme
		// name".
		if seg, _, _ := strings.Cut(rest, "/"); strings.Contains(seg, ":") {
			return nil, errColon
		}
	}
	if strings.HasPrefix(rest, "//") && (u.Scheme != "" || !strings.HasPrefix(rest, "///")) {
		authority := rest[2:]
		rest = ""
		if i := strings.IndexByte(authority, '/'); i >= 0 {
			authority, rest = authority[:i], authority[i:]
		}
		if err := u.setAuthority(authority); err != nil {
			return nil, err
		}
	} else if u.Scheme != "" && strings.HasPrefix(rest, "/") {
		u.OmitHost = true
	}
	if u.Path, err = unescape(rest); err != nil {
		return nil, err
	}
	if escapePath(u.Path) != rest {
		u.RawPath = rest
	}
	return u, nil
}

// splitScheme splits "scheme:rest" (RFC 3986 §3.1: "scheme = ALPHA *(
// ALPHA / DIGIT / "+" / "-" / "." )"); without a scheme, rest is s.
func splitScheme(s string) (scheme, rest string, err error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return "", s, nil
			}
		case c == ':':
			if i == 0 {
				return "", "", errScheme
			}
			return s[:i], s[i+1:], nil
		default:
			return "", s, nil
		}
	}
	return "", s, nil
}

// setAuthority reads "[ userinfo "@" ] host [ ":" port ]" (RFC 3986
// §3.2). The userinfo ends at the last "@".
func (u *URL) setAuthority(a string) error {
	host := a
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		host = a[i+1:]
		if !validUserinfo(a[:i]) {
			return errUserinfo
		}
		u.HasUser = true
	}
	if err := checkHost(u.Scheme, host); err != nil {
		return err
	}
	u.Host = host
	return nil
}

// validUserinfo: net/url's characters of a userinfo (RFC 3986 §3.2.1 with
// "@"), with well-formed percent-escapes.
func validUserinfo(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && strings.IndexByte("-._:~!$&'()*+,;=%@", c) < 0 {
			return false
		}
	}
	_, err := unescape(s)
	return err == nil
}

// checkHost checks a host with its optional port: an IPv6 literal in
// brackets (RFC 3986 §3.2.2, without zones), or a name of the characters
// net/url allows unescaped in a host. With http and https the port begins
// at the first colon, as net/url reads them; with other schemes at the
// last.
func checkHost(scheme, h string) error {
	if i := strings.LastIndexByte(h, '['); i > 0 {
		return errHost
	} else if i == 0 {
		end := strings.LastIndexByte(h, ']')
		if end < 0 || !validPort(h[end+1:]) {
			return errHost
		}
		lit := h[1:end]
		if strings.IndexByte(lit, '%') >= 0 {
			return errHost // a zone, or an escape: refused here
		}
		a, err := netip.ParseAddr(lit)
		if err != nil || a.Is4() {
			return errHost
		}
		return nil
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		if scheme != "http" && scheme != "https" {
			i = strings.LastIndexByte(h, ':')
		}
		if !validPort(h[i:]) {
			return errPort
		}
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !alnum(c) && strings.IndexByte("-_.~!$&'()*+,;=:[]<>\"", c) < 0 {
			return errHost
		}
	}
	return nil
}

// validPort is "" or ":" followed by digits only.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if p[0] != ':' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// unescape decodes percent-escapes (RFC 3986 §2.1); a "%" not followed by
// two hexadecimal digits is an error. "+" stays "+".
func unescape(s string) (string, error) { return decode(s, false) }

// QueryUnescape decodes one name or value of an
// application/x-www-form-urlencoded query as net/url.QueryUnescape does
// (WHATWG URL §5.1: "+" is a space, "%" and two hexadecimal digits a
// byte); a "%" not followed by two hexadecimal digits is an error. It is
// not net/url's, which made the wasm module 8 KB larger (issue 14).
func QueryUnescape(s string) (string, error) { return decode(s, true) }

// decode is unescape, and also reads "+" as a space when plus is set.
func decode(s string, plus bool) (string, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", errEscape
			}
			n++
			i += 2
		case '+':
			if plus {
				n++
			}
		}
	}
	if n == 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		case c == '+' && plus:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

// QueryEscape encodes s for a name or value of an
// application/x-www-form-urlencoded query as net/url.QueryEscape does:
// letters, digits and "-_.~" as they are, a space as "+", every other byte
// as "%" and two upper-case hexadecimal digits.
func QueryEscape(s string) string { return escape(s, queryKeeps, true) }

// queryKeeps reports whether a query name or value keeps c unescaped: the
// unreserved characters.
func queryKeeps(c byte) bool { return alnum(c) || strings.IndexByte("-_.~", c) >= 0 }

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// pathKeeps reports whether a path keeps c unescaped: unreserved
// characters and "$&+,/:;=@" (net/url escapes the other sub-delimiters
// and "?" in a path).
func pathKeeps(c byte) bool {
	return alnum(c) || strings.IndexByte("-_.~$&+,/:;=@", c) >= 0
}

// escapePath is the path p percent-encoded, as net/url writes a path.
func escapePath(p string) string { return escape(p, pathKeeps, false) }

// escape writes every byte of s that keep refuses as "%" and two upper-case
// hexadecimal digits, or a space as "+" when plus is set.
func escape(s string, keep func(byte) bool, plus bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case keep(c):
			b = append(b, c)
		case c == ' ' && plus:
			b = append(b, '+')
		default:
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// validEncodedPath reports whether s may stand as written for a path:
// every byte one a path keeps, a sub-delimiter or bracket, or "%".
func validEncodedPath(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !pathKeeps(c) && strings.IndexByte("!'()*[]%", c) < 0 {
			return false
		}
	}
	return true
}

// IsAbs reports whether the URL has a scheme.
func (u *URL) IsAbs() bool { return u.Scheme != "" }

// Hostname is the host without its port and without the brackets of an
// IPv6 literal.
func (u *URL) Hostname() string {
	h, _ := splitHostPort(u.Host)
	return h
}

// Port is the port of the host, or "".
func (u *URL) Port() string {
	_, p := splitHostPort(u.Host)
	return p
}

func splitHostPort(hp string) (host, port string) {
	host = hp
	if i := strings.LastIndexByte(host, ':'); i >= 0 && validPort(host[i:]) {
		host, port = host[:i], host[i+1:]
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return host, port
}

// EscapedPath is the path as it goes on the wire: as written when that is
// a valid encoding of Path, else Path encoded.
func (u *URL) EscapedPath() string {
	if u.RawPath != "" && validEncodedPath(u.RawPath) {
		if p, err := unescape(u.RawPath); err == nil && p == u.Path {
			return u.RawPath
		}
	}
	if u.Path == "*" {
		return "*"
	}
	return escapePath(u.Path)
}

// RequestURI is the request-target of an HTTP request for the URL: the
// path (or "/") and the query.
func (u *URL) RequestURI() string {
	r := u.Opaque
	if r == "" {
		if r = u.EscapedPath(); r == "" {
			r = "/"
		}
	} else if strings.HasPrefix(r, "//") {
		r = u.Scheme + ":" + r
	}
	if u.ForceQuery || u.RawQuery != "" {
		r += "?" + u.RawQuery
	}
	return r
}

var (
	errSemicolon = errors.New("uri: semicolon in query")
	errTooMany   = errors.New("uri: more than 10000 query parameters")
)

// maxParams is net/url's default limit on the pairs of one query.
const maxParams = 10000

// ParseQuery reads an application/x-www-form-urlencoded query as
// net/url.ParseQuery does: "&"-separated, "+" for space, a pair with a
// semicolon or a malformed escape skipped and reported as the first error.
func ParseQuery(q string) (url.Values, error) {
	m := url.Values{}
	if strings.Count(q, "&") >= maxParams {
		return m, errTooMany
	}
	var first error
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if strings.IndexByte(pair, ';') >= 0 {
			if first == nil {
				first = errSemicolon
			}
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := QueryUnescape(k)
		if err == nil {
			v, err = QueryUnescape(v)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		m[k] = append(m[k], v)
	}
	return m, first
}
