package authcore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// assertionKey is a client's key pair for the tests: the private half
// signs, the public JWK goes into the client's metadata document.
type assertionKey struct {
	kid, alg string
	priv     crypto.Signer
	jwk      map[string]any
}

var (
	testClientKeysOnce sync.Once
	testClientKeys     map[string]*assertionKey
)

// clientKeysForTest returns one key per accepted algorithm (RSA keys are
// slow to make, so they are made once).
func clientKeysForTest(t *testing.T) map[string]*assertionKey {
	testClientKeysOnce.Do(func() {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		raw, _ := ec.PublicKey.Bytes()
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		rk, _ := rsa.GenerateKey(rand.Reader, 2048)
		rsaJWK := func(kid string) map[string]any {
			return map[string]any{"kty": "RSA", "kid": kid, "use": "sig",
				"n": b64.EncodeToString(rk.N.Bytes()), "e": b64.EncodeToString([]byte{1, 0, 1})}
		}
		testClientKeys = map[string]*assertionKey{
			AlgES256: {kid: "ec", alg: AlgES256, priv: ec, jwk: map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig",
				"x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])}},
			AlgEdDSA: {kid: "ed", alg: AlgEdDSA, priv: ed, jwk: map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed",
				"x": b64.EncodeToString(ed.Public().(ed25519.PublicKey))}},
			"RS256": {kid: "rs", alg: "RS256", priv: rk, jwk: rsaJWK("rs")},
			"PS256": {kid: "ps", alg: "PS256", priv: rk, jwk: rsaJWK("ps")},
		}
	})
	return testClientKeys
}

// jwksOf renders keys as a JWK Set.
func jwksOf(keys ...*assertionKey) string {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk)
	}
	b, _ := json.Marshal(set)
	return string(b)
}

// signAssertion signs claims with k in alg (normally k.alg), with header
// kid k.kid unless kid is given.
func signAssertion(t *testing.T, k *assertionKey, alg string, claims map[string]any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": k.kid})
	pl, _ := json.Marshal(claims)
	signed := b64.EncodeToString(hdr) + "." + b64.EncodeToString(pl)
	h := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, priv, h[:]); err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(signed))
	case *rsa.PrivateKey:
		if alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, priv, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, h[:])
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64.EncodeToString(sig)
}

// assertionTest is a CIMD engine whose test client uses private_key_jwt.
type assertionTest struct {
	t     *testing.T
	e     *Engine
	n     *cimdNet
	clock *cimdClock
	jti   int
}

// newAssertionTest serves the test client's document with the members
// given (token_endpoint_auth_method and jwks or jwks_uri), and serves
// jwksURIBody at https://client.example.com/jwks.json.
func newAssertionTest(t *testing.T, docMembers map[string]string, jwksURIBody string) *assertionTest {
	e, n, clock := newCIMDTestAS(t)
	doc := testDoc(docMembers)
	n.serve = func(c Call) CallResult {
		if c.Path == "/jwks.json" {
			return docResponse(200, jwksURIBody, "cache-control", "max-age=300")(c)
		}
		return docResponse(200, doc, "cache-control", "max-age=600")(c)
	}
	return &assertionTest{t: t, e: e, n: n, clock: clock}
}

// newCIMDTestAS is newCIMDTest with the authorization server switched on.
func newCIMDTestAS(t *testing.T) (*Engine, *cimdNet, *cimdClock) {
	t.Helper()
	clock := &cimdClock{t: time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)}
	cfg, err := ParseConfig([]byte(cfgJSON(map[string]string{"cimd": cimdOn,
		"authorization_server": `{"identity":{"mode":"dev"},"sealing_keys":[{"id":"s1","secret":"RwXHatZYY0oFf8MarH7BtUmd6ohDGxGAoF3POeyIhZM"}]}`})))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{Now: clock.now, Log: func(LogLevel, string) {}})
	if err != nil {
		t.Fatal(err)
	}
	return e, newCIMDNet(t, clock), clock
}

