package authcore

import (
	"strings"
)

// browserCookie is the base name of the cookie that binds a login and a
// consent form to the browser that started them. Its value is 32 random
// bytes; sealed login state and consent tickets carry only its hash.
const browserCookie = "mcpgate-browser"

// cookieName prefixes name with "__Host-" on an https issuer, which makes
// browsers insist on Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2),
// so that no sibling host can plant it. On an http loopback issuer the
// prefix cannot be used and the plain name is.
func (c *Config) cookieName(name string) string {
	if c.issuerURL != nil && c.issuerURL.Scheme == "https" {
		return "__Host-" + name
	}
	return name
}

// setCookie renders a Set-Cookie value: HttpOnly, SameSite=Lax (the login
// callback and the consent post are top-level navigations from elsewhere
// or same-site), Path=/, Secure unless turned off for an http loopback
// issuer. maxAge < 0 deletes the cookie; 0 makes a session cookie.
func (c *Config) setCookie(name, value string, maxAge int) string {
	var b strings.Builder
	b.WriteString(c.cookieName(name))
	b.WriteByte('=')
	b.WriteString(value)
	b.WriteString("; Path=/; HttpOnly; SameSite=Lax")
	if c.AS.Cookies.Secure || c.issuerURL == nil || c.issuerURL.Scheme == "https" {
		b.WriteString("; Secure")
	}
	switch {
	case maxAge < 0:
		b.WriteString("; Max-Age=0")
	case maxAge > 0:
		b.WriteString("; Max-Age=")
		b.WriteString(itoa(maxAge))
	}
	return b.String()
}

// readCookie returns the value of the named cookie (already prefixed) from
// every Cookie header of the request: HTTP/2 may split the header into one
// field per cookie (RFC 9113 §8.2.3). A name sent twice is ambiguous and
// yields "".
func readCookie(h Header, name string) string {
	var val string
	n := 0
	for _, kv := range h {
		if kv[0] != "cookie" {
			continue
		}
		for part := range strings.SplitSeq(kv[1], ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				val = strings.Trim(v, `"`)
				n++
			}
		}
	}
	if n != 1 {
		return ""
	}
	return val
}
