package authcore

import "strings"

// OAuth 2.1 §7.12.2 (the authorization server as open redirector): "The
// authorization server MUST only automatically redirect the user agent if
// it trusts the redirection URI. If the URI is not trusted, the
// authorization server MAY inform the user and rely on the user to make
// the correct decision."
//
// mcpgate trusts only the redirect URIs of pre-registered clients, which
// the operator vetted. A dynamically registered (RFC 7591) or metadata
// document (CIMD) client chose its own, so an error for it is never
// redirected automatically: the user sees a page that says what went
// wrong, which host the application lives at, and a link that carries the
// error response (error, state and iss, RFC 9207 §2) to the application,
// to follow only if the user started it.

// authorizeErrorFor answers an authorization error that may go back to the
// client: a redirect for a pre-registered client, the error page with a link
// for any other. status is the page's status.
func (e *Engine) authorizeErrorFor(c *Client, ar *authzRequest, code, desc string, status int) Reply {
	redirect := e.redirectError(ar, code, desc, 302, nil)
	if c != nil && c.Source == ClientPreRegistered {
		return redirect
	}
	return e.errorLinkPage(status, c, ar, &Error{Code: code, Description: desc, Status: status}, redirect.Headers.Get("location"))
}

// errorLinkView is what the error page with a link shows.
type errorLinkView struct {
	Code, Description string
	// SelfRegistered says the client chose its own redirect URI, which is
	// why the user is not sent back automatically.
	SelfRegistered bool
	// ClientName is the name the client gave itself (unverified).
	ClientName string
	// SourceHost is a CIMD client's client_id host: who vouches for it.
	SourceHost string
	// Host is where the link goes: the redirect URI's host or scheme.
	Host string
	Link string
}

// errorLinkPage renders an authorization error with a link back to the
// client, never a Location header.
func (e *Engine) errorLinkPage(status int, c *Client, ar *authzRequest, oe *Error, location string) Reply {
	v := errorLinkView{Code: oe.Code, Description: oe.Description, Host: redirectHost(ar.RedirectURI)}
	if c != nil {
		v.ClientName = c.Name
		v.SelfRegistered = c.Source != ClientPreRegistered
		if c.Source == ClientMetadataDocument {
			v.SourceHost = hostOf(c.ID)
		}
	}
	// The redirect URI passed checkRedirectURI at registration: https,
	// loopback http or a private-use scheme in reverse domain form, never
	// javascript: or data:; checked again here, as the link is the one URL
	// of the page built from a client's value.
	if scheme, _, ok := strings.Cut(location, ":"); ok && safeLinkScheme(scheme) {
		v.Link = location
	}
	return htmlReply(status, pageCSP, renderErrorLinkPage(v), nil)
}

// safeLinkScheme refuses the schemes that run or embed content.
func safeLinkScheme(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "javascript", "data", "vbscript", "blob", "file":
		return false
	}
	return scheme != ""
}

// renderErrorLinkPage writes the error page with the client's host and
// the link. Every value goes through appendHTML (consent_page.go).
func renderErrorLinkPage(v errorLinkView) []byte {
	b := make([]byte, 0, 3072)
	b = append(b, pageHead...)
	b = append(b, "<meta name=\"referrer\" content=\"no-referrer\">\n<title>Authorization error</title>\n<style>"+pageStyle+"</style>\n</head>\n<body>\n<main>\n<h1>The authorization request cannot be completed</h1>\n<p>"...)
	b = appendHTML(b, v.Description)
	b = append(b, "</p>\n<dl>"...)
	if v.ClientName != "" {
		b = append(b, "\n<dt>Application</dt><dd>"...)
		b = appendHTML(b, v.ClientName)
		if v.SelfRegistered {
			b = append(b, " <span class=\"unverified\">(name not verified)</span>"...)
		}
		b = append(b, "</dd>"...)
	}
	if v.SourceHost != "" {
		b = append(b, "\n<dt>Published by</dt><dd><strong>"...)
		b = appendHTML(b, v.SourceHost)
		b = append(b, "</strong></dd>"...)
	}
	b = append(b, "\n<dt>Returns to</dt><dd><strong>"...)
	b = appendHTML(b, v.Host)
	b = append(b, "</strong></dd>\n</dl>\n"...)
	if v.SelfRegistered {
		b = append(b, "<p class=\"note\">This application registered itself, so this server does not send you back to it on its own. If you started it, you can tell it what happened:</p>\n"...)
	} else {
		b = append(b, "<p class=\"note\">You can tell the application what happened:</p>\n"...)
	}
	if v.Link != "" {
		b = append(b, "<p><a href=\""...)
		b = appendHTML(b, v.Link)
		b = append(b, "\">Return to "...)
		b = appendHTML(b, v.Host)
		b = append(b, "</a></p>\n"...)
	}
	b = append(b, "<p class=\"note\">Error: <code>"...)
	b = appendHTML(b, v.Code)
	b = append(b, "</code>. Otherwise you can close this window.</p>\n</main>\n</body>\n</html>\n"...)
	return b
}
