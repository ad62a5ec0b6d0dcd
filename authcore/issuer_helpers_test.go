package authcore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// An external issuer for the guard's tests: its keys are generated and
// its tokens signed here, and it answers the engine's callouts for its
// metadata, JWK Set and introspection endpoint.

var b64u = base64.RawURLEncoding

// testKey is one signing key of a test issuer.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
	use  string // "" leaves "use" out of the JWK
	// jwkAlg is the JWK's "alg" ("" leaves it out).
	jwkAlg string
}

var (
	rsaKeyOnce sync.Once
	rsaKeys    [3]*rsa.PrivateKey
	rsaSmall   *rsa.PrivateKey
	rsaNext    int
)

// testRSAKey returns one of three RSA-2048 keys, generated once per run.
func testRSAKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeyOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		rsaSmall = k
	})
	return rsaKeys[i]
}

func newTestKey(t testing.TB, kid, alg string) *testKey {
	t.Helper()
	k := &testKey{kid: kid, alg: alg, use: "sig", jwkAlg: alg}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256":
		rsaNext++
		k.priv = testRSAKey(t, rsaNext%len(rsaKeys))
	case "ES256":
		k.priv, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k.priv, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, k.priv, _ = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	return k
}

// jwk renders the public half.
func (k *testKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid}
	if k.use != "" {
		m["use"] = k.use
	}
	if k.jwkAlg != "" {
		m["alg"] = k.jwkAlg
	}
	switch p := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64u.EncodeToString(p.N.Bytes()), b64u.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		m["kty"], m["crv"] = "EC", p.Curve.Params().Name
		raw, err := p.Bytes() // 0x04 || X || Y (SEC 1 §2.3.3)
		if err != nil {
			panic(err)
		}
		m["x"], m["y"] = b64u.EncodeToString(raw[1:1+size]), b64u.EncodeToString(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64u.EncodeToString(p)
	}
	return m
}

// signToken signs claims with k under the given header (alg and kid are
// added unless the header sets them).
func signToken(t testing.TB, k *testKey, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": k.alg, "kid": k.kid}
	for n, v := range header {
		if v == nil {
			delete(h, n)
		} else {
			h[n] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	signed := b64u.EncodeToString(hb) + "." + b64u.EncodeToString(cb)
	alg, _ := h["alg"].(string)
	sig, err := signWith(k.priv, alg, []byte(signed))
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64u.EncodeToString(sig)
}

func signWith(priv crypto.Signer, alg string, msg []byte) ([]byte, error) {
	hashOf := func(h crypto.Hash) []byte {
		w := h.New()
		w.Write(msg)
		return w.Sum(nil)
	}
	switch alg {
	case "RS256":
		return rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, hashOf(crypto.SHA256))
	case "RS384":
		return rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA384, hashOf(crypto.SHA384))
	case "RS512":
		return rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA512, hashOf(crypto.SHA512))
	case "PS256":
		return rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, hashOf(crypto.SHA256), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256", "ES384":
		p := priv.(*ecdsa.PrivateKey)
		var d []byte
		if alg == "ES256" {
			s := sha256.Sum256(msg)
			d = s[:]
		} else {
			s := sha512.Sum384(msg)
			d = s[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, p, d)
		if err != nil {
			return nil, err
		}
		size := (p.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...), nil
	case "EdDSA":
		return ed25519.Sign(priv.(ed25519.PrivateKey), msg), nil
	case "HS256", "none":
		return []byte("not-a-signature"), nil
	}
	return nil, errors.New("test: cannot sign " + alg)
}

// testIdP answers an engine's callouts for one or more issuers on the
// clusters it is registered for.
type testIdP struct {
	t  testing.TB
	mu sync.Mutex
	// keys is the published JWK Set, served at jwksPath (default: any
	// path ending in /jwks).
	keys     []*testKey
	jwksPath string
	// down makes every request fail as an unreachable cluster.
	down bool
	// jwksHeaders are added to JWK Set responses (cache-control...).
	jwksHeaders Header
	// metadata maps a request path to a metadata document.
	metadata map[string]string
	// introspection maps an opaque token to the endpoint's answer.
	introspection map[string]string
	// hits counts requests by "METHOD path".
	hits map[string]int
	// lastAuth is the Authorization of the last introspection request.
	lastAuth string
}

