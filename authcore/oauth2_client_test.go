package authcore_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/authhttp"
	"golang.org/x/oauth2"
)

// TestOAuth2ClientFlow drives the whole authorization server natively over
// HTTP with golang.org/x/oauth2 as an independent client, and a cookie-jar
// browser that reads and submits the consent form: discovery, dynamic
// registration, authorization with PKCE and resource, consent, code
// exchange, a call to the protected resource, refresh, revocation.
func TestOAuth2ClientFlow(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg, err := authcore.ParseConfig([]byte(`{
		"issuer": "` + base + `",
		"resources": [{"resource": "` + base + `/mcp", "name": "Demo", "scopes": ["mcp:tools"]}],
		"keys": [{"kid": "k1", "jwk": {"kty":"EC","crv":"P-256","x":"RNCgsmybWLnOr06xitH4WEgAbt87zmBB-v_kAPQ8fnI","y":"4SaDJStRANOJm7cUggF3K4Crv2OTbRXRVM5gjzH4Dkc","d":"mjhUbCkaI1g3scbqBzsCOOJqE7HyJFloueIXIRM4k-k"}}],
		"authorization_server": {
			"identity": {"mode": "dev", "dev": {"subject": "flow-user"}},
			"sealing_keys": [{"id": "s1", "secret": "RwXHatZYY0oFf8MarH7BtUmd6ohDGxGAoF3POeyIhZM"}],
			"registration": {"enabled": true}
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := authcore.New(cfg, authcore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mcp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("authorization") != "" {
			t.Errorf("client token passed upstream")
		}
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`)
	})
	srv.Config.Handler = &authhttp.Handler{Engine: engine, Next: mcp}
	srv.Start()
	defer srv.Close()
	ctx := context.Background()

	// 1. The resource challenges; its metadata leads to the AS metadata.
	res, err := http.Post(base+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	challenge := res.Header.Get("www-authenticate")
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(challenge)
	if res.StatusCode != 401 || m == nil {
		t.Fatalf("challenge %d %q", res.StatusCode, challenge)
	}
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	getJSON(t, m[1], &prm)
	var as authcore.AuthorizationServerMetadata
	getJSON(t, prm.AuthorizationServers[0]+"/.well-known/oauth-authorization-server", &as)
	if as.Issuer != base || as.RegistrationEndpoint == "" || !as.AuthorizationResponseIssParameterSupported {
		t.Fatalf("AS metadata %+v", as)
	}

	// 2. Dynamic registration of a public native client.
	const redirect = "http://127.0.0.1:49152/callback"
	res, err = http.Post(as.RegistrationEndpoint, "application/json", strings.NewReader(
		`{"client_name":"x/oauth2 test","redirect_uris":["http://127.0.0.1/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg authcore.RegistrationResponse
	_ = json.NewDecoder(res.Body).Decode(&reg)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("registration %d", res.StatusCode)
	}

	conf := &oauth2.Config{
		ClientID:    reg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: as.AuthorizationEndpoint, TokenURL: as.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"mcp:tools"},
	}
	verifier := oauth2.GenerateVerifier()
	resource := oauth2.SetAuthURLParam("resource", prm.Resource)
	authURL := conf.AuthCodeURL("state-42", oauth2.S256ChallengeOption(verifier), resource)

	// 3. The browser: authorization endpoint, consent form, redirect back.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), "http://127.0.0.1:49152/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err = browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form := url.Values{"action": {"approve"}}
	for _, name := range []string{"ticket", "csrf"} {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			t.Fatalf("consent page (%d) lacks %s:\n%s", res.StatusCode, name, page)
		}
		form.Set(name, string(m[1]))
	}
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(page)
	res, err = browser.PostForm(base+string(action[1]), form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil || res.StatusCode != 303 {
		t.Fatalf("consent answer %d %v", res.StatusCode, err)
	}
	q := loc.Query()
	if q.Get("state") != "state-42" || q.Get("iss") != base || q.Get("code") == "" {
		t.Fatalf("authorization response %s", loc)
	}

	// 4. Code exchange, then the protected resource.
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier), resource)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("scope") != "mcp:tools" {
		t.Fatalf("token %+v", tok)
	}
	callMCP := func(tok *oauth2.Token) int {
		req, _ := http.NewRequest("POST", base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("content-type", "application/json")
		tok.SetAuthHeader(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := callMCP(tok); s != 200 {
		t.Fatalf("MCP call with the token: %d", s)
	}
	// The code works once.
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier), resource); err == nil {
		t.Fatalf("code redeemed twice")
	} else if re := (*oauth2.RetrieveError)(nil); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("replay error %v", err)
	}
	// The replay revoked the grant: get a fresh one for the refresh part.
	if s := callMCP(tok); s != 401 {
		t.Fatalf("token of a replayed code: %d", s)
	}

	// 5. Refresh through the library's token source.
	verifier = oauth2.GenerateVerifier()
	res, err = browser.Get(conf.AuthCodeURL("state-43", oauth2.S256ChallengeOption(verifier), resource))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ = res.Location()
	if res.StatusCode != 302 || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("remembered consent: %d %v", res.StatusCode, loc)
	}
	tok, err = conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier), resource)
	if err != nil {
		t.Fatal(err)
	}
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || callMCP(fresh) != 200 {
		t.Fatalf("refresh did not rotate")
	}

	// 6. Revocation kills the grant.
	res, err = http.PostForm(as.RevocationEndpoint, url.Values{"token": {fresh.RefreshToken}, "client_id": {reg.ClientID}})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("revoke %v %v", res, err)
	}
	res.Body.Close()
	if s := callMCP(fresh); s != 401 {
		t.Errorf("access token after revocation: %d", s)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
