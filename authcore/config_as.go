package authcore

import (
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// ASConfig configures the authorization server side of mcpgate: the
// "authorization_server" object of the filter configuration.
//
//	"authorization_server": {
//	  "identity": {"mode": "oidc", "oidc": {...}},
//	  "sealing_keys": [{"id": "2026-11", "secret": "<32 random bytes, base64url>"}],
//	  "clients": [{"client_id": "ide", "client_name": "IDE", "redirect_uris": ["http://127.0.0.1/cb"]}],
//	  "registration": {"enabled": true, "rate_limit": 10},
//	  "refresh_tokens": {"policy": "grant_type", "grace": "10s"},
//	  "consent": {"remember": "720h"},
//	  "cookies": {"secure": true}
//	}
//
// The authorization server is switched on by "identity": without a way to
// know the user mcpgate cannot authorize anyone, so the authorization,
// consent, token and revocation endpoints are served (and listed in the AS
// metadata) only when identity.mode is set. Registration is served only
// when registration.enabled is true as well.
type ASConfig struct {
	// Clients are the pre-registered clients ("clients").
	Clients []*Client
	// Registration configures RFC 7591 dynamic registration.
	Registration RegistrationConfig
	// Identity says how the user is authenticated.
	Identity IdentityConfig
	// SealingKeys seal client ids, login state and refresh successors, and
	// key HMACs (seal.go). The first is active; the others only open.
	SealingKeys []*SealingKey
	// Refresh is the refresh-token policy ("refresh_tokens").
	Refresh RefreshConfig
	// Consent configures the consent page.
	Consent ConsentConfig
	// Cookies configures the browser cookies of login and consent.
	Cookies CookieConfig
	// Claims names the user's identity claims kept in grants (claims.go).
	Claims ClaimsConfig
	// Policy limits who may sign in and which scopes each user may be
	// granted (policy.go).
	Policy Policy
	// NativeHTTPSRedirects accepts https redirect URIs from clients of
	// application_type "native" ("native_https_redirect_uris", default
	// true; clientpolicy.go).
	NativeHTTPSRedirects bool

	clientsByID map[string]*Client
}

// Enabled reports whether the authorization server endpoints are served.
func (a *ASConfig) Enabled() bool { return a.Identity.Mode != "" }

// RegistrationConfig is "authorization_server.registration" (RFC 7591).
//
//	"registration": {"enabled": true, "initial_access_token": "...", "rate_limit": 10}
type RegistrationConfig struct {
	// Enabled serves the registration endpoint. Default false: dynamic
	// registration is deprecated in MCP 2026-07-28 in favour of CIMD.
	Enabled bool
	// RateLimit is how many registrations one source address may make per
	// minute ("rate_limit", default 10). The count is kept per engine, that
	// is per proxy-wasm VM (Envoy worker): the effective limit of a host is
	// at most workers × RateLimit. That bounds abuse without shared state.
	RateLimit int

	// initialTokenHash is SHA-256 of "initial_access_token" (RFC 7591 §3:
	// "the client ... MAY be required to present an initial access token").
	initialTokenHash *[32]byte
}

// Identity modes ("authorization_server.identity.mode").
const (
	// IdentityDev authenticates every request as one fixed user. It is for
	// local trials only and is logged at Warn on every use.
	IdentityDev = "dev"
	// IdentityHeader trusts a request header set by an earlier filter
	// (Envoy's jwt_authn, an SSO proxy).
	IdentityHeader = "header"
	// IdentityOIDC logs the user in at an upstream OpenID provider.
	IdentityOIDC = "oidc"
)

// IdentityConfig is "authorization_server.identity": exactly one of the
// objects "dev", "header" and "oidc", matching "mode".
//
//	"identity": {"mode": "dev", "dev": {"subject": "alice"}}
//	"identity": {"mode": "header", "header": {"name": "x-user", "trusted": ["10.0.0.0/8"]}}
//	"identity": {"mode": "oidc", "oidc": {"issuer": "https://idp.example.com", "cluster": "idp", ...}}
type IdentityConfig struct {
	Mode string
	// DevSubject is the fixed user of dev mode ("dev.subject", default
	// "dev-user").
	DevSubject string
	// Header is the lower-case name of the header holding the user's
	// subject in header mode ("header.name").
	Header string
	// HeaderTrusted, when not empty, lists the peer address prefixes
	// ("header.trusted", CIDR) whose header is believed: use it when the
	// header is set by a proxy in front of Envoy. When empty, the header is
	// believed on every request, so the filter chain must remove or
	// overwrite any copy sent by a client before mcpgate runs.
	HeaderTrusted []netip.Prefix
	// OIDC configures the upstream OpenID provider in oidc mode.
	OIDC *OIDCConfig
}

// OIDCConfig is "authorization_server.identity.oidc": the upstream OpenID
// Connect provider and mcpgate's one static client there.
//
//	"oidc": {
//	  "issuer": "https://idp.example.com",
//	  "cluster": "idp",
//	  "authorization_endpoint": "https://idp.example.com/authorize",
//	  "token_endpoint": "https://idp.example.com/token",
//	  "jwks_uri": "https://idp.example.com/jwks",
//	  "client_id": "mcpgate",
//	  "client_secret": "...",
//	  "scopes": ["openid", "email"],
//	  "subject_claim": "email"
//	}
//
// The token endpoint and the JWKS are reached by callout on the Envoy
// cluster "cluster", with the URL's host as :authority; the browser goes to
// the authorization endpoint. mcpgate's redirect URI at the provider is the
// issuer's origin followed by endpoints.callback.
type OIDCConfig struct {
	Issuer                string
	Cluster               string
	AuthorizationEndpoint string
	TokenEndpoint         string
	JWKSURI               string
	ClientID              string
	ClientSecret          string
	// TokenEndpointAuthMethod is how mcpgate authenticates at the token
	// endpoint: client_secret_basic (default with a secret),
	// client_secret_post, or none (default without a secret).
	TokenEndpointAuthMethod string
	// Scopes requested upstream; default ["openid"], must contain openid.
	Scopes []string
	// SubjectClaim names the ID token claim that becomes the user's
	// subject (default "sub"); it must be a non-empty string.
	SubjectClaim string
	// Timeout bounds each callout (default 5s).
	Timeout time.Duration

	tokenURL, jwksURL *uri.URL
}

// Refresh-token policies ("refresh_tokens.policy"). MCP 2026-07-28 (SEP-2207)
// leaves issuance to the authorization server's discretion; clients must
// not assume they get one (SEP-2207; OAuth 2.1 §3.2.3).
const (
	// RefreshGrantType (the default) issues a refresh token when the
	// client's grant_types include refresh_token, or when the client asked
	// for and was granted offline_access (SEP-2207).
	RefreshGrantType = "grant_type"
	// RefreshOfflineAccess issues one only when offline_access was
	// requested and granted.
	RefreshOfflineAccess = "offline_access"
	// RefreshAlways issues one with every authorization code.
	RefreshAlways = "always"
	// RefreshNever never issues one.
	RefreshNever = "never"
)

// RefreshConfig is "authorization_server.refresh_tokens". Lifetimes are
// "lifetimes.refresh_token" (absolute) and "lifetimes.refresh_idle".
//
//	"refresh_tokens": {"policy": "grant_type", "grace": "10s"}
type RefreshConfig struct {
	Policy string
	// Grace is how long a just-rotated refresh token still yields the same
	// successor, so that a client refreshing twice at once keeps its
	// session (default 10s, at most 2m; "0s" disables).
	Grace time.Duration
}

// usesOfflineAccess reports whether the policy gives offline_access a
// meaning, which decides whether AS metadata lists it.
func (r RefreshConfig) usesOfflineAccess() bool {
	return r.Policy == RefreshGrantType || r.Policy == RefreshOfflineAccess
}

// ConsentConfig is "authorization_server.consent".
//
//	"consent": {"remember": "720h"}
type ConsentConfig struct {
	// Remember is how long an approval is remembered per user, client,
	// resource and scopes (default 720h; "0s" asks every time).
	Remember time.Duration
}

// CookieConfig is "authorization_server.cookies".
//
//	"cookies": {"secure": true}
//
// Cookies are "__Host-" prefixed, Secure, HttpOnly and SameSite=Lax. On an
// http loopback issuer (local development) the "__Host-" prefix cannot be
// used, so plain names are; there "secure": false also drops the Secure
// attribute, for browsers that do not treat http://localhost as secure.
type CookieConfig struct {
	Secure bool
}

// dcrPrefix starts every dynamically registered client id.
const dcrPrefix = "dcr."

// asConfig parses the "authorization_server" object.
func (p *cfgParser) asConfig(path string, v jsonv.Result, dst *ASConfig) {
	dst.Registration.RateLimit = 10
	dst.Refresh = RefreshConfig{Policy: RefreshGrantType, Grace: 10 * time.Second}
	dst.Consent.Remember = 30 * 24 * time.Hour
	dst.Cookies.Secure = true
	dst.NativeHTTPSRedirects = true
	p.object(path, v, map[string]func(string, jsonv.Result){
		"clients": func(path string, v jsonv.Result) {
			p.array(path, v, func(path string, _ int, v jsonv.Result) {
				if c := p.preRegisteredClient(path, v); c != nil {
					dst.Clients = append(dst.Clients, c)
				}
			})
		},
		"registration": func(path string, v jsonv.Result) {
			r := &dst.Registration
			var iat string
			p.object(path, v, map[string]func(string, jsonv.Result){
				"enabled":    p.boolean(&r.Enabled),
				"rate_limit": p.integer(&r.RateLimit, 1, 10000),
				"initial_access_token": func(fp string, v jsonv.Result) {
					p.str(&iat)(fp, v)
					if v.Exists() && len(iat) < 16 {
						p.fail(fp, "must be at least 16 characters")
					}
				},
			})
			if iat != "" {
				h := sha256.Sum256([]byte(iat))
				r.initialTokenHash = &h
			}
		},
		"identity":       func(path string, v jsonv.Result) { p.identity(path, v, &dst.Identity) },
		"sealing_keys":   func(path string, v jsonv.Result) { p.sealingKeys(path, v, dst) },
		"refresh_tokens": func(path string, v jsonv.Result) { p.refreshConfig(path, v, &dst.Refresh) },
		"consent": func(path string, v jsonv.Result) {
			p.object(path, v, map[string]func(string, jsonv.Result){
				"remember": p.duration(&dst.Consent.Remember, 0, 366*24*time.Hour),
			})
		},
		"cookies": func(path string, v jsonv.Result) {
			p.object(path, v, map[string]func(string, jsonv.Result){
				"secure": p.boolean(&dst.Cookies.Secure),
			})
		},
		"claims":                     func(path string, v jsonv.Result) { p.claimsConfig(path, v, &dst.Claims) },
		"policy":                     func(path string, v jsonv.Result) { p.policy(path, v, &dst.Policy) },
		"native_https_redirect_uris": p.boolean(&dst.NativeHTTPSRedirects),
	})
}

func (p *cfgParser) refreshConfig(path string, v jsonv.Result, r *RefreshConfig) {
	p.object(path, v, map[string]func(string, jsonv.Result){
		"policy": func(fp string, v jsonv.Result) {
			p.str(&r.Policy)(fp, v)
			switch r.Policy {
			case RefreshGrantType, RefreshOfflineAccess, RefreshAlways, RefreshNever:
			default:
				p.fail(fp, `must be one of "grant_type", "offline_access", "always", "never"`)
			}
		},
		"grace": p.duration(&r.Grace, 0, 2*time.Minute),
	})
}

func (p *cfgParser) sealingKeys(path string, v jsonv.Result, dst *ASConfig) {
	if v.Exists() && v.IsArray() && len(v.Array()) == 0 {
		p.fail(path, "must list at least one key")
	}
	ids := map[string]bool{}
	p.array(path, v, func(path string, _ int, v jsonv.Result) {
		var id, secret string
		p.object(path, v, map[string]func(string, jsonv.Result){
			"id":     p.str(&id),
			"secret": p.str(&secret),
		})
		switch {
		case !validKeyID(id):
			p.fail(join(path, "id"), "required: 1 to 32 characters of A-Z a-z 0-9 . _ -")
			return
		case ids[id]:
			p.fail(join(path, "id"), "duplicate id "+quote(id))
			return
		}
		ids[id] = true
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(secret, "="))
		if err != nil || len(raw) != 32 {
			p.fail(join(path, "secret"), "required: 32 random bytes, base64url-encoded (head -c32 /dev/urandom | basenc --base64url)")
			return
		}
		k, err := newSealingKey(id, raw)
		if err != nil {
			p.fail(join(path, "secret"), err.Error())
			return
		}
		dst.SealingKeys = append(dst.SealingKeys, k)
	})
}