// claims are valid claims for the test client, with overrides ("" or nil
// removes a claim).
func (at *assertionTest) claims(over map[string]any) map[string]any {
	at.jti++
	now := at.clock.now()
	c := map[string]any{"iss": testDocURL, "sub": testDocURL, "aud": at.e.cfg.url(at.e.cfg.Endpoints.Token),
		"exp": now.Add(2 * time.Minute).Unix(), "iat": now.Unix(), "jti": "jti-" + strconv.Itoa(at.jti)}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// auth runs client authentication for a token request with form f and
// returns the authenticated client id or the error.
func (at *assertionTest) auth(f form) (string, *Error) {
	at.t.Helper()
	req := &Request{Method: "POST", Path: at.e.cfg.Endpoints.Token, Headers: Header{{"content-type", "application/x-www-form-urlencoded"}}}
	var id string
	var oe *Error
	o := at.n.drive(at.e.authenticateClient(req, f, func(ca clientAuth, err *Error) Outcome {
		if ca.client != nil {
			id = ca.client.ID
		}
		oe = err
		return cimdSentinel
	}))
	if !cimdDone(o) {
		at.t.Fatalf("authentication ended in %#v", o)
	}
	return id, oe
}

func assertionForm(a string) form {
	return form{"grant_type": "authorization_code", "client_assertion_type": clientAssertionTypeJWT, "client_assertion": a}
}

func TestClientAssertionAlgorithms(t *testing.T) {
	keys := clientKeysForTest(t)
	at := newAssertionTest(t, map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`,
		"jwks": jwksOf(keys[AlgES256], keys[AlgEdDSA], keys["RS256"], keys["PS256"])}, "")
	for _, alg := range assertionSigningAlgs {
		t.Run(alg, func(t *testing.T) {
			id, err := at.auth(assertionForm(signAssertion(t, keys[alg], alg, at.claims(nil))))
			if err != nil || id != testDocURL {
				t.Fatalf("id %q, err %v", id, err)
			}
		})
	}
}

func TestClientAssertionRefusals(t *testing.T) {
	keys := clientKeysForTest(t)
	ec := keys[AlgES256]
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger := &assertionKey{kid: "ec", alg: AlgES256, priv: other}
	at := newAssertionTest(t, map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`,
		"jwks": jwksOf(ec, keys["RS256"])}, "")
	now := at.clock.now()
	cases := []struct {
		name   string
		f      form
		status int
		code   string
	}{
		{"signed by a key the client does not publish", assertionForm(signAssertion(t, stranger, AlgES256, at.claims(nil))), 401, ErrCodeInvalidClient},
		{"RSA kid with an ES256 alg (confusion)", assertionForm(signAssertion(t, &assertionKey{kid: "rs", priv: ec.priv}, AlgES256, at.claims(nil))), 401, ErrCodeInvalidClient},
		{"alg none", assertionForm(b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + b64.EncodeToString([]byte(`{"iss":"`+testDocURL+`","sub":"`+testDocURL+`","exp":9999999999}`)) + ".x"), 401, ErrCodeInvalidClient},
		{"aud is another server", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"aud": "https://other.example.com/token"}))), 401, ErrCodeInvalidClient},
		{"no aud", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"aud": nil}))), 401, ErrCodeInvalidClient},
		{"expired", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}))), 401, ErrCodeInvalidClient},
		{"lives an hour", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"exp": now.Add(time.Hour).Unix()}))), 401, ErrCodeInvalidClient},
		{"no exp", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"exp": nil}))), 401, ErrCodeInvalidClient},
		{"nbf in the future", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()}))), 401, ErrCodeInvalidClient},
		{"no jti", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"jti": nil}))), 401, ErrCodeInvalidClient},
		{"sub is not the client", assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"sub": "someone"}))), 401, ErrCodeInvalidClient},
		{"client_id differs", func() form {
			f := assertionForm(signAssertion(t, ec, AlgES256, at.claims(nil)))
			f["client_id"] = "https://client.example.com/other.json"
			return f
		}(), 401, ErrCodeInvalidClient},
		{"wrong assertion type", func() form {
			f := assertionForm(signAssertion(t, ec, AlgES256, at.claims(nil)))
			f["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
			return f
		}(), 400, ErrCodeInvalidRequest},
		{"assertion and secret", func() form {
			f := assertionForm(signAssertion(t, ec, AlgES256, at.claims(nil)))
			f["client_secret"] = "s"
			return f
		}(), 400, ErrCodeInvalidRequest},
		{"not a JWT", assertionForm("abc"), 401, ErrCodeInvalidClient},
		{"secret instead of an assertion", form{"client_id": testDocURL, "client_secret": "s"}, 401, ErrCodeInvalidClient},
	}
	why := map[string]string{
		"signed by a key the client does not publish": "signature does not verify",
		"RSA kid with an ES256 alg (confusion)":       "signature does not verify",
		"alg none":                                    `"alg" is missing or not one of ES256, EdDSA, RS256, PS256`,
		"aud is another server":                       "aud does not name",
		"no aud":                                      "aud does not name",
		"expired":                                     "expired",
		"lives an hour":                               "lives longer",
		"no exp":                                      "no valid exp",
		"nbf in the future":                           "not valid yet",
		"no jti":                                      "no usable jti",
		"sub is not the client":                       "iss and sub",
		"client_id differs":                           "client_id differs",
		"wrong assertion type":                        "client_assertion_type must be",
		"assertion and secret":                        "more than one authentication method",
		"not a JWT":                                   "not a JWS compact serialization",
		"secret instead of an assertion":              "must authenticate with a client assertion",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := at.auth(tc.f)
			if err == nil || err.Status != tc.status || err.Code != tc.code || id != "" {
				t.Fatalf("id %q, err %+v; want %d %s", id, err, tc.status, tc.code)
			}
			if got := fmt.Sprint(err.Description, " ", err.Cause); !strings.Contains(got, why[tc.name]) {
				t.Errorf("refused for %q, want %q", got, why[tc.name])
			}
		})
	}
	// The issuer identifier is an acceptable audience too (RFC 7523 §3).
	if _, err := at.auth(assertionForm(signAssertion(t, ec, AlgES256, at.claims(map[string]any{"aud": []string{"x", at.e.cfg.Issuer}})))); err != nil {
		t.Errorf("aud = issuer refused: %v", err)
	}
}

