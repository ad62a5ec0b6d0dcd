package authcore

import (
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// authzRequest is a verified authorization request (O21 §4.1.1): its client
// and redirect URI were checked. It travels through user login and consent
// (sealed in the upstream state, or in a consent ticket) and is bound to
// the authorization code.
type authzRequest struct {
	ClientID string `json:"c"`
	// RedirectURI is where the response goes: the redirect_uri sent (which
	// for a loopback URI may differ from the registered one in its port),
	// or the client's only registered URI.
	RedirectURI string `json:"r"`
	// Explicit records that redirect_uri was sent, so the token request
	// must repeat it (O21 §4.1.3).
	Explicit  bool     `json:"x,omitempty"`
	State     string   `json:"s,omitempty"`
	Challenge string   `json:"p,omitempty"`
	Resource  string   `json:"a,omitempty"`
	Scopes    []string `json:"o,omitempty"`
	// ErrCode and ErrDesc hold an error found in the request of a client
	// whose redirect URI is not trusted: it is redirected only once the
	// user is authenticated (O21 §7.12.2).
	ErrCode string `json:"e,omitempty"`
	ErrDesc string `json:"d,omitempty"`
	// Claims are the signed-in user's identity claims (claims.go), set
	// once the user is known.
	Claims IdentityClaims `json:"cl,omitempty"`
	// Upstream is the upstream access token, sealed, kept for re-reading
	// the claims at refresh (claims.go).
	Upstream string `json:"up,omitempty"`
}

// Limits of the authorization request.
const (
	maxStateLen = 2048
	// PKCE code challenge and verifier: RFC 7636 §4.1 "minimum length of
	// 43 characters and a maximum length of 128 characters" of unreserved
	// characters.
	minPKCELen = 43
	maxPKCELen = 128
)

// handleAuthorize serves the authorization endpoint (O21 §4.1.1) in the
// order O21 §4.1.2.1 implies (no redirect before the client and
// redirect_uri are verified):
//
//  1. parse the query; a repeated client_id, redirect_uri or state cannot
//     be trusted, so it is an error page; another repeated parameter is an
//     invalid_request redirected once the client is verified;
//  2. resolve the client ([Engine.resolveClient]) and verify redirect_uri
//     against it. Until both are verified no error is redirected (RFC 6749
//     §4.1.2.1, kept by O21: "MUST NOT automatically redirect the
//     user-agent to the invalid redirection URI"): an HTML error page is
//     shown, with no Location;
//  3. validate response_type, PKCE, resource and scope; errors from here on
//     are redirected with error, state and iss;
//  4. authenticate the user (identity.go);
//  5. ask for consent (consent.go) and issue the code.
func (e *Engine) handleAuthorize(req *Request) Outcome {
	_, query := req.splitPath()
	f, err := parseForm(query)
	var dup string
	if err != nil {
		fe, ok := errorAs[*formError](err)
		if !ok || fe.Param == "" {
			return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the authorization request is malformed"))
		}
		switch fe.Param {
		case "client_id", "redirect_uri", "state":
			return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the parameter "+fe.Param+" was sent more than once"))
		}
		dup = fe.Param
	}
	clientID := f["client_id"]
	if clientID == "" {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "client_id is missing"))
	}
	if len(f["state"]) > maxStateLen {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "state is longer than "+itoa(maxStateLen)+" characters"))
	}
	return e.resolveClient(clientID, func(c *Client, oe *Error) Outcome {
		if oe != nil {
			e.log(LogInfo, "mcpgate: authorize: "+oe.Error())
			oe.Status = 400
			return e.errorPage(400, oe)
		}
		ar, pageErr := verifyRedirect(c, f)
		if pageErr != nil {
			return e.errorPage(400, pageErr)
		}
		if oe := e.validateAuthorize(f, dup, c, ar); oe != nil {
			return e.authorizeFailed(req, c, ar, oe)
		}
		return e.authenticate(req, c, ar)
	})
}

// verifyRedirect selects the redirect URI of an authorization request: the
// redirect_uri sent, when it matches a registered one (clients.go,
// [Client.matchRedirectURI]); or, when none was sent, the only registered
// URI (O21 §2.3.2: a client that registered several redirect URIs must
// send one).
func verifyRedirect(c *Client, f form) (*authzRequest, *Error) {
	ar := &authzRequest{ClientID: c.ID, State: f["state"]}
	given, ok := f["redirect_uri"]
	switch {
	case ok && c.matchRedirectURI(given) == "":
		return nil, newError(ErrCodeInvalidRequest, 400, "redirect_uri is not registered for this client")
	case ok:
		ar.RedirectURI, ar.Explicit = given, true
	case len(c.RedirectURIs) == 1:
		ar.RedirectURI = c.RedirectURIs[0]
	case len(c.RedirectURIs) == 0:
		return nil, newError(ErrCodeInvalidRequest, 400, "this client has no registered redirect URI")
	default:
		return nil, newError(ErrCodeInvalidRequest, 400, "redirect_uri is required: the client registered several")
	}
	return ar, nil
}