func validKeyID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (p *cfgParser) identity(path string, v jsonv.Result, id *IdentityConfig) {
	if !v.Exists() {
		return
	}
	var dev, header, oidc jsonv.Result
	keep := func(dst *jsonv.Result) func(string, jsonv.Result) {
		return func(_ string, v jsonv.Result) { *dst = v }
	}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"mode": func(fp string, v jsonv.Result) {
			p.str(&id.Mode)(fp, v)
			if !v.Exists() {
				p.fail(fp, `required: "dev", "header" or "oidc"`)
				return
			}
			switch id.Mode {
			case IdentityDev, IdentityHeader, IdentityOIDC:
			default:
				p.fail(fp, `must be "dev", "header" or "oidc"`)
				id.Mode = ""
			}
		},
		"dev":    keep(&dev),
		"header": keep(&header),
		"oidc":   keep(&oidc),
	})
	for _, m := range []struct {
		name string
		obj  jsonv.Result
	}{{IdentityDev, dev}, {IdentityHeader, header}, {IdentityOIDC, oidc}} {
		if m.obj.Exists() && m.name != id.Mode && id.Mode != "" {
			p.fail(join(path, m.name), "is set but mode is "+quote(id.Mode))
		}
	}
	switch id.Mode {
	case IdentityDev:
		id.DevSubject = "dev-user"
		p.object(join(path, "dev"), dev, map[string]func(string, jsonv.Result){
			"subject": func(fp string, v jsonv.Result) {
				p.str(&id.DevSubject)(fp, v)
				if v.Exists() && (id.DevSubject == "" || len(id.DevSubject) > 255) {
					p.fail(fp, "must be 1 to 255 characters")
				}
			},
		})
	case IdentityHeader:
		fp := join(path, "header")
		if !header.Exists() {
			p.fail(fp, `required with mode "header"`)
			return
		}
		var trusted []string
		p.object(fp, header, map[string]func(string, jsonv.Result){
			"name": func(fp string, v jsonv.Result) {
				p.str(&id.Header)(fp, v)
				switch {
				case !v.Exists():
					p.fail(fp, "required: the header holding the user's subject")
				case !validHeaderName(id.Header) || id.Header == "authorization" || id.Header == "cookie":
					p.fail(fp, "must be a lower-case header name other than authorization and cookie")
				}
			},
			"trusted": func(fp string, v jsonv.Result) {
				p.strings(&trusted)(fp, v)
				for i, s := range trusted {
					pfx, err := netip.ParsePrefix(s)
					if err != nil {
						p.fail(index(fp, i), `must be an address prefix such as "10.0.0.0/8"`)
						continue
					}
					id.HeaderTrusted = append(id.HeaderTrusted, pfx.Masked())
				}
			},
		})
	case IdentityOIDC:
		fp := join(path, "oidc")
		if !oidc.Exists() {
			p.fail(fp, `required with mode "oidc"`)
			return
		}
		id.OIDC = p.oidcConfig(fp, oidc)
	}
}