func TestClientAssertionReplay(t *testing.T) {
	keys := clientKeysForTest(t)
	at := newAssertionTest(t, map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`, "jwks": jwksOf(keys[AlgEdDSA])}, "")
	a := signAssertion(t, keys[AlgEdDSA], AlgEdDSA, at.claims(nil))
	if _, err := at.auth(assertionForm(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := at.auth(assertionForm(a)); err == nil || err.Code != ErrCodeInvalidClient {
		t.Fatalf("replayed assertion: %v", err)
	}
	// Another VM (same Store, its own table) sees the jti in the Store.
	e2, _, _ := newCIMDTestAS(t)
	e2.store = at.e.store
	at2 := &assertionTest{t: t, e: e2, n: at.n, clock: at.clock}
	if _, err := at2.auth(assertionForm(a)); err == nil {
		t.Fatal("replay on another VM accepted")
	}
	// A fresh jti is fine.
	if _, err := at.auth(assertionForm(signAssertion(t, keys[AlgEdDSA], AlgEdDSA, at.claims(nil)))); err != nil {
		t.Fatal(err)
	}
}

func TestClientAssertionNotPrivateKeyJWT(t *testing.T) {
	keys := clientKeysForTest(t)
	at := newAssertionTest(t, nil, "") // a public client ("none")
	if _, err := at.auth(assertionForm(signAssertion(t, keys[AlgES256], AlgES256, at.claims(nil)))); err == nil || err.Code != ErrCodeInvalidClient {
		t.Fatalf("assertion from a public client: %v", err)
	}
}

func TestClientAssertionJWKSURI(t *testing.T) {
	keys := clientKeysForTest(t)
	at := newAssertionTest(t, map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`,
		"jwks_uri": `"https://client.example.com/jwks.json"`}, jwksOf(keys["PS256"]))
	for i := 0; i < 2; i++ {
		if _, err := at.auth(assertionForm(signAssertion(t, keys["PS256"], "PS256", at.claims(nil)))); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	fetches := 0
	for _, c := range at.n.docCalls {
		if c.Path == "/jwks.json" {
			fetches++
		}
	}
	if fetches != 1 {
		t.Errorf("jwks_uri fetched %d times, want 1 (cached by max-age)", fetches)
	}
	// A key set that is not usable refuses, and is not cached.
	bad := newAssertionTest(t, map[string]string{"token_endpoint_auth_method": `"private_key_jwt"`,
		"jwks_uri": `"https://client.example.com/jwks.json"`}, `{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}]}`)
	if _, err := bad.auth(assertionForm(signAssertion(t, keys[AlgES256], AlgES256, bad.claims(nil)))); err == nil || err.Code != ErrCodeInvalidClient {
		t.Fatalf("unusable jwks_uri: %v", err)
	}
}

