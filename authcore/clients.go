package authcore

import (
	"net/url"
	"strings"
	"time"
)

// ClientSource says where a client's identity comes from. The consent page
// shows it, because the trust it deserves differs: a pre-registered client
// was vetted by the operator, a CIMD client is vouched for by the host of
// its client_id URL, and a dynamically registered client asserted its own
// metadata, which MCP Security Best Practices say to treat as
// self-asserted (CHECKLIST 36).
type ClientSource int

// Client sources, in the order the authorization endpoint resolves them
// (CHECKLIST 12: registry match, then CIMD, then dynamic registration).
const (
	ClientPreRegistered ClientSource = iota + 1
	ClientMetadataDocument
	ClientDynamic
)

// Token endpoint authentication methods (RFC 7591 §2, O21 §2.4).
const (
	AuthMethodNone          = "none"
	AuthMethodSecretBasic   = "client_secret_basic"
	AuthMethodSecretPost    = "client_secret_post"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// Grant and response types mcpgate knows.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	ResponseTypeCode       = "code"
)

// Application types of OpenID Connect Dynamic Client Registration 1.0 §2.
const (
	AppTypeWeb    = "web"
	AppTypeNative = "native"
)

// Client is a resolved OAuth client, whatever its source. Field names and
// meanings follow the RFC 7591 §2 client metadata.
type Client struct {
	ID                      string
	Name                    string
	RedirectURIs            []string
	GrantTypes              []string
	ResponseTypes           []string
	TokenEndpointAuthMethod string
	ApplicationType         string
	// Scope, when not empty, bounds the scopes the client may request.
	Scope []string
	// Source says how the client was resolved.
	Source ClientSource
	// IssuedAt is the registration time of a dynamically registered client.
	IssuedAt time.Time

	// secretHash is SHA-256 of a pre-registered client's secret; hasSecret
	// tells whether there is one.
	secretHash [32]byte
	hasSecret  bool
	// sealKey sealed a dynamically registered client's id; it derives the
	// client's secret.
	sealKey *SealingKey
	// jwks (raw JSON) or jwksURI hold a private_key_jwt client's keys, from
	// its metadata document.
	jwks, jwksURI string
}

// public reports whether the client does not authenticate at the token
// endpoint (O21 §2.1 "public client").
func (c *Client) public() bool { return c.TokenEndpointAuthMethod == AuthMethodNone }

func (c *Client) hasGrant(g string) bool { return containsString(c.GrantTypes, g) }

// allLoopback reports whether every redirect URI of the client points at
// the user's own machine, which the consent page warns about (MCP
// 2026-07-28 security considerations, CHECKLIST 14: warn when every
// redirect URI is localhost).
func (c *Client) allLoopback() bool {
	if len(c.RedirectURIs) == 0 {
		return false
	}
	for _, r := range c.RedirectURIs {
		if redirectKind(r) != redirectLoopback {
			return false
		}
	}
	return true
}

// resolveClient finds the client named by clientID, in the order of
// CHECKLIST 12 (CIMD-01 §6.10: a registry entry wins over fetching):
//
//  1. the pre-registered clients of the configuration;
//  2. a Client ID Metadata Document, when clientID is an https URL
//     ([Engine.resolveCIMD], which may need an outbound call);
//  3. a client id sealed by dynamic registration ([Engine.openClientID]).
//
// Anything else is invalid_client. then receives exactly one of the
// client and the error.
func (e *Engine) resolveClient(clientID string, then func(*Client, *Error) Outcome) Outcome {
	if clientID == "" {
		return then(nil, newError(ErrCodeInvalidClient, 401, "client_id is missing"))
	}
	if c := e.cfg.AS.clientsByID[clientID]; c != nil {
		return then(c, nil)
	}
	if isCIMDURL(clientID) {
		return e.resolveCIMD(clientID, then)
	}
	if strings.HasPrefix(clientID, dcrPrefix) {
		c, err := e.openClientID(clientID)
		if err != nil {
			return then(nil, newError(ErrCodeInvalidClient, 401, "unknown client").withCause(err))
		}
		return then(c, nil)
	}
	return then(nil, newError(ErrCodeInvalidClient, 401, "unknown client"))
}

// Kinds of redirect URI.
const (
	redirectInvalid  = iota
	redirectHTTPS    // https
	redirectLoopback // http on a loopback host (RFC 8252 §7.3)
	redirectPrivate  // a private-use URI scheme (RFC 8252 §7.1)
)

// maxRedirectURILen bounds one redirect URI.
const maxRedirectURILen = 1024

// reservedRedirectParams are the authorization response parameters mcpgate
// appends; a registered redirect URI whose query already holds one would
// make the response carry it twice (RFC 9207 wants iss exactly once).
var reservedRedirectParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