func (p *cfgParser) oidcConfig(path string, v jsonv.Result) *OIDCConfig {
	o := &OIDCConfig{SubjectClaim: "sub", Scopes: []string{"openid"}, Timeout: 5 * time.Second}
	urlField := func(dst *string, u **uri.URL) func(string, jsonv.Result) {
		return func(fp string, v jsonv.Result) {
			p.str(dst)(fp, v)
			if !v.Exists() {
				p.fail(fp, "required")
				return
			}
			parsed, msg := checkHTTPSURL(*dst)
			if msg != "" {
				p.fail(fp, msg)
				return
			}
			if u != nil {
				*u = parsed
			}
		}
	}
	required := func(dst *string) func(string, jsonv.Result) {
		return func(fp string, v jsonv.Result) {
			p.str(dst)(fp, v)
			if !v.Exists() || *dst == "" {
				p.fail(fp, "required")
			}
		}
	}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"issuer":                 urlField(&o.Issuer, nil),
		"cluster":                required(&o.Cluster),
		"authorization_endpoint": urlField(&o.AuthorizationEndpoint, nil),
		"token_endpoint":         urlField(&o.TokenEndpoint, &o.tokenURL),
		"jwks_uri":               urlField(&o.JWKSURI, &o.jwksURL),
		"client_id":              required(&o.ClientID),
		"client_secret":          p.str(&o.ClientSecret),
		"token_endpoint_auth_method": func(fp string, v jsonv.Result) {
			p.str(&o.TokenEndpointAuthMethod)(fp, v)
			switch o.TokenEndpointAuthMethod {
			case "", AuthMethodSecretBasic, AuthMethodSecretPost, AuthMethodNone:
			default:
				p.fail(fp, `must be "client_secret_basic", "client_secret_post" or "none"`)
			}
		},
		"scopes": func(fp string, v jsonv.Result) {
			p.strings(&o.Scopes)(fp, v)
			for i, s := range o.Scopes {
				if !validScopeToken(s) {
					p.fail(index(fp, i), "not a valid scope token")
				}
			}
			if v.Exists() && !containsString(o.Scopes, "openid") {
				p.fail(fp, `must contain "openid"`)
			}
		},
		"subject_claim": func(fp string, v jsonv.Result) {
			p.str(&o.SubjectClaim)(fp, v)
			if o.SubjectClaim == "" {
				p.fail(fp, "must not be empty")
			}
		},
		"timeout": p.duration(&o.Timeout, 100*time.Millisecond, 30*time.Second),
	})
	if o.AuthorizationEndpoint != "" && strings.Contains(o.AuthorizationEndpoint, "?") {
		// Allowed by RFC 6749 §3.1, but then the parameters are merged;
		// keep it simple and explicit.
		p.fail(join(path, "authorization_endpoint"), "must not have a query")
	}
	switch {
	case o.TokenEndpointAuthMethod == "" && o.ClientSecret != "":
		o.TokenEndpointAuthMethod = AuthMethodSecretBasic
	case o.TokenEndpointAuthMethod == "":
		o.TokenEndpointAuthMethod = AuthMethodNone
	case o.TokenEndpointAuthMethod == AuthMethodNone && o.ClientSecret != "":
		p.fail(join(path, "client_secret"), `must not be set with token_endpoint_auth_method "none"`)
	case o.TokenEndpointAuthMethod != AuthMethodNone && o.ClientSecret == "":
		p.fail(join(path, "client_secret"), "required with token_endpoint_auth_method "+quote(o.TokenEndpointAuthMethod))
	}
	return o
}

