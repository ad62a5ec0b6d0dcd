package authcore

import (
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
)

// application_type "native" with an https redirect URI. RFC 8252 §7.2
// allows it ("Claimed "https" Scheme URI Redirection": the app claims an
// https URL of a domain it controls), and MCP clients follow RFC 8252.
// OpenID Connect Dynamic Client Registration 1.0 §2 does not: "Native
// Clients MUST only register redirect_uris using custom URI schemes or
// loopback URLs using the http scheme". mcpgate accepts them by default
// (RFC 8252); "authorization_server.native_https_redirect_uris": false
// refuses such dynamically registered and metadata-document clients, at
// registration and whenever they are resolved (so clients registered
// before the setting changed are refused too). Pre-registered clients are
// the operator's choice and not checked.

// checkNativeHTTPS returns invalid_client for a self-registered native
// client with an https redirect URI when the setting refuses them.
func (e *Engine) checkNativeHTTPS(c *Client) *Error {
	if e.cfg.AS.NativeHTTPSRedirects || c.Source == ClientPreRegistered || c.ApplicationType != AppTypeNative {
		return nil
	}
	for _, r := range c.RedirectURIs {
		if strings.HasPrefix(r, "https:") {
			return newError(ErrCodeInvalidClient, 401, `a client of application_type "native" may not use an https redirect URI on this server`)
		}
	}
	return nil
}

// nativeHTTPSRefused reports whether registration must refuse a redirect
// URI of kind for appType (register.go).
func (e *Engine) nativeHTTPSRefused(appType string, kind clientmeta.Kind) bool {
	return !e.cfg.AS.NativeHTTPSRedirects && appType == AppTypeNative && kind == clientmeta.HTTPS
}
