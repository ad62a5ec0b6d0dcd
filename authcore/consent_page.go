package authcore

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// The authorization server's HTML: the consent page and the error page.
// Both are server-rendered, need no JavaScript, load nothing, and cannot be
// framed.

// pageCSP is the Content-Security-Policy of every page: nothing may load
// but inline style, no one may frame the page (clickjacking on the
// "Allow" button), and forms post only to this origin.
const pageCSP = "frame-ancestors 'none'; default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

// consentView is what the consent page shows (MCP 2026-07-28 security
// considerations: the client's name, the redirect URI's host, a warning
// when every redirect URI is loopback; CIMD §6.4: the client_id host).
type consentView struct {
	ClientName   string
	ClientID     string
	Source       ClientSource
	SourceHost   string
	RedirectHost string
	AllLoopback  bool
	Subject      string
	ResourceName string
	ResourceURI  string
	Scopes       []string
	Action       string
	Ticket       string
	CSRF         string
	Remember     string
}

// consentPage renders the consent page. Its CSP's form-action also allows
// the redirect URI's origin: browsers apply form-action to the redirects
// that follow a form submission, and the consent post answers with a 303
// to the client.
func (e *Engine) consentPage(v consentView, redirectURI string, extra Header) Reply {
	csp := pageCSP
	if src := cspSource(redirectURI); src != "" {
		csp += " " + src
	}
	return htmlReply(200, csp, renderConsent(v), extra)
}

// errorPage renders an authorization error for the user, for the cases that
// must not be redirected (O21 §4.1.2.1: "the authorization server SHOULD
// inform the resource owner of the error"). No Location header, ever.
func (e *Engine) errorPage(status int, oe *Error) Reply {
	if oe.Cause != nil {
		e.log(LogInfo, "mcpgate: authorization error page: "+oe.Error())
	}
	if status == 0 {
		status = 400
	}
	desc := oe.Description
	if oe.Code == ErrCodeServerError {
		desc = "Something went wrong on the server. Try again later."
	}
	return htmlReply(status, pageCSP, renderErrorPage(oe.Code, desc), nil)
}

func htmlReply(status int, csp string, body []byte, extra Header) Reply {
	h := Header{
		{"content-type", "text/html; charset=utf-8"},
		{"cache-control", "no-store"},
		{"content-security-policy", csp},
		{"x-frame-options", "DENY"},
		{"x-content-type-options", "nosniff"},
		// same-origin, not no-referrer: a browser serializes the Origin of
		// a form POST as "null" under no-referrer (Fetch §3.2.5), and the
		// consent POST's Origin must be the issuer's to pass
		// sameOriginPost. Other origins still get no Referer.
		{"referrer-policy", "same-origin"},
	}
	return Reply{Status: status, Headers: append(h, extra...), Body: body}
}

// cspSource returns the CSP source expression of a redirect URI's origin
// ("https://app.example.com", "http://127.0.0.1:5432", "com.example.app:"),
// or "" when it cannot be written safely.
func cspSource(raw string) string {
	u, err := uri.Parse(raw)
	if err != nil {
		return ""
	}
	var s string
	if u.Host != "" {
		s = u.Scheme + "://" + u.Host
	} else {
		s = u.Scheme + ":"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-+:/[]", c) >= 0) {
			return ""
		}
	}
	return s
}

// redirectHost is what the user is told the browser will go back to: the
// host (and port) of an http(s) redirect URI, or the private-use scheme.
func redirectHost(raw string) string {
	u, err := uri.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":"
}

// hostOf returns the host of a URL client id, or "".
func hostOf(id string) string {
	u, err := uri.Parse(id)
	if err != nil {
		return ""
	}
	return u.Host
}

// humanDuration renders d for a sentence: "30 days", "12 hours", "".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d >= 48*time.Hour:
		return itoa(int(d/(24*time.Hour))) + " days"
	case d >= 2*time.Hour:
		return itoa(int(d/time.Hour)) + " hours"
	}
	return itoa(int(d/time.Minute)) + " minutes"
}

