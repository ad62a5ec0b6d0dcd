package authcore

import (
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonw"
)

// ProtectedResourceMetadata is the RFC 9728 §2 document served for each MCP
// resource.
type ProtectedResourceMetadata struct {
	// Resource is "the protected resource's resource identifier" (RFC 9728
	// §2); it must equal the URL the document was found from (§3.3).
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported is always ["header"]: MCP forbids access
	// tokens in the query string (2026-07-28 "Token Requirements").
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// AuthorizationServerMetadata is the RFC 8414 §2 document. Fields are set
// only for what the engine really serves (an endpoint is listed only when
// its handler is switched on).
type AuthorizationServerMetadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                              string   `json:"token_endpoint,omitempty"`
	JWKSURI                                    string   `json:"jwks_uri,omitempty"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                        []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthSigningAlgValues     []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported,omitempty"`
	ProtectedResources                         []string `json:"protected_resources,omitempty"`
}

// PRMURL returns the path-suffixed protected resource metadata URL of r
// (RFC 9728 §3.1): the well-known string is inserted between the host and
// the path.
func (r *Resource) PRMURL() string {
	return r.origin + WellKnownPRM + r.Path
}

// prmDocument builds the document for r, found via the path-suffixed URL.
func (c *Config) prmDocument(r *Resource) ProtectedResourceMetadata {
	return ProtectedResourceMetadata{
		Resource:               r.URI,
		AuthorizationServers:   r.AuthorizationServers,
		ScopesSupported:        r.Scopes,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           r.Name,
	}
}

// asMetadataPath is where the AS metadata is served: RFC 8414 §3.1 inserts
// the well-known string between the host and the issuer's path.
func (c *Config) asMetadataPath() string {
	return WellKnownAS + strings.TrimSuffix(c.issuerURL.Path, "/")
}

// url returns the absolute URL of an endpoint path on the issuer's origin.
func (c *Config) url(path string) string {
	return c.issuerURL.Scheme + "://" + c.issuerURL.Host + path
}

// jwksDocument renders every configured key's public half, active key first.
func (c *Config) jwksDocument() []byte {
	o := jsonw.Object{}
	o.Key("keys")
	o.B = append(o.B, '[')
	o.B = jsonw.Raw(o.B, c.activeKey.publicJWK())
	for _, k := range c.Keys {
		if k != c.activeKey {
			o.B = append(o.B, ',')
			o.B = jsonw.Raw(o.B, k.publicJWK())
		}
	}
	o.B = append(o.B, ']')
	return indentedJSON(o.End())
}

// indentedJSON lays out the compact JSON of a public document as
// encoding/json's MarshalIndent with two spaces did, and ends it with a
// newline.
func indentedJSON(compact []byte) []byte {
	return append(jsonw.Indent(compact, "  "), '\n')
}

// cacheControl is the Cache-Control value for public, cacheable documents.
func (c *Config) cacheControl() string {
	if c.Lifetimes.MetadataCache <= 0 {
		return "no-cache"
	}
	return "public, max-age=" + itoa(int(c.Lifetimes.MetadataCache.Seconds()))
}
