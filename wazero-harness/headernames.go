package harness

import (
	"net/http"
	"strconv"
	"strings"
)

// commonHeaders lists header names that most requests and responses carry,
// so converting them between Go's canonical form and Envoy's lower case
// does not allocate a string per header per request.
var commonHeaders = []string{
	"accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
	"access-control-allow-credentials", "access-control-allow-headers",
	"access-control-allow-methods", "access-control-allow-origin",
	"access-control-expose-headers", "access-control-max-age",
	"access-control-request-headers", "access-control-request-method",
	"age", "allow", "authorization", "cache-control", "connection",
	"content-disposition", "content-encoding", "content-language", "content-length",
	"content-location", "content-range", "content-type", "cookie", "date", "dnt", "etag",
	"expect", "expires", "forwarded", "from", "host", "if-match", "if-modified-since",
	"if-none-match", "if-range", "if-unmodified-since", "keep-alive", "last-event-id",
	"last-modified", "link", "location", "max-forwards", "mcp-protocol-version",
	"mcp-session-id", "origin", "pragma", "proxy-authenticate", "proxy-authorization",
	"proxy-connection", "range", "referer", "retry-after", "sec-fetch-dest",
	"sec-fetch-mode", "sec-fetch-site", "sec-fetch-user", "server", "set-cookie",
	"strict-transport-security", "te", "trailer", "transfer-encoding", "upgrade",
	"user-agent", "vary", "via", "www-authenticate", "x-content-type-options",
	"x-envoy-original-dst-host", "x-forwarded-for", "x-forwarded-host",
	"x-forwarded-proto", "x-frame-options", "x-real-ip", "x-request-id",
}

var (
	lowerOf     = make(map[string]string, len(commonHeaders)) // canonical -> lower case
	canonicalOf = make(map[string]string, len(commonHeaders)) // lower case -> canonical
)

func init() {
	for _, lower := range commonHeaders {
		canonical := http.CanonicalHeaderKey(lower)
		lowerOf[canonical] = lower
		canonicalOf[lower] = canonical
	}
}

// lowerName returns name in lower case, as Envoy keeps header names. It
// allocates only for an uncommon name that has upper-case letters.
func lowerName(name string) string {
	if l, ok := lowerOf[name]; ok {
		return l
	}
	return strings.ToLower(name) // returns name itself when it has no upper case
}

// canonicalName returns http.CanonicalHeaderKey(name) for a lower-case
// name, without allocating for common names.
func canonicalName(name string) string {
	if c, ok := canonicalOf[name]; ok {
		return c
	}
	return http.CanonicalHeaderKey(name)
}

// statusStrings holds the decimal forms of the status codes 100-599.
var statusStrings [500]string

func init() {
	for i := range statusStrings {
		statusStrings[i] = strconv.Itoa(100 + i)
	}
}

// statusString returns strconv.Itoa(status), without allocating for the
// usual status codes.
func statusString(status int) string {
	if status >= 100 && status < 600 {
		return statusStrings[status-100]
	}
	return strconv.Itoa(status)
}
