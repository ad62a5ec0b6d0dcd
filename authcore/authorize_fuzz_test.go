package authcore

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
)

// fuzzHarness builds the standard AS engine for a fuzz target. Outbound
// calls fail, as an unreachable cluster would.
func fuzzHarness(f *testing.F) *harness {
	h := newHarness(f, asConfigJSON(nil))
	h.call = func(Call) CallResult { return CallResult{Err: errors.New("no network in fuzzing")} }
	return h
}

// FuzzAuthorizeQuery feeds arbitrary query strings to the authorization
// endpoint. Whatever comes in, the answer is a page without Location, or a
// redirect to a redirect URI registered for the client it names, carrying
// iss exactly once (RFC 9207 §2; OAuth 2.1 §4.1.2.1).
func FuzzAuthorizeQuery(f *testing.F) {
	h := fuzzHarness(f)
	_, ch := pkce()
	f.Add(strings.TrimPrefix(authzQuery(publicClient, loopbackRedirect, ch, nil), "/oauth/authorize?"))
	f.Add(strings.TrimPrefix(authzQuery(publicClient, "http://127.0.0.1:8/callback", ch, map[string]string{"scope": "x"}), "/oauth/authorize?"))
	f.Add(strings.TrimPrefix(authzQuery(confidentialClient, webRedirect, ch, map[string]string{"response_type": "token"}), "/oauth/authorize?"))
	f.Add("client_id=ide&client_id=ide")
	f.Add("client_id=ide&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback&state=%zz")
	f.Add("client_id=dcr.AQVkZXYtMQ&redirect_uri=x")
	f.Add("client_id=https%3A%2F%2Fa.example%2Fc&resource=HTTPS%3A%2F%2FMCP.EXAMPLE.COM")
	registeredURIs := map[string][]string{
		publicClient:       {loopbackRedirect},
		confidentialClient: {webRedirect, "https://app.example.com/cb2?x=1"},
	}
	f.Fuzz(func(t *testing.T, query string) {
		h.advance(11 * time.Minute) // lets the store sweep old tickets
		r := h.run(h.e, &Request{Method: "GET", Path: "/oauth/authorize?" + query}, nil)
		loc := r.Headers.Get("location")
		switch r.Status {
		case 200, 400, 401, 403, 500:
			if loc != "" {
				t.Fatalf("status %d with Location %q", r.Status, loc)
			}
			return
		case 302:
		default:
			t.Fatalf("status %d", r.Status)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("bad Location %q", loc)
		}
		q := u.Query()
		if len(q["iss"]) != 1 || q.Get("iss") != testIssuer {
			t.Fatalf("iss %q in %q", q["iss"], loc)
		}
		f, _ := parseForm(query)
		c := &Client{RedirectURIs: registeredURIs[f["client_id"]]}
		base := loc
		if i := strings.Index(loc, "code="); i > 0 {
			base = loc[:i-1]
		} else if i := strings.Index(loc, "error="); i > 0 {
			base = loc[:i-1]
		}
		if c.matchRedirectURI(base) == "" {
			t.Fatalf("redirect to %q, not registered for %q", loc, f["client_id"])
		}
	})
}

// FuzzRegistrationJSON feeds arbitrary bodies to the registration logic.
// Accepted registrations open again to exactly what was registered, and
// every registered redirect URI passes the rules; refusals use the RFC
// 7591 error codes.
func FuzzRegistrationJSON(f *testing.F) {
	h := fuzzHarness(f)
	f.Add([]byte(`{"redirect_uris":["https://app.example.com/cb"]}`))
	f.Add([]byte(`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","application_type":"native","grant_types":["authorization_code","refresh_token"],"client_name":"x","scope":"mcp:tools"}`))
	f.Add([]byte(`{"redirect_uris":["com.example.app:/cb"],"response_types":["code"]}`))
	f.Add([]byte(`{"redirect_uris":["https://a.example/cb#x"],"grant_types":["implicit"]}`))
	f.Add([]byte(`{"redirect_uris":[1],"redirect_uris":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, oe := h.e.register(body)
		if oe != nil {
			if oe.Code != ErrCodeInvalidClientMetadata && oe.Code != ErrCodeInvalidRedirectURI || oe.Status != 400 {
				t.Fatalf("error %v", oe)
			}
			return
		}
		c, err := h.e.openClientID(resp.ClientID)
		if err != nil {
			t.Fatalf("registered client id does not open: %v", err)
		}
		if strings.HasPrefix(resp.ClientID, "https://") || len(resp.ClientID) > maxClientIDLen {
			t.Fatalf("client id %q", resp.ClientID)
		}
		if len(c.RedirectURIs) == 0 || !c.hasGrant(GrantAuthorizationCode) {
			t.Fatalf("registered %+v", c)
		}
		for _, r := range c.RedirectURIs {
			if _, msg := clientmeta.CheckRedirectURI(r, c.ApplicationType); msg != "" {
				t.Fatalf("registered redirect URI %q: %s", r, msg)
			}
		}
		if (resp.ClientSecret != "") == c.public() {
			t.Fatalf("secret issued %v for method %s", resp.ClientSecret != "", c.TokenEndpointAuthMethod)
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatal(err)
		}
	})
}
