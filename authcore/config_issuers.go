package authcore

import (
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// TrustedIssuer is one external authorization server (Keycloak, Okta,
// Auth0, Entra ID...) whose access tokens the guard accepts: one element of
// the top-level "trusted_issuers" array. mcpgate is then only the resource
// server for its tokens (RFC 9728 §2: the PRM lists it in
// authorization_servers), reaching it by callout through Cluster.
type TrustedIssuer struct {
	// Issuer is compared byte for byte with a token's "iss" claim (RFC 7519
	// §4.1.1, RFC 9068 §4: "The issuer identifier for the authorization
	// server ... MUST exactly match the value of the iss claim"), and is
	// listed as is in PRM authorization_servers.
	Issuer string
	// Cluster is the Envoy cluster every callout to this issuer goes
	// through (discovery, JWKS, introspection).
	Cluster string
	// JWKSURI is the issuer's JWK Set; when empty it is read from the
	// issuer's metadata (RFC 8414 §3.1 path-inserted form first, then the
	// OpenID Connect Discovery 1.0 §4 appended form).
	JWKSURI string
	// Audiences are accepted "aud" values; nil means the resource URI of
	// the resource being accessed (RFC 8707, MCP "Token Handling").
	Audiences []string
	// ScopeClaims name the claims scopes are read from, the first present
	// wins; each is a space-separated string or an array of strings.
	// Default ["scope", "scp"].
	ScopeClaims []string
	// TokenTypes lists the accepted JWS "typ" header values, compared
	// case-insensitively: "at+jwt" (RFC 9068 §2.1), "JWT", and "" for an
	// absent typ. Default all three: Keycloak, Okta and Entra ID sign
	// "JWT", and Auth0 "at+jwt" only when its RFC 9068 profile is chosen.
	TokenTypes []string
	// Algorithms lists the accepted JWS algorithms; default RS256, RS384,
	// RS512, PS256, ES256, ES384, EdDSA. "none" and HMAC are never
	// accepted.
	Algorithms []string
	// Introspection, when set, lets the guard accept this issuer's opaque
	// tokens through RFC 7662 introspection.
	Introspection *IntrospectionConfig
	// Timeout bounds each callout; default 5s.
	Timeout time.Duration
	// CacheMin and CacheMax clamp how long a fetched JWK Set or metadata
	// document is used before it is refetched (its HTTP caching lifetime,
	// RFC 9111); defaults 5m and 24h.
	CacheMin, CacheMax time.Duration
	// StaleMax is how long past its lifetime a key set keeps being used
	// while refreshing it fails (stale-if-error, RFC 5861 §4, with a cap);
	// default 24h.
	StaleMax time.Duration
	// RefetchInterval is the least time between two JWK Set fetches caused
	// by a token naming an unknown "kid", per issuer, however many such
	// tokens arrive; default 30s.
	RefetchInterval time.Duration

	issuerURL *uri.URL
	jwksURL   *uri.URL
}

// IntrospectionConfig is a trusted issuer's "introspection" (RFC 7662).
type IntrospectionConfig struct {
	// Endpoint is the introspection endpoint URL (RFC 7662 §2), reached
	// through the issuer's cluster.
	Endpoint string
	// ClientID and ClientSecret authenticate mcpgate at the endpoint with
	// HTTP Basic (RFC 7662 §2.1 "the protected resource ... MUST
	// authenticate"; RFC 6749 §2.3.1).
	ClientID, ClientSecret string
	// CacheMax caps how long a positive answer is reused; it is never used
	// past the token's "exp". Default 5m.
	CacheMax time.Duration
	// NegativeCache is how long an "active": false answer is reused;
	// default 10s.
	NegativeCache time.Duration

	endpointURL *uri.URL
}

// Algorithms the guard can verify for external issuers.
var externalAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

// Token "typ" values of TrustedIssuer.TokenTypes.
var externalTokenTypes = []string{"at+jwt", "JWT", ""}

// trustedIssuers parses "trusted_issuers".
func (p *cfgParser) trustedIssuers(path string, v jsonv.Result, c *Config) {
	p.array(path, v, func(ip string, _ int, v jsonv.Result) {
		ti := &TrustedIssuer{
			ScopeClaims:     []string{"scope", "scp"},
			TokenTypes:      externalTokenTypes,
			Algorithms:      externalAlgorithms,
			Timeout:         5 * time.Second,
			CacheMin:        5 * time.Minute,
			CacheMax:        24 * time.Hour,
			StaleMax:        24 * time.Hour,
			RefetchInterval: 30 * time.Second,
		}
		var intro jsonv.Result
		p.object(ip, v, map[string]func(string, jsonv.Result){
			"issuer":           p.str(&ti.Issuer),
			"cluster":          p.str(&ti.Cluster),
			"jwks_uri":         p.str(&ti.JWKSURI),
			"audiences":        p.strings(&ti.Audiences),
			"scope_claims":     p.strings(&ti.ScopeClaims),
			"token_types":      p.strings(&ti.TokenTypes),
			"algorithms":       p.strings(&ti.Algorithms),
			"introspection":    func(_ string, v jsonv.Result) { intro = v },
			"timeout":          p.duration(&ti.Timeout, 100*time.Millisecond, 30*time.Second),
			"cache_min":        p.duration(&ti.CacheMin, 0, 24*time.Hour),
			"cache_max":        p.duration(&ti.CacheMax, time.Minute, 7*24*time.Hour),
			"stale_max":        p.duration(&ti.StaleMax, 0, 7*24*time.Hour),
			"refetch_interval": p.duration(&ti.RefetchInterval, time.Second, time.Hour),
		})
		p.checkTrustedIssuer(ip, ti)
		if intro.Exists() {
			ti.Introspection = p.introspection(join(ip, "introspection"), intro)
		}
		c.TrustedIssuers = append(c.TrustedIssuers, ti)
	})
	if v.IsArray() && len(v.Array()) == 0 {
		p.fail(path, "must list at least one issuer, or be left out")
	}
}

func (p *cfgParser) checkTrustedIssuer(ip string, ti *TrustedIssuer) {
	switch u, msg := checkHTTPSURL(ti.Issuer); {
	case ti.Issuer == "":
		p.fail(join(ip, "issuer"), "required")
	case msg != "":
		p.fail(join(ip, "issuer"), msg)
	case u.RawQuery != "" || u.ForceQuery:
		p.fail(join(ip, "issuer"), "must not have a query (RFC 8414 §2)")
	default:
		// A trailing slash is kept: Auth0's issuer has one, and the
		// comparison with "iss" is exact.
		ti.issuerURL = u
	}
	if ti.Cluster == "" {
		p.fail(join(ip, "cluster"), "required: the Envoy cluster through which the issuer is reached")
	}
	if ti.JWKSURI != "" {
		if u, msg := checkHTTPSURL(ti.JWKSURI); msg != "" {
			p.fail(join(ip, "jwks_uri"), msg)
		} else {
			ti.jwksURL = u
		}
	}
	for i, a := range ti.Audiences {
		if a == "" {
			p.fail(index(join(ip, "audiences"), i), "must not be empty")
		}
	}
	if ti.Audiences != nil && len(ti.Audiences) == 0 {
		p.fail(join(ip, "audiences"), "must list at least one audience, or be left out (the resource URI)")
	}
	if len(ti.ScopeClaims) == 0 {
		p.fail(join(ip, "scope_claims"), "must name at least one claim")
	}
	for i, s := range ti.ScopeClaims {
		if s == "" || strings.ContainsAny(s, ".*?|#@\\") {
			p.fail(index(join(ip, "scope_claims"), i), "must be a plain claim name")
		}
	}
	if len(ti.TokenTypes) == 0 {
		p.fail(join(ip, "token_types"), `must list at least one of "at+jwt", "JWT", ""`)
	}
	for i, t := range ti.TokenTypes {
		if !containsFold(externalTokenTypes, t) {
			p.fail(index(join(ip, "token_types"), i), `must be "at+jwt", "JWT" or "" (typ absent)`)
		}
	}
	if len(ti.Algorithms) == 0 {
		p.fail(join(ip, "algorithms"), "must list at least one algorithm")
	}
	for i, a := range ti.Algorithms {
		if !containsString(externalAlgorithms, a) {
			p.fail(index(join(ip, "algorithms"), i), "must be one of "+strings.Join(externalAlgorithms, ", ")+" (never none or HMAC)")
		}
	}
	if ti.CacheMin > ti.CacheMax {
		p.fail(join(ip, "cache_min"), "must not exceed cache_max")
	}
}

func (p *cfgParser) introspection(path string, v jsonv.Result) *IntrospectionConfig {
	ic := &IntrospectionConfig{CacheMax: 5 * time.Minute, NegativeCache: 10 * time.Second}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"endpoint":       p.str(&ic.Endpoint),
		"client_id":      p.str(&ic.ClientID),
		"client_secret":  p.str(&ic.ClientSecret),
		"cache_max":      p.duration(&ic.CacheMax, 0, time.Hour),
		"negative_cache": p.duration(&ic.NegativeCache, 0, 5*time.Minute),
	})
	if u, msg := checkHTTPSURL(ic.Endpoint); ic.Endpoint == "" {
		p.fail(join(path, "endpoint"), "required")
	} else if msg != "" {
		p.fail(join(path, "endpoint"), msg)
	} else {
		ic.endpointURL = u
	}
	if ic.ClientID == "" {
		p.fail(join(path, "client_id"), "required: RFC 7662 §2.1 has the resource server authenticate")
	}
	if ic.ClientSecret == "" {
		p.fail(join(path, "client_secret"), "required")
	}
	return ic
}