const pageStyle = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1d2330;margin:0;padding:2rem 1rem}
main{max-width:34rem;margin:0 auto;background:#fff;border-radius:10px;padding:1.5rem 1.75rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.3rem;margin:0 0 .75rem}
.src{color:#505a6b;margin:.25rem 0 1rem}
.unverified{color:#8a3c00;font-weight:600}
.warn{background:#fff4e0;border:1px solid #f0b35a;border-radius:6px;padding:.6rem .8rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem;margin:1rem 0}
dt{color:#505a6b}dd{margin:0;overflow-wrap:anywhere}
ul{margin:0;padding-left:1.1rem}
code{font-size:.9em}
.buttons{display:flex;gap:.75rem;margin-top:1.25rem}
button{font-size:1rem;padding:.55rem 1.3rem;border-radius:6px;border:1px solid #b8bfcc;background:#fff;cursor:pointer}
button.allow{background:#1f5fd6;border-color:#1f5fd6;color:#fff}
.note{color:#505a6b;font-size:.9rem}
`

// pageHead is the start of every page up to the title.
const pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
`

// renderConsent writes the consent page. Every value from the request,
// the client or the user goes through appendHTML; the page has no script
// and no URL built from such a value (the form's action is the configured
// consent endpoint).
func renderConsent(v consentView) []byte {
	b := make([]byte, 0, 4096)
	b = append(b, pageHead...)
	b = append(b, "<meta name=\"referrer\" content=\"same-origin\">\n<title>Allow access?</title>\n<style>"+pageStyle+"</style>\n</head>\n<body>\n<main>\n<h1>Allow "...)
	if v.ClientName != "" {
		b = append(b, "&ldquo;"...)
		b = appendHTML(b, v.ClientName)
		b = append(b, "&rdquo;"...)
	} else {
		b = append(b, "an unnamed application"...)
	}
	b = append(b, " to access "...)
	if v.ResourceName != "" {
		b = appendHTML(b, v.ResourceName)
	} else {
		b = append(b, "this server"...)
	}
	b = append(b, "?</h1>"...)
	switch v.Source {
	case 1:
		b = append(b, "\n<p class=\"src\">This application was registered by the operator of this server.</p>"...)
	case 2:
		b = append(b, "\n<p class=\"src\">This application is identified by a document published at <strong>"...)
		b = appendHTML(b, v.SourceHost)
		b = append(b, "</strong>.</p>"...)
	default:
		b = append(b, "\n<p class=\"src unverified\">Unverified: this application registered itself. Its name was not checked; continue only if you started it.</p>"...)
	}
	if v.AllLoopback {
		b = append(b, "\n<p class=\"warn\">This application receives the access on your own computer ("...)
		b = appendHTML(b, v.RedirectHost)
		b = append(b, "). Any program on this computer could be listening there: allow only if you just started this application yourself.</p>"...)
	}
	b = append(b, "\n<dl>\n<dt>Signed in as</dt><dd>"...)
	b = appendHTML(b, v.Subject)
	b = append(b, "</dd>\n<dt>Resource</dt><dd><code>"...)
	b = appendHTML(b, v.ResourceURI)
	b = append(b, "</code></dd>\n<dt>Access</dt><dd>"...)
	if len(v.Scopes) > 0 {
		b = append(b, "<ul>"...)
		for _, s := range v.Scopes {
			b = append(b, "<li><code>"...)
			b = appendHTML(b, s)
			b = append(b, "</code></li>"...)
		}
		b = append(b, "</ul>"...)
	} else {
		b = append(b, "basic access"...)
	}
	b = append(b, "</dd>\n<dt>Returns to</dt><dd><strong>"...)
	b = appendHTML(b, v.RedirectHost)
	b = append(b, "</strong></dd>\n</dl>\n<form method=\"post\" action=\""...)
	b = appendHTML(b, v.Action)
	b = append(b, "\">\n<input type=\"hidden\" name=\"ticket\" value=\""...)
	b = appendHTML(b, v.Ticket)
	b = append(b, "\">\n<input type=\"hidden\" name=\"csrf\" value=\""...)
	b = appendHTML(b, v.CSRF)
	b = append(b, "\">\n<div class=\"buttons\">\n<button class=\"allow\" type=\"submit\" name=\"action\" value=\"approve\">Allow</button>\n<button type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\n</div>\n</form>"...)
	if v.Remember != "" {
		b = append(b, "\n<p class=\"note\">If you allow, you will not be asked again for this application for "...)
		b = appendHTML(b, v.Remember)
		b = append(b, ".</p>"...)
	}
	b = append(b, "\n</main>\n</body>\n</html>\n"...)
	return b
}

// renderErrorPage writes the authorization error page.
func renderErrorPage(code, description string) []byte {
	b := make([]byte, 0, 2048)
	b = append(b, pageHead...)
	b = append(b, "<title>Authorization error</title>\n<style>"+pageStyle+"</style>\n</head>\n<body>\n<main>\n<h1>The authorization request cannot be completed</h1>\n<p>"...)
	b = appendHTML(b, description)
	b = append(b, "</p>\n<p class=\"note\">Error: <code>"...)
	b = appendHTML(b, code)
	b = append(b, "</code>. You can close this window.</p>\n</main>\n</body>\n</html>\n"...)
	return b
}

// appendHTML appends s escaped for HTML text and for a double- or
// single-quoted attribute value (HTML Living Standard §13.1.2.3, §13.1.4):
// the five characters that can end a text run or an attribute value or
// start markup or a character reference become character references, NUL
// becomes U+FFFD (§13.2.5.1: a parse error in text), and invalid UTF-8
// becomes U+FFFD, so the output is always well-formed UTF-8.
func appendHTML(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				b = append(b, "&amp;"...)
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			case '"':
				b = append(b, "&#34;"...)
			case '\'':
				b = append(b, "&#39;"...)
			case 0:
				b = append(b, "\uFFFD"...)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}
