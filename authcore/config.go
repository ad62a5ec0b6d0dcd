package authcore

import (
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// Config is the validated filter configuration. Build it with [ParseConfig];
// docs/config.md documents every key and docs/config.schema.json is its JSON
// Schema.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2):
	// "a URL that uses the "https" scheme and has no query or fragment
	// components". It is used byte for byte in AS metadata, in PRM
	// authorization_servers, in the iss authorization response parameter and
	// in the iss claim of access tokens.
	Issuer string
	// Resources are the protected MCP endpoints, each its own audience.
	Resources []*Resource
	// Keys are the token signing keys; exactly one is active.
	Keys []*SigningKey
	// Endpoints are the request paths of the authorization server.
	Endpoints Endpoints
	// Lifetimes bound tokens, codes and caches.
	Lifetimes Lifetimes
	// CORS controls the cross-origin headers on discovery and AS endpoints.
	CORS CORS
	// AS configures the authorization server: clients, registration, user
	// identity, consent, refresh tokens (config_as.go).
	AS ASConfig
	// CIMD configures Client ID Metadata Document fetching (config_cimd.go).
	CIMD CIMDConfig
	// IdentityHeaders name the request headers through which the verified
	// identity reaches the MCP server (config_guard.go).
	IdentityHeaders IdentityHeaders
	// Store selects where shared records live and bounds revocation
	// across instances (config_store.go).
	Store StoreConfig
	// Admin configures the operators' API (admin.go).
	Admin AdminConfig
	// Audit configures the audit trail (audit.go, admin.go).
	Audit AuditConfig
	// TrustedIssuers are external authorization servers whose tokens the
	// guard accepts (config_issuers.go). With them and no
	// "authorization_server", Issuer and Keys are optional: without them
	// mcpgate is only a resource server and serves no AS metadata.
	TrustedIssuers []*TrustedIssuer

	issuerURL *uri.URL
	activeKey *SigningKey
}

// Resource is one protected MCP endpoint.
type Resource struct {
	// URI is the canonical resource identifier (RFC 8707, RFC 9728 §2), the
	// exact value of PRM "resource" and of the access token "aud".
	URI string
	// Path is the request path of the MCP endpoint, the path of URI.
	Path string
	// Name is the human-readable resource_name.
	Name string
	// Scopes is the minimal baseline advertised in PRM scopes_supported and
	// in the scope of a 401 challenge. Every request to the resource needs
	// all of them.
	Scopes []string
	// Rules demand extra scopes for JSON-RPC methods and tools
	// (config_guard.go).
	Rules []ScopeRule
	// Implies maps a scope to the scopes it includes ("mcp:admin" implies
	// "mcp:tools"); the closure is precomputed.
	Implies map[string][]string
	// MaxBodyBytes caps a request body buffered for rule checks (413 above).
	MaxBodyBytes int
	// MaxJSONDepth caps the nesting of arrays and objects in a body read
	// for rule checks (400 above).
	MaxJSONDepth int
	// CaseInsensitivePath guards paths that equal Path (or continue it)
	// ignoring case, for an upstream that routes that way; otherwise such
	// paths are refused as near misses (strictpath.go).
	CaseInsensitivePath bool
	// AuthorizationServers are the issuers whose tokens the resource
	// accepts, as listed in its PRM (RFC 9728 §2): the "authorization_servers"
	// of its config, by default mcpgate's own issuer (if any) and then
	// every trusted issuer (config_issuers.go).
	AuthorizationServers []string

	origin    string           // scheme://host[:port] of URI
	trustsOwn bool             // accepts mcpgate's own tokens
	trusted   []*TrustedIssuer // external issuers it accepts
}

// Endpoints holds the request paths the authorization server answers on.
// Defaults are the issuer's path followed by /oauth/authorize and so on.
type Endpoints struct {
	Authorization string
	Token         string
	Registration  string
	Revocation    string
	JWKS          string
	Consent       string
	Callback      string
}

