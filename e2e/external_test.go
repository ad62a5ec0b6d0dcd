package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// mcpgate as the resource server of an existing authorization server: the
// zitadel/oidc OpenID provider of oidc_test.go, configured as a trusted
// issuer (e2e/testdata/external-issuer.json). It issues access tokens to
// the MCP client directly, with the MCP resource as their audience: JWTs,
// or opaque tokens that mcpgate introspects (RFC 7662) with a client of
// its own at the provider.

const (
	extClientID   = "mcp-client-at-op"
	extRedirect   = "http://127.0.0.1:50322/callback"
	extRSClientID = "mcpgate-resource-server"
	extRSSecret   = "rs secret/at:the OP"
	extCluster    = "idp"
)

// extStorage is opStorage for the external issuer: the MCP client is a
// public client of the provider, access tokens carry the resource as
// audience, the signing key can rotate, and introspection answers for
// mcpgate's resource-server client.
type extStorage struct {
	*opStorage
	jwt bool // JWT access tokens; opaque (introspected) otherwise

	mu       sync.Mutex
	audience string
	signing  opSigningKey
	keys     []opSigningKey
}

func newExtStorage(jwt bool) *extStorage {
	opKeyOnce.Do(func() { opKey, opKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	s := &extStorage{jwt: jwt, opStorage: &opStorage{
		key: opKey, keyID: "ext-1",
		requests: map[string]*opAuthRequest{}, codes: map[string]string{}, tokens: map[string]opToken{},
	}}
	s.signing = opSigningKey{id: "ext-1", key: opKey}
	s.keys = []opSigningKey{s.signing}
	return s
}

func (s *extStorage) setAudience(a string) { s.mu.Lock(); s.audience = a; s.mu.Unlock() }

// rotate publishes a new key and signs with it from now on.
func (s *extStorage) rotate(t testing.TB, kid string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.signing = opSigningKey{id: kid, key: k}
	s.keys = append(s.keys, s.signing)
	s.mu.Unlock()
}

func (s *extStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing, nil
}

func (s *extStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []op.Key
	for _, k := range s.keys {
		out = append(out, opPublicKey{id: k.id, key: &k.key.PublicKey})
	}
	return out, nil
}

func (s *extStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	switch id {
	case extClientID:
		return &extClient{id: id, jwt: s.jwt, auth: oidc.AuthMethodNone}, nil
	case extRSClientID:
		return &extClient{id: id, auth: oidc.AuthMethodBasic}, nil
	}
	return nil, errOPNotFound
}

func (s *extStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != extRSClientID || secret != extRSSecret {
		return errors.New("wrong client credentials")
	}
	return nil
}

func (s *extStorage) wrap(r op.AuthRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &extAuthRequest{opAuthRequest: r.(*opAuthRequest), audience: s.audience}, nil
}

func (s *extStorage) CreateAuthRequest(ctx context.Context, ar *oidc.AuthRequest, u string) (op.AuthRequest, error) {
	return s.wrap(s.opStorage.CreateAuthRequest(ctx, ar, u))
}

func (s *extStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.wrap(s.opStorage.AuthRequestByID(ctx, id))
}

func (s *extStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.wrap(s.opStorage.AuthRequestByCode(ctx, code))
}

// SetIntrospectionFromToken answers RFC 7662 for a live token: subject,
// client, scope, audience, expiry, issuer.
func (s *extStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	if clientID != extRSClientID {
		return errors.New("only the resource server introspects")
	}
	s.opStorage.mu.Lock()
	tok, ok := s.opStorage.tokens[tokenID]
	s.opStorage.mu.Unlock()
	if !ok || time.Now().After(tok.exp) || tok.subject != subject {
		return errOPNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp.Subject, resp.ClientID, resp.Scope = subject, tok.clientID, tok.scopes
	resp.Audience, resp.Expiration = oidc.Audience{s.audience}, oidc.FromTime(tok.exp)
	resp.Issuer, resp.TokenType = op.IssuerFromContext(ctx), "Bearer"
	return nil
}

// GetPrivateClaimsFromScopes puts the granted scopes in the JWT access
// token's "scope" claim, as Keycloak and Auth0 do.
func (s *extStorage) GetPrivateClaimsFromScopes(_ context.Context, _, _ string, scopes []string) (map[string]any, error) {
	return map[string]any{"scope": strings.Join(scopes, " ")}, nil
}

// extAuthRequest is an auth request whose tokens are for the MCP resource.
type extAuthRequest struct {
	*opAuthRequest
	audience string
}

func (r *extAuthRequest) GetAudience() []string { return []string{r.audience} }

// extClient is a client at the external provider: the MCP client (public,
// PKCE, loopback redirect) or mcpgate's resource-server client.
type extClient struct {
	id   string
	jwt  bool
	auth oidc.AuthMethod
}

func (c *extClient) GetID() string                       { return c.id }
func (c *extClient) RedirectURIs() []string              { return []string{extRedirect} }
func (c *extClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *extClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeNative }
func (c *extClient) AuthMethod() oidc.AuthMethod         { return c.auth }
func (c *extClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *extClient) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *extClient) LoginURL(id string) string    { return "/login?id=" + url.QueryEscape(id) }
func (c *extClient) AccessTokenType() op.AccessTokenType {
	if c.jwt {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}
func (c *extClient) IDTokenLifetime() time.Duration { return 5 * time.Minute }
func (c *extClient) DevMode() bool                  { return false }
func (c *extClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *extClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *extClient) IsScopeAllowed(s string) bool         { return strings.HasPrefix(s, "mcp:") }
func (c *extClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *extClient) ClockSkew() time.Duration             { return 0 }

var _ op.Storage = (*extStorage)(nil)

// startExternal starts the provider and a gateway of the given kind that
// trusts it (pure resource-server mode), the provider's tokens carrying
// the gateway's MCP resource as audience.
func startExternal(t *testing.T, kind string, jwt bool, o targetOptions) (*target, *testOP, *extStorage) {
	t.Helper()
	return startExternalWith(t, kind, jwt, readConfig(t, "external-issuer.json"), "/mcp", o)
}

// startExternalWith is startExternal for another configuration template
// ({{BASE}}, {{OP_ISSUER}}), the provider's tokens for the resource at
// path.
func startExternalWith(t *testing.T, kind string, jwt bool, config, path string, o targetOptions) (*target, *testOP, *extStorage) {
	t.Helper()
	store := newExtStorage(jwt)
	idp := serveOP(t, store, store.opStorage, []string{"openid", "mcp:tools", "mcp:admin"})
	cfg := strings.ReplaceAll(config, "{{OP_ISSUER}}", idp.issuer)
	if o.clusters == nil {
		o.clusters = map[string]string{}
	}
	o.clusters[extCluster] = idp.issuer
	tg := startTarget(t, kind, cfg, o)
	store.setAudience(tg.base + path)
	return tg, idp, store
}

// extAuthorizer is the MCP client's side of the flow at the provider: a
// browser that signs in with the provider's login form.
type extAuthorizer struct {
	t      *testing.T
	mu     sync.Mutex
	scopes []string // the scope of each authorization request
}

func (a *extAuthorizer) fetch(_ context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
	u, err := url.Parse(args.URL)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.scopes = append(a.scopes, u.Query().Get("scope"))
	a.mu.Unlock()
	b := newOIDCBrowser(a.t)
	p := b.get(args.URL)
	if p.status != http.StatusFound || p.location == nil {
		return nil, fmt.Errorf("provider /authorize: %d %s", p.status, p.body)
	}
	login := b.get(p.location.String())
	p = b.submitForm(login, url.Values{"username": {opUserName}, "password": {opPassword}})
	if p.status != http.StatusFound || p.location == nil {
		return nil, fmt.Errorf("provider login: %d %s", p.status, p.body)
	}
	p = b.get(p.location.String())
	if p.location == nil || !strings.HasPrefix(p.location.String(), extRedirect+"?") {
		return nil, fmt.Errorf("provider authorization response: %d %v %s", p.status, p.location, p.body)
	}
	q := p.location.Query()
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

func (a *extAuthorizer) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.scopes...)
}

// TestExternalIssuerMCPClient: the MCP Go SDK client gets the 401, follows
// the PRM to the external provider (mcpgate serves no AS metadata),
// authorizes there, and lists and calls tools with the provider's token;
// the admin tool yields the 403 with the accumulated scopes, the client
// steps up at the provider, and the call then succeeds. Once with JWT
// access tokens (keys by callout), once with opaque ones (introspection).
func TestExternalIssuerMCPClient(t *testing.T) {
	for _, mode := range []string{"jwt", "opaque"} {
		t.Run(mode, func(t *testing.T) {
			forEachKind(t, func(t *testing.T, kind string) {
				tg, idp, _ := startExternal(t, kind, mode == "jwt", targetOptions{})
				rec := &recorder{}
				httpClient := &http.Client{Transport: rec}
				az := &extAuthorizer{t: t}
				handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
					PreregisteredClient:      &oauthex.ClientCredentials{ClientID: extClientID},
					RedirectURL:              extRedirect,
					Client:                   httpClient,
					AuthorizationCodeFetcher: az.fetch,
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				tg.demo.Main.ResetSeen()
				cs, err := mcp.NewClient(&mcp.Implementation{Name: "ext-e2e", Version: "1"}, nil).
					Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.base + "/mcp", HTTPClient: httpClient, OAuthHandler: handler, DisableStandaloneSSE: true}, nil)
				if err != nil {
					t.Fatalf("connect: %v (requests %q)", err, rec.lines())
				}
				defer cs.Close()
				if l := rec.find("POST /mcp -> 401"); !strings.Contains(l, `resource_metadata="`+tg.base+`/.well-known/oauth-protected-resource/mcp"`) {
					t.Errorf("no 401 challenge; requests %q", rec.lines())
				}
				if rec.find("GET /.well-known/oauth-protected-resource/mcp -> 200") == "" || rec.find("/.well-known/openid-configuration -> 200") == "" {
					t.Errorf("discovery did not go PRM -> provider metadata; requests %q", rec.lines())
				}
				if rec.find("GET /.well-known/oauth-authorization-server -> 200") != "" {
					t.Errorf("something served AS metadata; requests %q", rec.lines())
				}
				tools, err := cs.ListTools(ctx, nil)
				if err != nil || len(tools.Tools) != 3 {
					t.Fatalf("tools/list: %v %+v", err, tools)
				}
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}})
				if err != nil || res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "hello") {
					t.Fatalf("tools/call echo: %v %+v", err, res)
				}
				for _, r := range tg.demo.Main.Seen() {
					if got := r.Header.Get("X-Mcpgate-Subject"); got != opSubject {
						t.Errorf("%s reached the MCP server with subject %q, want %q", r.Method, got, opSubject)
					}
					if r.Header.Get("Authorization") != "" {
						t.Error("the MCP server received the client's token")
					}
				}
				// The admin tool: 403 with the accumulated scopes, a step-up
				// authorization for the union, then success.
				res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_stats", Arguments: map[string]any{}})
				if l := rec.find("-> 403"); !strings.Contains(l, `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin"`) {
					t.Errorf("no 403 with the accumulated scope; requests %q", rec.lines())
				}
				if err != nil || res.IsError {
					t.Errorf("admin_stats after the step-up: %v %+v", err, res)
				}
				if reqs := az.requests(); len(reqs) != 2 || reqs[0] != "mcp:tools" || !strings.Contains(" "+reqs[1]+" ", " mcp:admin ") || !strings.Contains(" "+reqs[1]+" ", " mcp:tools ") {
					t.Errorf("authorization requests asked for %q", reqs)
				}
				hits := idp.hits()
				if mode == "jwt" && (hits["GET /keys"] < 1 || hits["GET /keys"] > 2) {
					t.Errorf("JWKS fetched %d times, want once per VM at most: %v", hits["GET /keys"], hits)
				}
				// One introspection per token and VM (the harness runs two),
				// each answer cached for the token's next requests.
				if n := hits["POST /oauth/introspect"]; mode == "opaque" && (n < 2 || kind == native && n != 2 || n > 4) {
					t.Errorf("introspections %d, want one per token and VM: %v", n, hits)
				}
			})
		})
	}
}

