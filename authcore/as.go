package authcore

import (
	"sync"
	"time"
)

// asState is the authorization server's mutable per-engine state: rate
// limiters and the upstream JWKS cache. All of it is bounded, and all of
// it is per proxy-wasm VM; anything that must be shared goes to the Store.
type asState struct {
	// registrations counts registrations per source address per minute.
	registrations *limiter
	// authFailures counts failed client authentications per client id per
	// minute (O21 §2.4.1: "MUST protect ... against brute force").
	authFailures *limiter
	// jwks caches the upstream OpenID provider's keys (identity_oidc.go).
	jwks jwksCache

	mu sync.Mutex
	// assertionJTIs: client assertion jti records (hashed with the client
	// id) seen by this VM, until they expire (client_assertion.go).
	assertionJTIs map[string]time.Time
}

// maxAuthFailures is how many failed client authentications a client id
// may have per minute and per VM before every attempt is refused.
const maxAuthFailures = 20

// registrationBackstop bounds registrations from all sources together: a
// VM accepts at most max(64 × rate_limit, 20000) a minute, however many
// addresses a flood comes from. Registration keeps no state (the client id
// is sealed), so this bounds only the work of a many-source flood; it is
// far above what the per-source table (4096 sources) needs to admit
// newcomers.
func registrationBackstop(rate int) int { return max(64*rate, 20000) }

// addASRoutes registers the authorization server endpoints that the
// configuration switches on (config_as.go): authorization, consent, token
// and revocation when an identity source is configured; registration when
// it is enabled; the upstream login callback in oidc mode.
func (e *Engine) addASRoutes() {
	a := &e.cfg.AS
	e.as.registrations = newLimiter(max(a.Registration.RateLimit, 1), time.Minute, 4096, registrationBackstop(a.Registration.RateLimit))
	e.as.authFailures = newLimiter(maxAuthFailures, time.Minute, 4096, 0)
	if !a.Enabled() {
		return
	}
	ep := &e.cfg.Endpoints
	e.routes[ep.Authorization] = &route{methods: "GET", handle: e.handleAuthorize}
	e.routes[ep.Consent] = &route{methods: "POST", handle: e.handleConsent}
	e.routes[ep.Token] = &route{methods: "POST", handle: e.handleToken}
	e.routes[ep.Revocation] = &route{methods: "POST", handle: e.handleRevoke}
	if a.Registration.Enabled {
		e.routes[ep.Registration] = &route{methods: "POST", handle: e.handleRegister}
	}
	if a.Identity.Mode == IdentityOIDC {
		e.routes[ep.Callback] = &route{methods: "GET", handle: e.handleCallback}
	}
	if a.Identity.Mode == IdentityDev {
		e.log(LogWarn, "mcpgate: identity mode \"dev\": every user is "+a.Identity.DevSubject+"; never use this outside a local trial")
	}
}

// addASMetadata fills the RFC 8414 §2 fields of what addASRoutes switched
// on, so the metadata lists exactly what is served.
func (e *Engine) addASMetadata(m *AuthorizationServerMetadata) {
	a := &e.cfg.AS
	if !a.Enabled() {
		return
	}
	c := e.cfg
	m.AuthorizationEndpoint = c.url(c.Endpoints.Authorization)
	m.TokenEndpoint = c.url(c.Endpoints.Token)
	if a.Registration.Enabled {
		m.RegistrationEndpoint = c.url(c.Endpoints.Registration)
	}
	m.RevocationEndpoint = c.url(c.Endpoints.Revocation)
	// RFC 8414 §2: the grant_types_supported default includes "implicit",
	// so the list is always explicit.
	m.GrantTypesSupported = []string{GrantAuthorizationCode}
	if a.Refresh.Policy != RefreshNever {
		m.GrantTypesSupported = append(m.GrantTypesSupported, GrantRefreshToken)
	}
	m.ResponseModesSupported = []string{"query"}
	// MCP 2026-07-28: clients refuse to proceed without
	// code_challenge_methods_supported (RFC 8414 §2; MCP 2026-07-28 security considerations); plain is not offered.
	m.CodeChallengeMethodsSupported = []string{"S256"}
	auth := []string{AuthMethodNone}
	if a.Registration.Enabled || a.hasConfidentialClient() {
		auth = append(auth, AuthMethodSecretBasic, AuthMethodSecretPost)
	}
	if c.CIMD.Enabled {
		// Metadata-document clients may publish keys and authenticate
		// with a signed JWT (CIMD §6.2, client_assertion.go); RFC 8414 §2
		// then requires the signing algorithms.
		auth = append(auth, AuthMethodPrivateKeyJWT)
		m.TokenEndpointAuthSigningAlgValuesSupported = assertionSigningAlgs
		m.RevocationEndpointAuthSigningAlgValues = assertionSigningAlgs
	}
	m.TokenEndpointAuthMethodsSupported = auth
	m.RevocationEndpointAuthMethodsSupported = auth
	var scopes []string
	for _, r := range c.Resources {
		scopes = appendUnique(scopes, r.AllScopes()...)
	}
	if a.Refresh.usesOfflineAccess() {
		// SEP-2207: offline_access is listed in AS metadata only, never in
		// protected resource metadata or challenges.
		scopes = appendUnique(scopes, ScopeOfflineAccess)
	}
	m.ScopesSupported = scopes
	// RFC 9207 §3: every authorization response, error or not, carries iss.
	m.AuthorizationResponseIssParameterSupported = true
	// CIMD §5 / MCP 2026-07-28: advertise that client ids may be metadata
	// document URLs, only when fetching them is switched on.
	m.ClientIDMetadataDocumentSupported = c.CIMD.Enabled
}

func (a *ASConfig) hasConfidentialClient() bool {
	for _, c := range a.Clients {
		if !c.public() {
			return true
		}
	}
	return false
}