// validateAuthorize checks the rest of the request and fills ar. Each
// error is one that O21 §4.1.2.1 or RFC 8707 §2 lets be redirected.
func (e *Engine) validateAuthorize(f form, dup string, c *Client, ar *authzRequest) *Error {
	switch dup {
	case "":
	case "resource":
		// RFC 8707 allows several resources; mcpgate binds a grant to one
		// audience and says so with invalid_target.
		return newError(ErrCodeInvalidTarget, 400, "only one resource may be requested at a time")
	default:
		return newError(ErrCodeInvalidRequest, 400, "the parameter "+dup+" was sent more than once")
	}
	switch rt := f["response_type"]; {
	case rt == "":
		return newError(ErrCodeInvalidRequest, 400, "response_type is missing")
	case rt != ResponseTypeCode:
		return newError(ErrCodeUnsupportedResponseType, 400, `only response_type "code" is supported`)
	}
	if !c.hasGrant(GrantAuthorizationCode) {
		return newError(ErrCodeUnauthorizedClient, 400, "this client is not registered for the authorization code grant")
	}
	if rm, ok := f["response_mode"]; ok && rm != "query" {
		return newError(ErrCodeInvalidRequest, 400, `only response_mode "query" is supported`)
	}
	if _, ok := f["request"]; ok {
		return newError(ErrCodeInvalidRequest, 400, "request objects are not supported")
	}
	if _, ok := f["request_uri"]; ok {
		return newError(ErrCodeInvalidRequest, 400, "request_uri is not supported")
	}

	// PKCE: O21 requires the authorization server to reject a request
	// without code_challenge (OAuth 2.1 §4.1.2.1); RFC 7636 §4.3: the method
	// "defaults to "plain" if not present", and plain is not supported.
	challenge, ok := f["code_challenge"]
	if !ok {
		return newError(ErrCodeInvalidRequest, 400, "code_challenge is required (PKCE with S256)")
	}
	switch m := f["code_challenge_method"]; m {
	case "S256":
	case "", "plain":
		return newError(ErrCodeInvalidRequest, 400, `code_challenge_method must be "S256"; plain is not supported`)
	default:
		return newError(ErrCodeInvalidRequest, 400, `code_challenge_method must be "S256"`)
	}
	if !validPKCEString(challenge) {
		return newError(ErrCodeInvalidRequest, 400, "code_challenge must be 43 to 128 unreserved characters")
	}
	ar.Challenge = challenge

	r, oe := e.cfg.resolveResourceParam(f["resource"])
	if oe != nil {
		return oe
	}
	ar.Resource = r.URI

	scopes, oe := e.grantableScopes(f["scope"], c, r)
	if oe != nil {
		return oe
	}
	ar.Scopes = scopes
	return nil
}

// grantableScopes checks a requested scope against the resource and the
// client, and returns what the grant will hold.
//
// A missing scope defaults to the resource's baseline scopes (its
// protected resource metadata scopes_supported; O21 §3.2.2.1 lets the
// server "use a pre-defined default value"). Every requested scope must be
// one the resource accepts ([Resource.AllScopes]: baseline, rule and
// implying scopes) or offline_access, else invalid_scope. offline_access
// stays in the grant only when the refresh policy gives it a meaning; with
// "always" or "never" it is accepted and dropped, and the token response's
// scope says so (O21 §3.2.3: scope is REQUIRED when it differs). A client
// that registered a scope may request nothing beyond it.
func (e *Engine) grantableScopes(param string, c *Client, r *Resource) ([]string, *Error) {
	requested, ok := parseScope(param)
	if !ok {
		return nil, newError(ErrCodeInvalidScope, 400, "scope must be space-separated scope tokens")
	}
	if param == "" {
		requested = append([]string(nil), r.Scopes...)
	}
	allowed := r.AllScopes()
	var out []string
	for _, s := range requested {
		if s == ScopeOfflineAccess {
			if e.cfg.AS.Refresh.usesOfflineAccess() {
				out = append(out, s)
			}
			continue
		}
		if !containsString(allowed, s) {
			return nil, newError(ErrCodeInvalidScope, 400, "the scope "+quote(s)+" is not available for this resource")
		}
		if len(c.Scope) > 0 && !containsString(c.Scope, s) {
			return nil, newError(ErrCodeInvalidScope, 400, "the scope "+quote(s)+" was not registered for this client")
		}
		out = append(out, s)
	}
	return out, nil
}

