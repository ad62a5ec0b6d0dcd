package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestCIMDPrivateKeyJWT: a client whose metadata document declares
// private_key_jwt and publishes its key at a jwks_uri (fetched through the
// same pinned egress as documents) gets tokens through the compiled filter
// with golang.org/x/oauth2, authenticating at the token endpoint with a
// signed client assertion (RFC 7523). The same assertion used twice, and
// an assertion signed by another key, are invalid_client. Wasm only: the
// document and the key set are fetched.
func TestCIMDPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	env := startCIMD(t, wasm, cimdOptions{extra: []string{`"timeout": "2s"`}})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
		"x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:]),
	}}})
	env.docs.serve("/jwks.json", 200, map[string]string{"Content-Type": "application/json", "Cache-Control": "max-age=300"}, string(jwks))
	redirect := "http://127.0.0.1:45680/callback"
	clientID := env.docs.url("/pkjwt-client.json")
	doc := clientDoc(clientID, redirect)
	doc["token_endpoint_auth_method"] = "private_key_jwt"
	doc["jwks_uri"] = env.docs.url("/jwks.json")
	env.docs.serveDoc("/pkjwt-client.json", doc)

	base := env.tg.base
	sign := func(k *ecdsa.PrivateKey, jti string) string {
		return signAssertion(t, k, clientID, base+"/oauth/token", jti)
	}
	conf := &oauth2.Config{
		ClientID:    clientID,
		Endpoint:    oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"mcp:tools"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := func() (string, string) {
		verifier := oauth2.GenerateVerifier()
		loc, err := newFormBrowser(t).authorize(ctx, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("resource", base+"/mcp")))
		if err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("authorize: %v %v", loc, err)
		}
		return loc.Query().Get("code"), verifier
	}
	exchange := func(code, verifier, assertion string) (*oauth2.Token, error) {
		return conf.Exchange(ctx, code, oauth2.VerifierOption(verifier),
			oauth2.SetAuthURLParam("resource", base+"/mcp"),
			oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", assertion))
	}

	c, v := code()
	assertion := sign(key, "jti-1")
	tok, err := exchange(c, v, assertion)
	if err != nil {
		t.Fatalf("token exchange with a client assertion: %v", err)
	}
	st, _, body := do(t, "POST", base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(tok.AccessToken))
	if st != 200 {
		t.Fatalf("MCP request with the token: %d %s", st, body)
	}

	wantInvalidClient := func(what string, err error) {
		t.Helper()
		var re *oauth2.RetrieveError
		if err == nil || !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("%s: %v, want invalid_client", what, err)
		}
	}
	c, v = code()
	_, err = exchange(c, v, assertion)
	wantInvalidClient("replayed assertion", err)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err = exchange(c, v, sign(other, "jti-2"))
	wantInvalidClient("assertion signed by another key", err)
	// Without an assertion the confidential client is refused too.
	_, err = conf.Exchange(ctx, c, oauth2.VerifierOption(v), oauth2.SetAuthURLParam("resource", base+"/mcp"))
	wantInvalidClient("no client authentication", err)
	if n := env.docs.hits("/jwks.json"); n < 1 || n > 2 {
		t.Errorf("jwks_uri fetched %d times, want once per VM at most", n)
	}
}

// signAssertion is an RFC 7523 client assertion of clientID for aud, signed
// ES256 with kid "k1", valid for a minute.
func signAssertion(t testing.TB, k *ecdsa.PrivateKey, clientID, aud, jti string) string {
	b64 := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "k1", "typ": "JWT"})
	now := time.Now()
	pl, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": aud,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": jti})
	signed := b64.EncodeToString(hdr) + "." + b64.EncodeToString(pl)
	h := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64.EncodeToString(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
}