// validateIssuers resolves each resource's "authorization_servers" and
// checks the issuers against each other and against mcpgate's own.
func (p *cfgParser) validateIssuers(c *Config, authServers map[*Resource][]string) {
	seen := map[string]bool{}
	for i, ti := range c.TrustedIssuers {
		if seen[ti.Issuer] {
			p.fail(index("trusted_issuers", i)+".issuer", "duplicate issuer "+quote(ti.Issuer))
		}
		if ti.Issuer == c.Issuer && c.Issuer != "" {
			p.fail(index("trusted_issuers", i)+".issuer", "is mcpgate's own issuer")
		}
		seen[ti.Issuer] = true
	}
	for i, r := range c.Resources {
		names, set := authServers[r]
		if !set {
			// Default: every issuer, mcpgate's own first.
			if c.Issuer != "" {
				r.AuthorizationServers = append(r.AuthorizationServers, c.Issuer)
				r.trustsOwn = true
			}
			for _, ti := range c.TrustedIssuers {
				r.AuthorizationServers = append(r.AuthorizationServers, ti.Issuer)
				r.trusted = append(r.trusted, ti)
			}
			continue
		}
		path := index("resources", i) + ".authorization_servers"
		if len(names) == 0 {
			p.fail(path, "must list at least one issuer, or be left out (all of them)")
		}
		for j, n := range names {
			switch ti := c.trustedIssuer(n); {
			case containsString(r.AuthorizationServers, n):
				p.fail(index(path, j), "duplicate issuer "+quote(n))
				continue
			case n == c.Issuer && c.Issuer != "":
				r.trustsOwn = true
			case ti != nil:
				r.trusted = append(r.trusted, ti)
			default:
				p.fail(index(path, j), quote(n)+" is neither the top-level issuer nor one of trusted_issuers")
				continue
			}
			r.AuthorizationServers = append(r.AuthorizationServers, n)
		}
	}
}