// resolveResourceParam maps the RFC 8707 resource parameter to a configured
// resource. The value must be an absolute URI without fragment (RFC 8707
// §2). The scheme and host are compared case-insensitively (MCP 2026-07-28:
// servers "SHOULD accept ... uppercase scheme and host"), a default port is
// ignored, and the rest must match exactly: no trailing slash, no query.
//
// Two conveniences, both unambiguous:
//   - the origin alone ("https://mcp.example.com" or with "/") names the
//     resource when that origin has exactly one, because the root
//     protected resource metadata names the origin (RFC 9728 §3.3), so a
//     client that found it there sends the origin;
//   - a missing resource defaults to the only configured resource. With
//     several resources it is invalid_target, since guessing would issue a
//     token for an audience the client did not ask for.
func (c *Config) resolveResourceParam(v string) (*Resource, *Error) {
	if v == "" {
		if len(c.Resources) == 1 {
			return c.Resources[0], nil
		}
		return nil, newError(ErrCodeInvalidTarget, 400, "resource is required: this server protects several resources")
	}
	bad := newError(ErrCodeInvalidTarget, 400, "resource is not a resource served by this authorization server")
	if strings.Contains(v, "#") || len(v) > 2048 {
		return nil, bad
	}
	u, err := uri.Parse(v)
	if err != nil || !u.IsAbs() || u.Host == "" || u.HasUser || u.Opaque != "" {
		return nil, bad
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	}
	origin := scheme + "://" + host
	if u.RawQuery != "" || u.ForceQuery {
		return nil, bad
	}
	path := u.EscapedPath()
	if path == "" || path == "/" {
		var only *Resource
		for _, r := range c.Resources {
			if r.origin == origin {
				if only != nil {
					return nil, newError(ErrCodeInvalidTarget, 400, "resource names a host with several resources; name the resource's full URI")
				}
				only = r
			}
		}
		if only == nil {
			return nil, bad
		}
		return only, nil
	}
	for _, r := range c.Resources {
		if r.URI == origin+path {
			return r, nil
		}
	}
	return nil, bad
}

// validPKCEString reports whether s is 43 to 128 characters of the
// unreserved set [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~" (RFC 7636
// §4.1), the syntax of both the verifier and the S256 challenge.
func validPKCEString(s string) bool {
	if len(s) < minPKCELen || len(s) > maxPKCELen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// authorizeFailed handles a redirectable error. For a pre-registered
// client, whose redirect URIs the operator vetted, it is redirected at
// once. For any other client the user is authenticated first: O21 §7.12.2
// (the authorization server as open redirector) requires authenticating
// the user before redirecting, which keeps mcpgate from bouncing a user
// to a self-registered client that sends a broken request on purpose.
func (e *Engine) authorizeFailed(req *Request, c *Client, ar *authzRequest, oe *Error) Outcome {
	if c.Source == ClientPreRegistered {
		return e.redirectError(ar, oe.Code, oe.Description, 302, nil)
	}
	ar.ErrCode, ar.ErrDesc = oe.Code, oe.Description
	return e.authenticate(req, c, ar)
}

// redirectError sends an error authorization response to the verified
// redirect URI (O21 §4.1.2.1), with state when the request had one and iss
// always (RFC 9207 §2: "In authorization responses to the client,
// including error responses, an authorization server supporting this
// specification MUST indicate its identity by including the iss parameter
// in the response").
func (e *Engine) redirectError(ar *authzRequest, code, desc string, status int, extra Header) Reply {
	params := [][2]string{{"error", code}}
	if desc != "" {
		params = append(params, [2]string{"error_description", desc})
	}
	return e.redirectResponse(ar, params, status, extra)
}

// redirectCode sends the successful authorization response (O21 §4.1.2):
// code, state, iss.
func (e *Engine) redirectCode(ar *authzRequest, code string, status int, extra Header) Reply {
	return e.redirectResponse(ar, [][2]string{{"code", code}}, status, extra)
}

// redirectResponse appends state and iss and redirects with 302 (from the
// authorization endpoint's GET) or 303 (after the consent POST, so the
// browser switches to GET). Never 307, which would repost the form (O21
// §7.5.4). The issuer goes out exactly once, as configured (RFC 9207 §2:
// "the value MUST be ... the issuer identifier").
func (e *Engine) redirectResponse(ar *authzRequest, params [][2]string, status int, extra Header) Reply {
	if ar.State != "" {
		params = append(params, [2]string{"state", ar.State})
	}
	params = append(params, [2]string{"iss", e.cfg.Issuer})
	h := Header{
		{"location", appendQuery(ar.RedirectURI, params)},
		{"cache-control", "no-store"},
		{"referrer-policy", "no-referrer"},
	}
	return Reply{Status: status, Headers: append(h, extra...)}
}
