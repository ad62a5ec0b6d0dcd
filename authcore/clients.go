package authcore

import (
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
)

// ClientSource says where a client's identity comes from. The consent page
// shows it, because the trust it deserves differs: a pre-registered client
// was vetted by the operator, a CIMD client is vouched for by the host of
// its client_id URL, and a dynamically registered client asserted its own
// metadata, which MCP Security Best Practices say to treat as
// self-asserted (MCP Security Best Practices, confused deputy).
type ClientSource int

// Client sources, in the order the authorization endpoint resolves them
// (registry match, then CIMD, then dynamic registration; CIMD-01 §6.10).
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
	GrantAuthorizationCode = clientmeta.GrantAuthorizationCode
	GrantRefreshToken      = clientmeta.GrantRefreshToken
	ResponseTypeCode       = clientmeta.ResponseTypeCode
)

// Application types of OpenID Connect Dynamic Client Registration 1.0 §2.
const (
	AppTypeWeb    = clientmeta.AppTypeWeb
	AppTypeNative = clientmeta.AppTypeNative
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
// 2026-07-28 security considerations: warn when every redirect URI is
// localhost).
func (c *Client) allLoopback() bool { return clientmeta.AllLoopback(c.RedirectURIs) }

// matchRedirectURI returns the registered redirect URI that given selects,
// or "" (clientmeta.MatchRedirectURI: exact, any port for loopback http).
func (c *Client) matchRedirectURI(given string) string {
	return clientmeta.MatchRedirectURI(c.RedirectURIs, given)
}

// resolveClient finds the client named by clientID, in the order of
// CIMD-01 §6.10 (a registry entry wins over fetching):
//
//  1. the pre-registered clients of the configuration;
//  2. a Client ID Metadata Document, when clientID is an https URL
//     ([Engine.resolveCIMD], which may need an outbound call);
//  3. a client id sealed by dynamic registration ([Engine.openClientID]).
//
// Anything else is invalid_client. then receives exactly one of the
// client and the error.
func (e *Engine) resolveClient(clientID string, then func(*Client, *Error) Outcome) Outcome {
	then = e.adminScreen(then)
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

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