// preRegisteredClient parses one element of "clients":
//
//	{"client_id": "ide", "client_name": "My IDE",
//	 "redirect_uris": ["http://127.0.0.1/callback"],
//	 "client_secret": "...", "token_endpoint_auth_method": "client_secret_basic",
//	 "grant_types": ["authorization_code", "refresh_token"], "scope": "mcp:tools"}
//
// client_secret is hashed at once and never kept. Without it the client is
// public ("none"); with it the method defaults to client_secret_basic
// (RFC 7591 §2). grant_types defaults to ["authorization_code"].
func (p *cfgParser) preRegisteredClient(path string, v jsonv.Result) *Client {
	c := &Client{Source: ClientPreRegistered, ResponseTypes: []string{ResponseTypeCode}}
	var secret, scope string
	p.object(path, v, map[string]func(string, jsonv.Result){
		"client_id": func(fp string, v jsonv.Result) {
			p.str(&c.ID)(fp, v)
			switch {
			case c.ID == "":
				p.fail(fp, "required")
			case len(c.ID) > 255 || !validClientIDChars(c.ID):
				p.fail(fp, "must be 1 to 255 visible ASCII characters")
			case strings.HasPrefix(c.ID, dcrPrefix):
				p.fail(fp, "must not start with "+quote(dcrPrefix)+", the prefix of dynamically registered clients")
			}
		},
		"client_name": func(fp string, v jsonv.Result) {
			p.str(&c.Name)(fp, v)
			if msg := clientmeta.CheckName(c.Name); v.Exists() && msg != "" {
				p.fail(fp, msg)
			}
		},
		"redirect_uris": func(fp string, v jsonv.Result) {
			p.strings(&c.RedirectURIs)(fp, v)
			switch {
			case len(c.RedirectURIs) == 0:
				p.fail(fp, "required: at least one redirect URI")
			case len(c.RedirectURIs) > clientmeta.MaxRedirectURIs:
				p.fail(fp, "at most "+itoa(clientmeta.MaxRedirectURIs)+" redirect URIs")
			}
			for i, r := range c.RedirectURIs {
				if _, msg := clientmeta.CheckRedirectURI(r, ""); msg != "" {
					p.fail(index(fp, i), msg)
				}
			}
		},
		"client_secret": func(fp string, v jsonv.Result) {
			p.str(&secret)(fp, v)
			if v.Exists() && len(secret) < 16 {
				p.fail(fp, "must be at least 16 characters")
			}
		},
		"token_endpoint_auth_method": func(fp string, v jsonv.Result) {
			p.str(&c.TokenEndpointAuthMethod)(fp, v)
			switch c.TokenEndpointAuthMethod {
			case "", AuthMethodNone, AuthMethodSecretBasic, AuthMethodSecretPost:
			default:
				p.fail(fp, `must be "none", "client_secret_basic" or "client_secret_post"`)
			}
		},
		"grant_types": func(fp string, v jsonv.Result) {
			var list []string
			p.strings(&list)(fp, v)
			if !v.Exists() {
				return
			}
			// The configuration names exactly the grants mcpgate serves.
			kept, ignored, msg := clientmeta.GrantTypes(list)
			switch {
			case msg != "":
				p.fail(fp, msg)
			case len(ignored) > 0:
				p.fail(fp, quote(ignored[0])+` is not served: grant_types must be "authorization_code" or "refresh_token"`)
			}
			c.GrantTypes = kept
		},
		"scope": func(fp string, v jsonv.Result) {
			p.str(&scope)(fp, v)
			if v.Exists() {
				sc, ok := clientmeta.ParseScope(scope)
				if !ok || len(sc) == 0 {
					p.fail(fp, "must be space-separated scope tokens")
				}
				c.Scope = sc
			}
		},
	})
	if c.Name == "" {
		c.Name = c.ID
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{GrantAuthorizationCode}
	}
	switch {
	case c.TokenEndpointAuthMethod == "" && secret != "":
		c.TokenEndpointAuthMethod = AuthMethodSecretBasic
	case c.TokenEndpointAuthMethod == "":
		c.TokenEndpointAuthMethod = AuthMethodNone
	case c.TokenEndpointAuthMethod == AuthMethodNone && secret != "":
		p.fail(join(path, "client_secret"), `must not be set for a public client (token_endpoint_auth_method "none")`)
	case c.TokenEndpointAuthMethod != AuthMethodNone && secret == "":
		p.fail(join(path, "client_secret"), "required with token_endpoint_auth_method "+quote(c.TokenEndpointAuthMethod))
	}
	if secret != "" {
		c.secretHash = sha256.Sum256([]byte(secret))
		c.hasSecret = true
	}
	return c
}