// Lifetimes of issued artifacts and of cached documents.
type Lifetimes struct {
	AccessToken       time.Duration
	AuthorizationCode time.Duration
	RefreshToken      time.Duration
	RefreshIdle       time.Duration
	MetadataCache     time.Duration
}

// CORS settings for the discovery documents and AS endpoints.
type CORS struct {
	// AllowedOrigins lists origins allowed to read responses; "*" allows any.
	AllowedOrigins []string
}

// Well-known path prefixes (RFC 9728 §3, RFC 8414 §3).
const (
	WellKnownPRM = "/.well-known/oauth-protected-resource"
	WellKnownAS  = "/.well-known/oauth-authorization-server"
)

// ParseConfig parses and validates the filter JSON. Unknown keys, wrong types
// and contradictions are errors; each names its JSON path. On error the
// filter must refuse to start.
func ParseConfig(data []byte) (*Config, error) {
	if err := checkConfigJSON(data); err != nil {
		return nil, err
	}
	root := jsonv.ParseBytes(data)
	p := &cfgParser{}
	c := &Config{
		Lifetimes: Lifetimes{
			AccessToken:       10 * time.Minute,
			AuthorizationCode: 2 * time.Minute,
			RefreshToken:      30 * 24 * time.Hour,
			RefreshIdle:       7 * 24 * time.Hour,
			MetadataCache:     time.Hour,
		},
		CORS:            CORS{AllowedOrigins: []string{"*"}},
		IdentityHeaders: defaultIdentityHeaders(),
	}
	var ep Endpoints
	authServers := map[*Resource][]string{}
	p.object("", root, map[string]func(string, jsonv.Result){
		"issuer":          p.str(&c.Issuer),
		"trusted_issuers": func(path string, v jsonv.Result) { p.trustedIssuers(path, v, c) },
		"resources": func(path string, v jsonv.Result) {
			if !v.Exists() {
				p.fail(path, "required: at least one MCP resource")
				return
			}
			p.array(path, v, func(path string, _ int, v jsonv.Result) {
				r := p.resource(path, v)
				if as := v.Get("authorization_servers"); as.Exists() {
					var names []string
					p.strings(&names)(join(path, "authorization_servers"), as)
					authServers[r] = names
				}
				c.Resources = append(c.Resources, r)
			})
			if v.IsArray() && len(v.Array()) == 0 {
				p.fail(path, "must list at least one MCP resource")
			}
		},
		"keys": func(path string, v jsonv.Result) {
			p.array(path, v, func(path string, _ int, v jsonv.Result) {
				if k := p.signingKey(path, v); k != nil {
					c.Keys = append(c.Keys, k)
				}
			})
			if v.IsArray() && len(v.Array()) == 0 {
				p.fail(path, "must list at least one signing key")
			}
		},
		"endpoints": func(path string, v jsonv.Result) {
			p.object(path, v, map[string]func(string, jsonv.Result){
				"authorization": p.str(&ep.Authorization),
				"token":         p.str(&ep.Token),
				"registration":  p.str(&ep.Registration),
				"revocation":    p.str(&ep.Revocation),
				"jwks":          p.str(&ep.JWKS),
				"consent":       p.str(&ep.Consent),
				"callback":      p.str(&ep.Callback),
			})
		},
		"lifetimes": func(path string, v jsonv.Result) {
			l := &c.Lifetimes
			p.object(path, v, map[string]func(string, jsonv.Result){
				"access_token":       p.duration(&l.AccessToken, time.Minute, 24*time.Hour),
				"authorization_code": p.duration(&l.AuthorizationCode, 10*time.Second, 10*time.Minute),
				"refresh_token":      p.duration(&l.RefreshToken, time.Hour, 366*24*time.Hour),
				"refresh_idle":       p.duration(&l.RefreshIdle, time.Hour, 366*24*time.Hour),
				"metadata_cache":     p.duration(&l.MetadataCache, 0, 24*time.Hour),
			})
		},
		"authorization_server": func(path string, v jsonv.Result) { p.asConfig(path, v, &c.AS) },
		"identity_headers":     func(path string, v jsonv.Result) { p.identityHeaders(path, v, &c.IdentityHeaders) },
		"cimd":                 func(path string, v jsonv.Result) { p.cimdConfig(path, v, &c.CIMD) },
		"store":                func(path string, v jsonv.Result) { p.storeConfig(path, v, &c.Store) },
		"admin":                func(path string, v jsonv.Result) { p.adminConfig(path, v, &c.Admin) },
		"audit":                func(path string, v jsonv.Result) { p.auditConfig(path, v, &c.Audit) },
		"cors": func(path string, v jsonv.Result) {
			p.object(path, v, map[string]func(string, jsonv.Result){
				"allowed_origins": func(path string, v jsonv.Result) {
					p.strings(&c.CORS.AllowedOrigins)(path, v)
					for i, o := range c.CORS.AllowedOrigins {
						if o != "*" && !validOrigin(o) {
							p.fail(index(path, i), `must be "*" or an origin such as "https://app.example.com"`)
						}
					}
				},
			})
		},
	})
	p.requireOwnIssuer(c, root)
	if len(p.errs) == 0 {
		p.validate(c, ep)
	}
	if len(p.errs) == 0 {
		p.validateAS(c)
		p.validateCIMD(c)
		p.validateStore(c)
		p.validateIssuers(c, authServers)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *cfgParser) resource(path string, v jsonv.Result) *Resource {
	r := &Resource{}
	var explicitPath string
	p.object(path, v, map[string]func(string, jsonv.Result){
		"resource": func(fp string, v jsonv.Result) {
			p.str(&r.URI)(fp, v)
			if !v.Exists() {
				p.fail(fp, "required")
				return
			}
			u, msg := checkHTTPSURL(r.URI)
			switch {
			case msg != "":
				p.fail(fp, msg)
			case u.RawQuery != "" || u.ForceQuery:
				p.fail(fp, "must not have a query (RFC 8707 §2)")
			case u.Path == "" || u.Path == "/":
				p.fail(fp, `must have a path such as "/mcp"`)
			case strings.HasSuffix(u.Path, "/"):
				p.fail(fp, "must not end with a slash (MCP canonical server URI)")
			case u.Scheme != strings.ToLower(u.Scheme) || u.Host != strings.ToLower(u.Host):
				p.fail(fp, "scheme and host must be lower case (canonical form)")
			case u.EscapedPath() != u.Path:
				p.fail(fp, "path must not need percent-encoding")
			default:
				r.Path = u.Path
				r.origin = u.Scheme + "://" + u.Host
			}
		},
		"path":                  p.str(&explicitPath),
		"authorization_servers": func(string, jsonv.Result) {}, // config_issuers.go
		"name":                  p.str(&r.Name),
		"rules":                 func(string, jsonv.Result) {}, // config_guard.go
		"implies":               func(string, jsonv.Result) {}, // config_guard.go
		"max_body_bytes":        func(string, jsonv.Result) {}, // config_guard.go
		"max_json_depth":        func(string, jsonv.Result) {}, // config_guard.go
		"case_insensitive_path": p.boolean(&r.CaseInsensitivePath),
		"scopes": func(fp string, v jsonv.Result) {
			p.strings(&r.Scopes)(fp, v)
			for i, s := range r.Scopes {
				switch {
				case !clientmeta.ValidScopeToken(s):
					p.fail(index(fp, i), "not a valid scope token (RFC 6749 §3.3)")
				case s == ScopeOfflineAccess:
					p.fail(index(fp, i), "offline_access must not be a resource scope: it is never advertised in protected resource metadata (SEP-2207)")
				}
			}
		},
	})
	p.guardConfig(path, v, r)
	if explicitPath != "" && r.Path != "" && explicitPath != r.Path {
		p.fail(join(path, "path"), "must equal the path of "+join(path, "resource")+" ("+quote(r.Path)+")")
	}
	return r
}

// ScopeOfflineAccess is the scope that asks for a refresh token (OpenID
// Connect Core §11; SEP-2207). It is listed in AS metadata only.
const ScopeOfflineAccess = "offline_access"

func (p *cfgParser) signingKey(path string, v jsonv.Result) *SigningKey {
	k := &SigningKey{}
	var alg, pemText string
	var jwk jsonv.Result
	p.object(path, v, map[string]func(string, jsonv.Result){
		"kid": p.str(&k.Kid),
		"alg": p.str(&alg),
		"jwk": func(fp string, v jsonv.Result) {
			if v.Exists() && !v.IsObject() {
				p.fail(fp, "must be a JWK object")
				return
			}
			jwk = v
		},
		"pem":    p.str(&pemText),
		"active": p.boolean(&k.Active),
	})
	if k.Kid == "" {
		p.fail(join(path, "kid"), "required: a non-empty key id")
	}
	var err error
	switch {
	case jwk.Exists() && pemText != "":
		p.fail(path, `give the key as "jwk" or as "pem", not both`)
		return nil
	case jwk.Exists():
		p.object(join(path, "jwk"), jwk, map[string]func(string, jsonv.Result){
			"kty": func(string, jsonv.Result) {}, "crv": func(string, jsonv.Result) {},
			"x": func(string, jsonv.Result) {}, "y": func(string, jsonv.Result) {},
			"d": func(string, jsonv.Result) {}, "use": func(string, jsonv.Result) {},
			"alg": func(string, jsonv.Result) {}, "kid": func(fp string, v jsonv.Result) {
				if v.Exists() && v.String() != k.Kid {
					p.fail(fp, "must equal "+join(path, "kid"))
				}
			},
		})
		k.Public, k.Private, k.Alg, err = parseJWK(jwk)
		if err != nil {
			p.fail(join(path, "jwk"), err.Error())
			return nil
		}
		if a := jwk.Get("alg"); a.Exists() && a.String() != k.Alg {
			p.fail(join(path, "jwk.alg"), "must be "+quote(k.Alg)+" for this key")
		}
	case pemText != "":
		k.Public, k.Private, k.Alg, err = parsePEM(pemText)
		if err != nil {
			p.fail(join(path, "pem"), err.Error())
			return nil
		}
	default:
		p.fail(path, `required: the key as "jwk" or as "pem"`)
		return nil
	}
	if alg != "" && alg != k.Alg {
		p.fail(join(path, "alg"), "is "+quote(alg)+" but the key is a "+k.Alg+" key")
	}
	return k
}

// validate checks what spans several keys: uniqueness, the active key,
// endpoint paths against each other.
func (p *cfgParser) validate(c *Config, ep Endpoints) {
	if c.Issuer == "" {
		// Only a resource server for trusted issuers: no endpoint of its own.
		for i, r := range c.Resources {
			for j, o := range c.Resources[:i] {
				if r.Path != "" && o.Path == r.Path {
					p.fail(index("resources", i)+".resource", "path "+quote(r.Path)+" is already used by "+index("resources", j)+".resource")
				}
			}
		}
		return
	}
	u, msg := checkHTTPSURL(c.Issuer)
	switch {
	case msg != "":
		p.fail("issuer", msg)
		return
	case u.RawQuery != "" || u.ForceQuery:
		p.fail("issuer", "must not have a query (RFC 8414 §2)")
		return
	case strings.HasSuffix(c.Issuer, "/"):
		p.fail("issuer", "must not end with a slash: clients compare the issuer byte for byte")
		return
	case u.Scheme != strings.ToLower(u.Scheme) || u.Host != strings.ToLower(u.Host):
		p.fail("issuer", "scheme and host must be lower case")
		return
	case u.EscapedPath() != u.Path:
		p.fail("issuer", "path must not need percent-encoding")
		return
	}
	c.issuerURL = u

	// Keys: unique kids, exactly one active key that can sign.
	kids := map[string]bool{}
	for i, k := range c.Keys {
		if kids[k.Kid] {
			p.fail(index("keys", i)+".kid", "duplicate kid "+quote(k.Kid))
		}
		kids[k.Kid] = true
		if k.Active {
			if c.activeKey != nil {
				p.fail(index("keys", i)+".active", "only one key may be active")
			}
			c.activeKey = k
		}
	}
	if c.activeKey == nil && len(c.Keys) == 1 {
		c.activeKey = c.Keys[0]
		c.activeKey.Active = true
	}
	if c.activeKey == nil && len(c.Keys) > 1 {
		p.fail("keys", `with several keys, mark exactly one "active": true`)
	}
	if c.activeKey != nil && c.activeKey.Private == nil {
		p.fail("keys", "the active key "+quote(c.activeKey.Kid)+" has no private part, so it cannot sign")
	}

	// Endpoints default under the issuer's path.
	base := strings.TrimSuffix(u.Path, "/")
	def := func(v *string, s string) {
		if *v == "" {
			*v = base + s
		}
	}
	def(&ep.Authorization, "/oauth/authorize")
	def(&ep.Token, "/oauth/token")
	def(&ep.Registration, "/oauth/register")
	def(&ep.Revocation, "/oauth/revoke")
	def(&ep.JWKS, "/oauth/jwks")
	def(&ep.Consent, "/oauth/consent")
	def(&ep.Callback, "/oauth/callback")
	c.Endpoints = ep

	owned := map[string]string{}
	claim := func(jsonPath, reqPath string) {
		if !strings.HasPrefix(reqPath, "/") || strings.ContainsAny(reqPath, "?# ") {
			p.fail(jsonPath, `must be a path starting with "/", without query or fragment`)
			return
		}
		if strings.HasPrefix(reqPath, "/.well-known/") {
			p.fail(jsonPath, "must not be under /.well-known/")
			return
		}
		if other, dup := owned[reqPath]; dup {
			p.fail(jsonPath, "path "+quote(reqPath)+" is already used by "+other)
			return
		}
		owned[reqPath] = jsonPath
	}
	for i, r := range c.Resources {
		if r.Path != "" {
			claim(index("resources", i)+".resource", r.Path)
		}
	}
	claim("endpoints.authorization", ep.Authorization)
	claim("endpoints.token", ep.Token)
	claim("endpoints.registration", ep.Registration)
	claim("endpoints.revocation", ep.Revocation)
	claim("endpoints.jwks", ep.JWKS)
	claim("endpoints.consent", ep.Consent)
	claim("endpoints.callback", ep.Callback)
	if c.Admin.Path != "" {
		claim("admin.path", c.Admin.Path)
	}
}

// checkHTTPSURL parses an absolute URL that must use https, or http on a
// loopback host, and has no fragment or userinfo. It returns a message for
// the first problem found.
func checkHTTPSURL(s string) (*uri.URL, string) {
	u, err := uri.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, "must be an absolute URL"
	}
	switch {
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, "must not have a fragment"
	case u.HasUser:
		return nil, "must not contain userinfo"
	case strings.EqualFold(u.Scheme, "https"):
	case strings.EqualFold(u.Scheme, "http") && clientmeta.IsLoopbackHost(u.Hostname()):
	case strings.EqualFold(u.Scheme, "http"):
		return nil, "must use https (http is allowed only for loopback hosts)"
	default:
		return nil, "must use https"
	}
	return u, ""
}

func validOrigin(o string) bool {
	u, err := uri.Parse(o)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !u.HasUser
}

// ActiveKey returns the key new tokens are signed with.
func (c *Config) ActiveKey() *SigningKey { return c.activeKey }
