package authcore

import "github.com/mcpgate/mcpgate/authcore/internal/clientmeta"

// resolveCIMDClient resolves a client from its metadata document: the body
// the resolveCIMD hook (authorize_cimd_hook.go) delegates to. It may return
// a [Call] or a [Wait]; then receives exactly one of the client and the
// error, an invalid_client or temporarily_unavailable *Error for the
// authorization error page (never a redirect).
func (e *Engine) resolveCIMDClient(clientID string, then func(*Client, *Error) Outcome) Outcome {
	return e.fetchCIMD(clientID, func(d *CIMDDocument, err *Error) Outcome {
		if err != nil {
			return then(nil, err)
		}
		return then(cimdClient(d), nil)
	})
}

// cimdClient maps a validated document to the authorization server's
// client. ID is the URL byte for byte; GrantTypes are only those mcpgate
// knows (authorization_code always among them).
func cimdClient(d *CIMDDocument) *Client {
	return &Client{
		ID:                      d.ClientID,
		Name:                    d.ClientName,
		RedirectURIs:            d.RedirectURIs,
		GrantTypes:              d.GrantTypes,
		ResponseTypes:           d.ResponseTypes,
		TokenEndpointAuthMethod: d.TokenEndpointAuthMethod,
		ApplicationType:         d.ApplicationType,
		Scope:                   clientmeta.SplitScope(d.Scope),
		Source:                  ClientMetadataDocument,
		jwks:                    d.JWKS,
		jwksURI:                 d.JWKSURI,
	}
}