// validClientIDChars reports whether s is made of VSCHAR (RFC 6749
// Appendix A.1: %x20-7E), without spaces.
func validClientIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validateAS checks what spans the AS configuration and the rest.
func (p *cfgParser) validateAS(c *Config) {
	a := &c.AS
	const path = "authorization_server"
	p.validateClaims(c)
	a.clientsByID = map[string]*Client{}
	for i, cl := range a.Clients {
		if cl.ID == "" {
			continue
		}
		if a.clientsByID[cl.ID] != nil {
			p.fail(index(path+".clients", i)+".client_id", "duplicate client_id "+quote(cl.ID))
		}
		a.clientsByID[cl.ID] = cl
	}
	if !a.Enabled() {
		switch {
		case a.Registration.Enabled:
			p.fail(path+".registration.enabled", "needs authorization_server.identity: registered clients could never authorize a user")
		case len(a.Clients) > 0:
			p.fail(path+".clients", "need authorization_server.identity: clients could never authorize a user")
		}
		return
	}
	if len(a.SealingKeys) == 0 {
		p.fail(path+".sealing_keys", "required when the authorization server is on (identity is set): they seal client ids, login state and consent tokens")
	}
	https := c.issuerURL != nil && c.issuerURL.Scheme == "https"
	if https && !a.Cookies.Secure {
		p.fail(path+".cookies.secure", "may be false only on an http loopback issuer: cookies of an https issuer are always Secure")
	}
	if o := a.Identity.OIDC; o != nil && c.issuerURL != nil && o.Issuer == c.Issuer {
		p.fail(path+".identity.oidc.issuer", "must not be mcpgate's own issuer")
	}
}