// checkRedirectURI validates a redirect URI for registration (RFC 7591
// §2, O21 §2.3.1, OpenID Connect Dynamic Client Registration §2
// application_type) and returns its kind, or a message saying what is
// wrong. appType is "web", "native" or "" (not sent):
//
//   - "https" URIs are allowed for every type, except that a "web" client
//     may not use a loopback host (policy: CHECKLIST 35);
//   - "http" is allowed only on a loopback host ("localhost", 127.0.0.0/8,
//     "[::1]"), and not for a "web" client;
//   - any other scheme is a private-use scheme, allowed only for a client
//     that is not "web", and only in reverse-domain form: O21 §2.3.1
//     ("MUST ... contain a period"), which also keeps out "javascript:",
//     "data:" and "file:".
//
// Every URI must be absolute, without fragment (RFC 6749 §3.1.2) or
// userinfo, and its query must not already carry a response parameter.
func checkRedirectURI(raw, appType string) (kind int, msg string) {
	if raw == "" {
		return redirectInvalid, "is empty"
	}
	if len(raw) > maxRedirectURILen {
		return redirectInvalid, "is too long"
	}
	if strings.Contains(raw, "#") {
		return redirectInvalid, "must not contain a fragment"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] >= 0x7f {
			return redirectInvalid, "must not contain spaces, control or non-ASCII characters"
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return redirectInvalid, "must be an absolute URI"
	}
	if u.User != nil {
		return redirectInvalid, "must not contain userinfo"
	}
	if p := u.Port(); p != "" && !validPort(p) {
		return redirectInvalid, "has a port outside 1-65535"
	}
	if !strings.HasPrefix(raw, u.Scheme+":") {
		// url.Parse lower-cases the scheme; the registered string is what
		// is compared later, so it must already be in canonical form.
		return redirectInvalid, "scheme must be lower case"
	}
	if q, err := url.ParseQuery(u.RawQuery); err != nil {
		return redirectInvalid, "has a malformed query"
	} else {
		for _, p := range reservedRedirectParams {
			if q.Has(p) {
				return redirectInvalid, "must not carry the response parameter " + p + " in its query"
			}
		}
	}
	switch scheme := u.Scheme; {
	case scheme == "https":
		if u.Host == "" || u.Opaque != "" {
			return redirectInvalid, "must name a host"
		}
		if appType == AppTypeWeb && isLoopbackHost(u.Hostname()) {
			return redirectInvalid, `a "web" client must not use a loopback host; register as "native"`
		}
		return redirectHTTPS, ""
	case scheme == "http":
		if u.Host == "" || u.Opaque != "" || !isLoopbackHost(u.Hostname()) {
			return redirectInvalid, "http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https"
		}
		if appType == AppTypeWeb {
			return redirectInvalid, `a "web" client must use https; loopback redirects need application_type "native"`
		}
		return redirectLoopback, ""
	default:
		if !strings.Contains(scheme, ".") {
			return redirectInvalid, "a private-use scheme must be in reverse domain form, such as com.example.app (O21 §2.3.1)"
		}
		if appType == AppTypeWeb {
			return redirectInvalid, `a "web" client must use https; private-use schemes need application_type "native"`
		}
		return redirectPrivate, ""
	}
}

// redirectKind classifies a redirect URI that was accepted at registration.
func redirectKind(raw string) int {
	k, _ := checkRedirectURI(raw, "")
	return k
}

// matchRedirectURI returns the registered redirect URI that given selects,
// or "" when none does. Matching is exact string comparison (O21 §4.1.1:
// "MUST ... using simple string comparison"), except that for a registered
// http loopback URI the port may differ (O21 §8.4.2, RFC 8252 §7.3: "MUST
// allow any port to be specified at the time of the request for loopback
// IP redirect URIs"). The host, path and query still match exactly, so
// "localhost" never matches "127.0.0.1".
func (c *Client) matchRedirectURI(given string) string {
	for _, r := range c.RedirectURIs {
		if r == given {
			return r
		}
	}
	gHost, _, gRest, ok := splitLoopbackURI(given)
	if !ok {
		return ""
	}
	for _, r := range c.RedirectURIs {
		if rHost, _, rRest, ok := splitLoopbackURI(r); ok && rHost == gHost && rRest == gRest {
			return r
		}
	}
	return ""
}

// splitLoopbackURI splits "http://host[:port]rest" with a loopback host
// into its parts, without normalising anything.
func splitLoopbackURI(s string) (host, port, rest string, ok bool) {
	after, found := strings.CutPrefix(s, "http://")
	if !found {
		return "", "", "", false
	}
	i := strings.IndexAny(after, "/?#")
	if i < 0 {
		i = len(after)
	}
	authority, rest := after[:i], after[i:]
	if strings.Contains(rest, "#") || strings.ContainsAny(authority, "@%") {
		return "", "", "", false
	}
	host = authority
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", "", false
		}
		host, port = authority[:end+1], authority[end+1:]
	} else if j := strings.LastIndexByte(authority, ':'); j >= 0 {
		host, port = authority[:j], authority[j:]
	}
	if port != "" {
		digits := strings.TrimPrefix(port, ":")
		if len(port) < 2 || port[0] != ':' || !validPort(digits) {
			return "", "", "", false
		}
	}
	if !isLoopbackHost(strings.Trim(host, "[]")) {
		return "", "", "", false
	}
	return host, port, rest, true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validPort reports whether s is a decimal TCP port, 1 to 65535 (RFC 793
// ports are 16-bit; 0 is reserved), in at most five digits.
func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n >= 1 && n <= 65535
}
