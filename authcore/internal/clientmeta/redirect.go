package clientmeta

import (
	"net/netip"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// Kind is the kind of a redirect URI.
type Kind int

// Kinds of redirect URI.
const (
	Invalid    Kind = iota
	HTTPS           // https
	Loopback        // http on a loopback host (RFC 8252 §7.3)
	PrivateUse      // a private-use URI scheme (RFC 8252 §7.1)
)

// Bounds on redirect URIs.
const (
	MaxRedirectURILen = 1024
	MaxRedirectURIs   = 10
)

// reservedParams are the authorization response parameters mcpgate
// appends; a registered redirect URI whose query already holds one would
// make the response carry it twice (RFC 9207 wants iss exactly once).
var reservedParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

// CheckRedirectURI validates a redirect URI for registration (RFC 7591
// §2, OAuth 2.1 §2.3.1, OpenID Connect Dynamic Client Registration 1.0 §2
// application_type) and returns its kind, or a message saying what is
// wrong. appType is "web", "native" or "" (not given):
//
//   - "https" URIs are allowed for every type, except that a "web" client
//     may not use a loopback host;
//   - "http" is allowed only on a loopback host ("localhost", 127.0.0.0/8,
//     "[::1]"; RFC 8252 §7.3), and not for a "web" client;
//   - any other scheme is a private-use scheme, allowed only for a client
//     that is not "web", and only in reverse-domain form: OAuth 2.1
//     §2.3.1 ("MUST ... contain a period"), which also keeps out
//     "javascript:", "data:" and "file:".
//
// Every URI must be absolute, ASCII without spaces or controls, without
// fragment (RFC 6749 §3.1.2) or userinfo, with a port, when it has one,
// of 1 to 65535 written without leading zeros; its query must not already
// carry a response parameter.
func CheckRedirectURI(raw, appType string) (Kind, string) {
	if raw == "" {
		return Invalid, "is empty"
	}
	if len(raw) > MaxRedirectURILen {
		return Invalid, "is too long"
	}
	if strings.Contains(raw, "#") {
		return Invalid, "must not contain a fragment"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] >= 0x7f {
			return Invalid, "must not contain spaces, control or non-ASCII characters"
		}
	}
	u, err := uri.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Invalid, "must be an absolute URI"
	}
	if u.HasUser {
		return Invalid, "must not contain userinfo"
	}
	if !strings.HasPrefix(raw, u.Scheme+":") {
		// uri.Parse lower-cases the scheme; the registered string is what
		// is compared later, so it must already be in canonical form.
		return Invalid, "scheme must be lower case"
	}
	q, err := uri.ParseQuery(u.RawQuery)
	if err != nil {
		return Invalid, "has a malformed query"
	}
	for _, p := range reservedParams {
		if q.Has(p) {
			return Invalid, "must not carry the response parameter " + p + " in its query"
		}
	}
	if u.Host != "" && !validAuthorityPort(u.Host) {
		return Invalid, "must have a port from 1 to 65535, without leading zeros, or none"
	}
	switch scheme := u.Scheme; {
	case scheme == "https":
		if u.Host == "" || u.Opaque != "" {
			return Invalid, "must name a host"
		}
		if appType == AppTypeWeb && IsLoopbackHost(u.Hostname()) {
			return Invalid, `a "web" client must not use a loopback host; register as "native"`
		}
		return HTTPS, ""
	case scheme == "http":
		if u.Host == "" || u.Opaque != "" || !IsLoopbackHost(u.Hostname()) {
			return Invalid, "http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https"
		}
		if appType == AppTypeWeb {
			return Invalid, `a "web" client must use https; loopback redirects need application_type "native"`
		}
		return Loopback, ""
	default:
		if !strings.Contains(scheme, ".") {
			return Invalid, "a private-use scheme must be in reverse domain form, such as com.example.app (OAuth 2.1 §2.3.1)"
		}
		if appType == AppTypeWeb {
			return Invalid, `a "web" client must use https; private-use schemes need application_type "native"`
		}
		return PrivateUse, ""
	}
}

// validAuthorityPort reports whether the authority host[:port] has no port
// or a valid one (a bare ":" is refused: RFC 3986 allows it, but it would
// be one more spelling of the same URI).
func validAuthorityPort(authority string) bool {
	i := strings.LastIndexByte(authority, ':')
	if i < 0 || strings.HasSuffix(authority, "]") {
		return true
	}
	return netguard.ValidPort(authority[i+1:])
}

// KindOf classifies a redirect URI that was accepted at registration.
func KindOf(raw string) Kind {
	k, _ := CheckRedirectURI(raw, "")
	return k
}

// AllLoopback reports whether every one of uris is a loopback redirect, so
// that the client can only send the user's browser back to the user's own
// machine (the consent page warns about such clients).
func AllLoopback(uris []string) bool {
	for _, r := range uris {
		if KindOf(r) != Loopback {
			return false
		}
	}
	return len(uris) > 0
}

// MatchRedirectURI returns the registered redirect URI that given selects,
// or "" when none does. Matching is exact string comparison (OAuth 2.1
// §4.1.1: "MUST ... using simple string comparison"), except that for a
// registered http loopback URI the port may differ (OAuth 2.1 §8.4.2, RFC
// 8252 §7.3: "MUST allow any port to be specified at the time of the
// request for loopback IP redirect URIs"), as long as it is a port (1 to
// 65535). The host, path and query still match exactly, so "localhost"
// never matches "127.0.0.1".
func MatchRedirectURI(registered []string, given string) string {
	for _, r := range registered {
		if r == given {
			return r
		}
	}
	gHost, gRest, ok := splitLoopbackURI(given)
	if !ok {
		return ""
	}
	for _, r := range registered {
		if rHost, rRest, ok := splitLoopbackURI(r); ok && rHost == gHost && rRest == gRest {
			return r
		}
	}
	return ""
}

// splitLoopbackURI splits "http://host[:port]rest" with a loopback host
// and a valid port (or none) into host and rest, without normalising
// anything.
func splitLoopbackURI(s string) (host, rest string, ok bool) {
	after, found := strings.CutPrefix(s, "http://")
	if !found {
		return "", "", false
	}
	i := strings.IndexAny(after, "/?#")
	if i < 0 {
		i = len(after)
	}
	authority, rest := after[:i], after[i:]
	if strings.Contains(rest, "#") || strings.ContainsAny(authority, "@%") {
		return "", "", false
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", false
		}
		host, port = authority[:end+1], authority[end+1:]
	} else if j := strings.LastIndexByte(authority, ':'); j >= 0 {
		host, port = authority[:j], authority[j:]
	}
	if port != "" && (port[0] != ':' || !netguard.ValidPort(port[1:])) {
		return "", "", false
	}
	if !IsLoopbackHost(strings.Trim(host, "[]")) {
		return "", "", false
	}
	return host, rest, true
}

// IsLoopbackHost reports whether host names the local machine: "localhost"
// (RFC 6761 §6.3), an address in 127.0.0.0/8, or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
