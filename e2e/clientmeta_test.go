package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// TestDCRRefusesUnsafeClientName: dynamic registration through the filter
// (native and compiled .wasm), driven by the MCP Go SDK's registration
// client, refuses a client_name that carries a bidirectional override,
// isolate or mark, a control or an invisible character, with RFC 7591
// §3.2.2 invalid_client_metadata, and registers a name in another script
// as sent.
func TestDCRRefusesUnsafeClientName(t *testing.T) {
	unsafe := map[string]string{
		"right-to-left override": "Good\u202eName",
		"left-to-right embed":    "Good\u202aName",
		"isolate":                "Good\u2067Name",
		"right-to-left mark":     "Good\u200fName",
		"arabic letter mark":     "Good\u061cName",
		"C0 control":             "Good\x1bName",
		"C1 control":             "Good\u0085Name",
		"zero-width space":       "Pay\u200bPal",
		"zero-width joiner":      "Pay\u200dPal",
		"word joiner":            "Pay\u2060Pal",
		"byte order mark":        "\ufeffPayPal",
		"line separator":         "Good\u2028Name",
	}
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		register := func(name string) (*oauthex.ClientRegistrationResponse, error) {
			return oauthex.RegisterClient(ctx, tg.base+"/oauth/register", &oauthex.ClientRegistrationMetadata{
				ClientName: name, RedirectURIs: []string{"http://127.0.0.1:45678/callback"},
				TokenEndpointAuthMethod: "none",
			}, http.DefaultClient)
		}
		ok, err := register("Éditeur 日本 ✓")
		if err != nil || ok.ClientName != "Éditeur 日本 ✓" {
			t.Fatalf("a safe name: %+v %v", ok, err)
		}
		for class, name := range unsafe {
			res, err := register(name)
			var re *oauthex.ClientRegistrationError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_client_metadata" {
				t.Errorf("%s (%q): %+v %v, want invalid_client_metadata", class, name, res, err)
			}
		}
	})
}
