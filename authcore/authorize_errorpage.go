package authcore

import (
	"bytes"
	"html/template"
	"strings"
)

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
	// ClientName is the name the client gave itself (unverified).
	ClientName string
	// SourceHost is a CIMD client's client_id host: who vouches for it.
	SourceHost string
	// Host is where the link goes: the redirect URI's host or scheme.
	Host string
	Link template.URL
}

// errorLinkPage renders an authorization error with a link back to the
// client, never a Location header.
func (e *Engine) errorLinkPage(status int, c *Client, ar *authzRequest, oe *Error, location string) Reply {
	v := errorLinkView{Code: oe.Code, Description: oe.Description, Host: redirectHost(ar.RedirectURI)}
	if c != nil {
		v.ClientName = c.Name
		if c.Source == ClientMetadataDocument {
			v.SourceHost = hostOf(c.ID)
		}
	}
	// The redirect URI passed checkRedirectURI at registration: https,
	// loopback http or a private-use scheme in reverse domain form, never
	// javascript: or data:. html/template would otherwise blank a
	// private-use scheme.
	if scheme, _, ok := strings.Cut(location, ":"); ok && scheme != "javascript" && scheme != "data" && scheme != "vbscript" {
		v.Link = template.URL(location)
	}
	var buf bytes.Buffer
	if err := errorLinkTemplate.Execute(&buf, v); err != nil {
		return e.errorPage(500, newError(ErrCodeServerError, 500, "internal error").withCause(err))
	}
	return htmlReply(status, pageCSP, buf.Bytes(), nil)
}

var errorLinkTemplate = template.Must(template.New("error-link").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Authorization error</title>
<style>` + pageStyle + `</style>
</head>
<body>
<main>
<h1>The authorization request cannot be completed</h1>
<p>{{.Description}}</p>
<dl>
{{- if .ClientName}}
<dt>Application</dt><dd>{{.ClientName}} <span class="unverified">(name not verified)</span></dd>
{{- end}}
{{- if .SourceHost}}
<dt>Published by</dt><dd><strong>{{.SourceHost}}</strong></dd>
{{- end}}
<dt>Returns to</dt><dd><strong>{{.Host}}</strong></dd>
</dl>
<p class="note">This application registered itself, so this server does not send you back to it on its own. If you started it, you can tell it what happened:</p>
{{- if .Link}}
<p><a href="{{.Link}}">Return to {{.Host}}</a></p>
{{- end}}
<p class="note">Error: <code>{{.Code}}</code>. Otherwise you can close this window.</p>
</main>
</body>
</html>
`))
