package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// oidcPolicyConfig is oidcConfig with the groups claim from the OP (ID
// token and UserInfo), a policy that keeps mcp:admin for mcp-admins, the
// admin tools behind mcp:admin, refresh tokens and registration.
func oidcPolicyConfig(t *testing.T) string {
	var cfg map[string]any
	if err := json.Unmarshal([]byte(oidcConfig), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["resources"] = []any{map[string]any{"resource": "{{BASE}}/mcp", "name": "Demo MCP server", "scopes": []string{"mcp:tools"},
		"rules": []any{map[string]any{"method": "tools/call", "name": "admin_*", "scopes": []string{"mcp:admin"}}}}}
	as := cfg["authorization_server"].(map[string]any)
	as["claims"] = map[string]any{"names": []string{"groups"}, "userinfo_endpoint": "{{OP_USERINFO}}", "access_token": []string{"groups"}}
	as["policy"] = map[string]any{"scopes": []any{map[string]any{"scopes": []string{"mcp:admin"}, "when": map[string]any{"claim": "groups", "any_of": []string{"mcp-admins"}}}}}
	as["refresh_tokens"] = map[string]any{"policy": "always"}
	as["registration"] = map[string]any{"enabled": true}
	b, _ := json.Marshal(cfg)
	return string(b)
}

// TestOIDCGroupsRefresh: the zitadel OP supplies the groups claim; an admin
// gets mcp:admin, then loses the group at the OP, and the next refresh
// (claims re-read from UserInfo) drops mcp:admin from the access token.
func TestOIDCGroupsRefresh(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		idp := startTestOP(t)
		idp.store.setGroups("mcp-admins", "dev")
		tg := startOIDCTargetWith(t, kind, idp, oidcPolicyConfig(t))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conf, verifier, _ := oidcAuthURL(tg, "st-g")
		conf.Scopes = []string{"mcp:tools", "mcp:admin"}
		authURL := conf.AuthCodeURL("st-g", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		b := newOIDCBrowser(t)
		consent := b.get(b.loginAtOP(tg, idp, authURL).String())
		if consent.status != 200 || !strings.Contains(consent.body, "<code>mcp:admin</code>") {
			t.Fatalf("consent page for an admin: %d\n%s", consent.status, consent.body)
		}
		loc := b.submitConsent(consent, "approve")
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Extra("scope") != "mcp:tools mcp:admin" || tok.RefreshToken == "" {
			t.Fatalf("admin token: scope %q refresh %v", tok.Extra("scope"), tok.RefreshToken != "")
		}
		if g := jwtClaims(t, tok.AccessToken)["groups"]; !strings.Contains(toJSON(g), "mcp-admins") {
			t.Errorf("access token groups %v", g)
		}
		callAdmin := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{}}}`
		if st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(callAdmin), mcpHeaders(tok.AccessToken)); st != 200 {
			t.Fatalf("admin call: %d %s", st, body)
		}

		// The user leaves mcp-admins at the OP.
		idp.store.setGroups("dev")
		before := idp.hits()["GET /userinfo"]
		refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if idp.hits()["GET /userinfo"] != before+1 {
			t.Errorf("UserInfo calls at refresh: %d, want 1", idp.hits()["GET /userinfo"]-before)
		}
		if refreshed.Extra("scope") != "mcp:tools" {
			t.Errorf("after losing the group the refresh grants %q, want mcp:tools", refreshed.Extra("scope"))
		}
		if g := toJSON(jwtClaims(t, refreshed.AccessToken)["groups"]); strings.Contains(g, "mcp-admins") || !strings.Contains(g, "dev") {
			t.Errorf("refreshed access token groups %s", g)
		}
		if st, _, _ := do(t, "POST", tg.base+"/mcp", strings.NewReader(callAdmin), mcpHeaders(refreshed.AccessToken)); st != 403 {
			t.Errorf("admin call after losing the group: %d, want 403", st)
		}
	})
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// oidcFetcher signs in at the OP for the MCP Go SDK's authorization
// requests and answers the consent page; a policy refusal (the 403 page)
// becomes the access_denied its link carries.
type oidcFetcher struct {
	t       *testing.T
	tg      *target
	idp     *testOP
	denials []url.Values
}

func (f *oidcFetcher) fetch(_ context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
	b := newOIDCBrowser(f.t)
	p := b.get(b.loginAtOP(f.tg, f.idp, args.URL).String())
	if p.status == http.StatusForbidden {
		m := linkRE.FindStringSubmatch(p.body)
		if m == nil {
			f.t.Fatalf("403 page without a link:\n%s", p.body)
		}
		link, _ := url.Parse(html.UnescapeString(m[1]))
		f.denials = append(f.denials, link.Query())
		return nil, errors.New("authorization error: " + link.Query().Get("error"))
	}
	if p.status != 200 {
		f.t.Fatalf("after sign-in: %d\n%s", p.status, p.body)
	}
	q := b.submitConsent(p, "approve").Query()
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

// TestOIDCStepUpPolicy: the MCP Go SDK client's step-up for mcp:admin
// (the 403 insufficient_scope of admin_stats) ends in access_denied for a
// user the OP puts in no admin group, and succeeds once the OP does.
func TestOIDCStepUpPolicy(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		idp := startTestOP(t)
		tg := startOIDCTargetWith(t, kind, idp, oidcPolicyConfig(t))
		connect := func(f *oidcFetcher) (*mcp.ClientSession, context.CancelFunc) {
			redirect := "http://127.0.0.1:45679/callback"
			handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
				DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
					ClientName: "step-up client", RedirectURIs: []string{redirect}, TokenEndpointAuthMethod: "none",
				}},
				RedirectURL:              redirect,
				AuthorizationCodeFetcher: f.fetch,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "step-up", Version: "1"}, nil).
				Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.base + "/mcp", OAuthHandler: handler, DisableStandaloneSSE: true}, nil)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			return cs, cancel
		}

		idp.store.setGroups("dev")
		f := &oidcFetcher{t: t, tg: tg, idp: idp}
		cs, cancel := connect(f)
		ctx := context.Background()
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}}); err != nil {
			t.Fatalf("echo: %v", err)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_stats", Arguments: map[string]any{}})
		if err == nil && !res.IsError {
			t.Fatal("admin_stats succeeded for a user without the group")
		}
		if len(f.denials) != 1 || f.denials[0].Get("error") != "access_denied" || f.denials[0].Get("iss") != tg.base {
			t.Errorf("step-up authorization responses %v, want one access_denied with iss", f.denials)
		}
		cs.Close()
		cancel()

		idp.store.setGroups("mcp-admins")
		f = &oidcFetcher{t: t, tg: tg, idp: idp}
		cs, cancel = connect(f)
		defer cancel()
		defer cs.Close()
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_stats", Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("admin_stats for a member of mcp-admins: %v %+v", err, res)
		}
		if len(f.denials) != 0 {
			t.Errorf("denials %v", f.denials)
		}
	})
}