// trustedIssuer returns the trusted issuer whose identifier is iss, or nil.
func (c *Config) trustedIssuer(iss string) *TrustedIssuer {
	for _, ti := range c.TrustedIssuers {
		if ti.Issuer == iss {
			return ti
		}
	}
	return nil
}

// trusts reports whether the resource accepts tokens of the external
// issuer ti.
func (r *Resource) trusts(ti *TrustedIssuer) bool {
	for _, t := range r.trusted {
		if t == ti {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// requireOwnIssuer enforces when the top-level "issuer" and "keys" are
// needed: always without trusted_issuers, and with them whenever
// mcpgate's own authorization server is configured or either is given.
func (p *cfgParser) requireOwnIssuer(c *Config, root jsonv.Result) {
	hasKeys := root.Get("keys").Exists()
	switch {
	case len(c.TrustedIssuers) == 0 && !root.Get("trusted_issuers").Exists():
		if c.Issuer == "" {
			p.fail("issuer", "required")
		}
		if !hasKeys {
			p.fail("keys", "required: at least one signing key")
		}
	case root.Get("authorization_server").Exists() && c.Issuer == "":
		p.fail("issuer", "required with authorization_server")
	case c.Issuer != "" && !hasKeys:
		p.fail("keys", "required with issuer: at least one signing key")
	case c.Issuer == "" && hasKeys:
		p.fail("issuer", "required with keys")
	}
	if len(c.TrustedIssuers) > 0 && root.Get("authorization_server").Exists() && !hasKeys {
		p.fail("keys", "required with authorization_server")
	}
}