// mint mints a token at the provider the way its token endpoint does
// (op.CreateJWT with its current signing key), for alice and the MCP
// client, audience the gateway's resource.
func (s *extStorage) mint(t testing.TB, issuer string, scopes ...string) string {
	t.Helper()
	s.mu.Lock()
	aud := s.audience
	s.mu.Unlock()
	ar := &extAuthRequest{opAuthRequest: &opAuthRequest{id: rand.Text(), clientID: extClientID, scopes: scopes, subject: opSubject, done: true}, audience: aud}
	ctx := op.ContextWithIssuer(context.Background(), issuer)
	id, exp, err := s.CreateAccessToken(ctx, ar)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := op.CreateJWT(ctx, issuer, ar, exp, id, &extClient{id: extClientID, jwt: true}, s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forgeKid re-signs tok's claims with a key the provider never published,
// under kid.
func forgeKid(t testing.TB, tok, kid string, key *rsa.PrivateKey) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExternalIssuerKeyRotation: the provider rotates its signing key; a
// token with the new kid is accepted after one JWK Set refetch; a flood of
// tokens with unknown kids makes at most one fetch per refetch interval
// (counted at the provider); with the provider down, tokens signed with
// known keys still pass.
func TestExternalIssuerKeyRotation(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg, idp, store := startExternal(t, kind, true, targetOptions{})
		call := func(tok string) int {
			req, _ := http.NewRequest("POST", tg.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			for k, v := range mcpHeaders(tok) {
				req.Header[k] = v
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if st := call(store.mint(t, idp.issuer, "mcp:tools")); st != 200 {
			t.Fatalf("first token: %d", st)
		}
		fetches := func() int { return idp.hits()["GET /keys"] }
		base := fetches()

		// Rotation: the new kid is fetched once, then accepted (retried
		// until the refetch interval since the first fetch has passed).
		store.rotate(t, "ext-2")
		rotated := store.mint(t, idp.issuer, "mcp:tools")
		deadline := time.Now().Add(20 * time.Second)
		for call(rotated) != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("token with the new kid never accepted; fetches %d", fetches()-base)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := fetches() - base; n < 1 || n > 2 {
			t.Errorf("JWK Set fetches for the rotation: %d, want 1 (2 with a second VM's cold cache)", n)
		}

		// Flood of unknown kids.
		forger, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		before, began := fetches(), time.Now()
		for i := 0; i < 60; i++ {
			if st := call(forgeKid(t, rotated, fmt.Sprintf("forged-%d", i), forger)); st != 401 {
				t.Fatalf("forged kid %d: %d", i, st)
			}
		}
		elapsed := time.Since(began)
		// refetch_interval is 1s in external-issuer.json; the claim in
		// shared data bounds all VMs together.
		if n, most := fetches()-before, int(elapsed/time.Second)+1; n > most {
			t.Errorf("%d JWK Set fetches for 60 unknown kids in %s, want at most %d", n, elapsed, most)
		}

		// Provider down: tokens of known keys still pass (new tokens, so
		// not from the verified-token cache).
		fresh := []string{store.mint(t, idp.issuer, "mcp:tools"), store.mint(t, idp.issuer, "mcp:tools", "mcp:admin")}
		idp.close()
		for _, tok := range fresh {
			if st := call(tok); st != 200 {
				t.Errorf("provider down: known-key token got %d", st)
			}
		}
	})
}

// TestExternalIssuerIntrospectionDown: opaque tokens while the provider is
// up pass (and stay cached); a new one while it is down gets 503 with
// Retry-After, never reaching the MCP server (fail closed).
func TestExternalIssuerIntrospectionDown(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg, idp, store := startExternal(t, kind, false, targetOptions{})
		call := func(tok string) *http.Response {
			req, _ := http.NewRequest("POST", tg.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			for k, v := range mcpHeaders(tok) {
				req.Header[k] = v
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res
		}
		live, fresh := opaqueToken(t, idp, store), opaqueToken(t, idp, store)
		for i := 0; i < 4; i++ { // both VMs in wasm
			if st := call(live).StatusCode; st != 200 {
				t.Fatalf("opaque token, provider up: %d", st)
			}
		}
		idp.close()
		tg.demo.Main.ResetSeen()
		res := call(fresh)
		if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
			t.Errorf("new opaque token, provider down: %d (Retry-After %q), want 503", res.StatusCode, res.Header.Get("Retry-After"))
		}
		if len(tg.demo.Main.Seen()) != 0 {
			t.Error("a request whose token could not be introspected reached the MCP server")
		}
		if st := call(live).StatusCode; st != 200 {
			t.Errorf("cached opaque token, provider down: %d", st)
		}
	})
}
