package authcore

import "strings"

// This file is the seam between client resolution ([Engine.resolveClient],
// clients.go) and Client ID Metadata Document support (issue 5, files
// cimd*.go). Issue 5 replaces the two functions below; nothing else in the
// authorization server needs to change.

// isCIMDURL reports whether clientID is to be resolved as a Client ID
// Metadata Document URL rather than looked up. Any "https://" client id is
// routed there (dynamically registered ids never start with it, CIMD-01
// §6.9); the resolver then applies the URL rules of CIMD §3 (path required,
// no dot segments, fragment or userinfo) and answers invalid_client for a
// URL that breaks them, without fetching it.
func isCIMDURL(clientID string) bool {
	return strings.HasPrefix(clientID, "https://")
}

// resolveCIMD resolves a client from its metadata document and calls then
// with the client or an error. It may return a [Call] that fetches the
// document, then calls then from its Resume. Errors are invalid_client:
// the authorization endpoint shows them on an error page, never by
// redirect (OAuth 2.1 §4.1.2.1: an invalid client_id, CIMD failures included, is never redirected to).
//
// A client it returns has Source [ClientMetadataDocument], ID equal to the
// URL, TokenEndpointAuthMethod "none" unless the document says
// private_key_jwt, GrantTypes restricted to those mcpgate knows, and
// RedirectURIs that each pass checkRedirectURI (clients.go): that check
// also refuses a query already carrying code, state or iss, which the
// authorization response would otherwise repeat (RFC 9207: iss once).
// private_key_jwt clients authenticate at the token endpoint with a
// client assertion (client_assertion.go).
//
// With "cimd" disabled every such client id is invalid_client. The fetch
// may also return a [Wait] when another request is already fetching the
// same document (cimd_inflight.go).
func (e *Engine) resolveCIMD(clientID string, then func(*Client, *Error) Outcome) Outcome {
	return e.resolveCIMDClient(clientID, then)
}