func newTestIdP(t testing.TB, keys ...*testKey) *testIdP {
	return &testIdP{t: t, keys: keys, metadata: map[string]string{}, introspection: map[string]string{}, hits: map[string]int{}}
}

func (p *testIdP) setKeys(keys ...*testKey) {
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
}

func (p *testIdP) count(what string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[what]
}

// serve answers one Call.
func (p *testIdP) serve(c Call) CallResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	path, _, _ := strings.Cut(c.Path, "?")
	p.hits[c.Method+" "+path]++
	if p.down {
		return CallResult{Err: errors.New("test: issuer down")}
	}
	switch {
	case c.Method == "GET" && (path == p.jwksPath || p.jwksPath == "" && strings.HasSuffix(path, "/jwks")):
		var set []map[string]any
		for _, k := range p.keys {
			set = append(set, k.jwk())
		}
		b, _ := json.Marshal(map[string]any{"keys": set})
		return CallResult{Status: 200, Headers: append(Header{{"content-type", "application/json"}}, p.jwksHeaders...), Body: b}
	case c.Method == "GET" && p.metadata[path] != "":
		return CallResult{Status: 200, Headers: Header{{"content-type", "application/json"}}, Body: []byte(p.metadata[path])}
	case c.Method == "POST" && strings.HasSuffix(path, "/introspect"):
		p.lastAuth = c.Headers.Get("authorization")
		f, err := url.ParseQuery(string(c.Body))
		if err != nil {
			return CallResult{Status: 400}
		}
		if ans, ok := p.introspection[f.Get("token")]; ok {
			return CallResult{Status: 200, Headers: Header{{"content-type", "application/json"}}, Body: []byte(ans)}
		}
		return CallResult{Status: 200, Body: []byte(`{"active":false}`)}
	}
	return CallResult{Status: 404, Body: []byte("not found")}
}

// issuerHarness drives an engine whose callouts go to test issuers.
type issuerHarness struct {
	*harness
	idps   map[string]*testIdP // by cluster
	counts map[string]int
}

func newIssuerHarness(t testing.TB, cfg string, idps map[string]*testIdP) *issuerHarness {
	t.Helper()
	h := &issuerHarness{harness: newHarness(t, cfg), idps: idps, counts: map[string]int{}}
	h.e = h.countingEngine(h.e.cfg, h.store)
	h.call = func(c Call) CallResult {
		p := idps[c.Cluster]
		if p == nil {
			return CallResult{Err: errors.New("test: unknown cluster " + c.Cluster)}
		}
		return p.serve(c)
	}
	return h
}

// countingEngine is another engine (another VM) on the same clock, its
// counters added to h.counts.
func (h *issuerHarness) countingEngine(cfg *Config, s Store) *Engine {
	e, err := New(cfg, Options{Now: h.clk.Now, Store: s, Count: func(n string) {
		h.mu.Lock()
		h.counts[n]++
		h.mu.Unlock()
	}})
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

func (h *issuerHarness) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[name]
}

// access sends a GET with the token to path on e and returns the final
// outcome: the Reply, or a Forward.
func (h *issuerHarness) access(e *Engine, path, token string) Outcome {
	req := &Request{Method: "GET", Scheme: "https", Authority: "mcp.example.com", Path: path}
	if token != "" {
		req.Headers = Header{{"authorization", "Bearer " + token}}
	}
	o := e.Handle(req)
	for {
		switch x := o.(type) {
		case Call:
			o = x.Resume(h.call(x))
		case ReadBody:
			o = x.Resume(nil)
		case Reply, Forward, Wait:
			return o
		default:
			h.t.Fatalf("outcome %T", o)
		}
	}
}

// deniedReason returns the single guard denial counted since before, "" for none.
func (h *issuerHarness) denials() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for n, v := range h.counts {
		if r, ok := strings.CutPrefix(n, "mcpgate.guard.denied."); ok {
			out[r] = v
		}
	}
	return out
}

// stdClaims are claims valid for an hour from now.
func stdClaims(now time.Time, iss, sub string, aud any, extra map[string]any) map[string]any {
	m := map[string]any{"iss": iss, "sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "j-" + sub}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}