func TestParseClientJWKS(t *testing.T) {
	keys := clientKeysForTest(t)
	good, err := parseClientJWKS([]byte(jwksOf(keys[AlgES256], keys[AlgEdDSA], keys["RS256"])))
	if err != nil || len(good) != 3 {
		t.Fatalf("%d keys, %v", len(good), err)
	}
	for name, raw := range map[string]string{
		"not JSON":        `{`,
		"no keys":         `{}`,
		"empty":           `{"keys":[]}`,
		"private member":  `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + keys[AlgEdDSA].jwk["x"].(string) + `","d":"AAAA"}]}`,
		"only encryption": strings.Replace(jwksOf(keys[AlgES256]), `"use":"sig"`, `"use":"enc"`, 1),
		"short RSA":       `{"keys":[{"kty":"RSA","n":"` + b64.EncodeToString(make([]byte, 128)) + `","e":"AQAB"}]}`,
		"unknown kty":     `{"keys":[{"kty":"oct"}]}`,
	} {
		if ks, err := parseClientJWKS([]byte(raw)); err == nil {
			t.Errorf("%s: accepted %d keys", name, len(ks))
		}
	}
}

// FuzzParseClientAssertion: any string parses or fails without panicking;
// what parses has iss, sub and exp.
func FuzzParseClientAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJhIiwic3ViIjoiYSIsImV4cCI6MX0.AAAA")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseClientAssertion(s)
		if err != nil {
			return
		}
		if a.iss == "" || a.sub == "" || a.exp.IsZero() || len(a.Signature) == 0 || !containsString(assertionSigningAlgs, a.Alg) {
			t.Fatalf("parsed %q into %+v", s, a)
		}
	})
}

// FuzzParseClientJWKS: any bytes parse or fail without panicking; what
// parses is bounded and holds only public keys.
func FuzzParseClientJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := parseClientJWKS(b)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > maxClientKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if _, ok := k.Public.(crypto.Signer); ok || k.Private != nil {
				t.Fatal("a private key came out of a JWK Set")
			}
		}
	})
}

// TestMetadataAdvertisesPrivateKeyJWT: with metadata documents on, the AS
// metadata lists private_key_jwt and, as RFC 8414 §2 then requires, the
// signing algorithms; without them, neither.
func TestMetadataAdvertisesPrivateKeyJWT(t *testing.T) {
	e, _, _ := newCIMDTestAS(t)
	o := e.Handle(&Request{Method: "GET", Scheme: "https", Authority: "mcp.example.com", Path: "/.well-known/oauth-authorization-server"})
	var m AuthorizationServerMetadata
	if err := json.Unmarshal(o.(Reply).Body, &m); err != nil {
		t.Fatal(err)
	}
	if !containsString(m.TokenEndpointAuthMethodsSupported, AuthMethodPrivateKeyJWT) || !containsString(m.RevocationEndpointAuthMethodsSupported, AuthMethodPrivateKeyJWT) ||
		strings.Join(m.TokenEndpointAuthSigningAlgValuesSupported, " ") != "ES256 EdDSA RS256 PS256" ||
		strings.Join(m.RevocationEndpointAuthSigningAlgValues, " ") != "ES256 EdDSA RS256 PS256" {
		t.Errorf("metadata %+v", m)
	}
	cfg, _ := ParseConfig([]byte(cfgJSON(map[string]string{
		"authorization_server": `{"identity":{"mode":"dev"},"sealing_keys":[{"id":"s1","secret":"RwXHatZYY0oFf8MarH7BtUmd6ohDGxGAoF3POeyIhZM"}]}`})))
	off, _ := New(cfg, Options{})
	o = off.Handle(&Request{Method: "GET", Scheme: "https", Authority: "mcp.example.com", Path: "/.well-known/oauth-authorization-server"})
	m = AuthorizationServerMetadata{}
	if err := json.Unmarshal(o.(Reply).Body, &m); err != nil {
		t.Fatal(err)
	}
	if containsString(m.TokenEndpointAuthMethodsSupported, AuthMethodPrivateKeyJWT) || m.TokenEndpointAuthSigningAlgValuesSupported != nil {
		t.Errorf("without CIMD: %+v", m)
	}
}
