package e2e

import (
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// dcrHandler is the MCP Go SDK's OAuth handler for a public client that
// registers dynamically as name with redirect, makes its requests with
// httpClient and answers the authorization step with browser b.
func dcrHandler(t testing.TB, name, redirect string, httpClient *http.Client, b *formBrowser) *auth.AuthorizationCodeHandler {
	t.Helper()
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName: name, RedirectURIs: []string{redirect},
			GrantTypes: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "none",
		}},
		RedirectURL:              redirect,
		Client:                   httpClient,
		AuthorizationCodeFetcher: b.fetcher,
	})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}
