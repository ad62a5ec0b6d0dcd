package authcore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore/hostsig"
	wasmhost "github.com/mcpgate/mcpgate/wazero-harness"
)

// envoyCrypto is HostCrypto through the harness's implementation of
// Envoy's verify_signature and sign (the same encoding the filter sends,
// hostsig), run natively. calls counts what reached the host.
type envoyCrypto struct{ verifies, signs int }

func (c *envoyCrypto) VerifySignature(hash string, spki, sig, text []byte) (bool, error) {
	c.verifies++
	res, st := wasmhost.CallSignatureFunction(hostsig.Verify, hostsig.VerifyArgs(hash, spki, sig, text))
	if st != 0 {
		return false, errors.New("status " + string(rune('0'+st)))
	}
	ok, _, err := hostsig.ParseVerifyResult(res)
	return ok, err
}

func (c *envoyCrypto) Sign(hash string, pkcs8, text []byte) ([]byte, error) {
	c.signs++
	res, st := wasmhost.CallSignatureFunction(hostsig.Sign, hostsig.SignArgs(hash, pkcs8, text))
	if st != 0 {
		return nil, errors.New("sign status")
	}
	return hostsig.ParseSignResult(res)
}

// sigCase is one signature of the corpus.
type sigCase struct {
	name string
	alg  string
	pub  crypto.PublicKey
	sig  []byte
}

// signatureCorpus builds valid and invalid JWS signatures over signed for
// ES256, ES384 and RS256/384/512.
func signatureCorpus(t testing.TB, signed string) []sigCase {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rk2, _ := rsa.GenerateKey(rand.Reader, 2048)
	h256 := sha256.Sum256([]byte(signed))
	h384 := sha512.Sum384([]byte(signed))
	h512 := sha512.Sum512([]byte(signed))
	rs := func(k *ecdsa.PrivateKey, h []byte) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, k, h)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	highS := func(sig []byte, curve elliptic.Curve) []byte {
		size := len(sig) / 2
		s := new(big.Int).SetBytes(sig[size:])
		s.Sub(curve.Params().N, s)
		out := append([]byte(nil), sig...)
		s.FillBytes(out[size:])
		return out
	}
	with := func(sig []byte, i int, v byte) []byte {
		out := append([]byte(nil), sig...)
		out[i] = v
		return out
	}
	es256 := rs(p256, h256[:])
	es384 := rs(p384, h384[:])
	rsa256, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, h256[:])
	rsa384, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA384, h384[:])
	rsa512, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA512, h512[:])
	n256 := p256.Curve.Params().N.FillBytes(make([]byte, 32))
	zero32 := make([]byte, 32)
	// r || s with a DER-style sign byte: what a converter that forgets to
	// strip or pad would produce.
	der, _ := ecdsa.SignASN1(rand.Reader, p256, h256[:])
	return []sigCase{
		{"ES256 valid", "ES256", &p256.PublicKey, es256},
		{"ES256 high-S (valid ECDSA, not malleability-checked by JWS)", "ES256", &p256.PublicKey, highS(es256, elliptic.P256())},
		{"ES256 wrong key", "ES256", &p256b.PublicKey, es256},
		{"ES256 truncated", "ES256", &p256.PublicKey, es256[:63]},
		{"ES256 one byte more", "ES256", &p256.PublicKey, append(append([]byte(nil), es256...), 0)},
		{"ES256 empty", "ES256", &p256.PublicKey, nil},
		{"ES256 flipped bit", "ES256", &p256.PublicKey, with(es256, 40, es256[40]^1)},
		{"ES256 r = 0", "ES256", &p256.PublicKey, append(append([]byte(nil), zero32...), es256[32:]...)},
		{"ES256 s = 0", "ES256", &p256.PublicKey, append(append([]byte(nil), es256[:32]...), zero32...)},
		{"ES256 r = n", "ES256", &p256.PublicKey, append(append([]byte(nil), n256...), es256[32:]...)},
		{"ES256 s = n", "ES256", &p256.PublicKey, append(append([]byte(nil), es256[:32]...), n256...)},
		{"ES256 all 0xff", "ES256", &p256.PublicKey, bytesOf(0xff, 64)},
		{"ES256 DER signature instead of r||s", "ES256", &p256.PublicKey, der},
		{"ES256 signature with a P-384 key (wrong curve)", "ES256", &p384.PublicKey, es256},
		{"ES384 signature under ES256 (wrong length)", "ES256", &p256.PublicKey, es384},
		{"ES384 valid", "ES384", &p384.PublicKey, es384},
		{"ES384 high-S", "ES384", &p384.PublicKey, highS(es384, elliptic.P384())},
		{"ES384 with a P-256 key (wrong curve)", "ES384", &p256.PublicKey, es384},
		{"ES384 truncated", "ES384", &p384.PublicKey, es384[:95]},
		{"RS256 valid", "RS256", &rk.PublicKey, rsa256},
		{"RS384 valid", "RS384", &rk.PublicKey, rsa384},
		{"RS512 valid", "RS512", &rk.PublicKey, rsa512},
		{"RS256 signature under RS384", "RS384", &rk.PublicKey, rsa256},
		{"RS256 wrong key", "RS256", &rk2.PublicKey, rsa256},
		{"RS256 truncated", "RS256", &rk.PublicKey, rsa256[:255]},
		{"RS256 leading zero added", "RS256", &rk.PublicKey, append([]byte{0}, rsa256...)},
		{"RS256 flipped bit", "RS256", &rk.PublicKey, with(rsa256, 100, rsa256[100]^1)},
		{"RS256 zero", "RS256", &rk.PublicKey, make([]byte, 256)},
		{"RS256 with an EC key", "RS256", &p256.PublicKey, rsa256},
		{"ES256 with an RSA key", "ES256", &rk.PublicKey, es256},
	}
}

// validCases are the corpus cases that must verify: the valid signatures
// and their high-S twins (ECDSA accepts both s and n-s; RFC 7518 does not
// ask for low S).
var validCases = map[string]bool{
	"ES256 valid": true, "ES384 valid": true, "RS256 valid": true, "RS384 valid": true, "RS512 valid": true,
	"ES256 high-S (valid ECDSA, not malleability-checked by JWS)": true, "ES384 high-S": true,
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// goVerify is the reference verdict computed in Go for the corpus,
// independent of hostVerify: the JWS rules of RFC 7518 §3.3 and §3.4.
func goVerify(alg string, pub crypto.PublicKey, signed string, sig []byte) bool {
	hashes := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512, "ES256": crypto.SHA256, "ES384": crypto.SHA384}
	curves := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384()}
	h := hashes[alg].New()
	h.Write([]byte(signed))
	sum := h.Sum(nil)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if curves[alg] != k.Curve || len(sig) != 2*size {
			return false
		}
		return ecdsa.Verify(k, sum, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	case *rsa.PublicKey:
		return alg[0] == 'R' && rsa.VerifyPKCS1v15(k, hashes[alg], sum, sig) == nil
	}
	return false
}

// TestSignatureCorpusBothPaths runs every corpus signature through the
// engine's one verification function twice: with the host (the harness's
// Envoy functions) and in Go (jose.Verify), expecting the same verdict,
// and the expected one: only the valid and high-S cases verify.
func TestSignatureCorpusBothPaths(t *testing.T) {
	const signed = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"
	host := &envoyCrypto{}
	withHost := &Engine{hostCrypto: host, log: func(LogLevel, string) {}}
	goOnly := &Engine{log: func(LogLevel, string) {}}
	for _, c := range signatureCorpus(t, signed) {
		if _, handled := withHost.hostVerify(c.alg, joseKey(c.pub), []byte(signed), c.sig); !handled {
			t.Errorf("%s: not handled by the host path", c.name)
		}
		before := host.verifies
		viaHost := withHost.verifySignature(c.alg, joseKey(c.pub), []byte(signed), c.sig) == nil
		asked := host.verifies > before
		inGo := goOnly.verifySignature(c.alg, joseKey(c.pub), []byte(signed), c.sig) == nil
		if viaHost != inGo {
			t.Errorf("%s: host path %v, Go path %v", c.name, viaHost, inGo)
		}
		if want := validCases[c.name]; inGo != want || goVerify(c.alg, c.pub, signed, c.sig) != want {
			t.Errorf("%s: verdict %v, want %v", c.name, inGo, want)
		}
		// A well-formed signature for a fitting key must really reach the host.
		if validCases[c.name] && !asked {
			t.Errorf("%s: the host was not asked", c.name)
		}
	}
}

// TestHostSigningMintsVerifiableTokens signs access tokens through the
// host and checks the engine (with and without host) accepts them.
func TestHostSigningMintsVerifiableTokens(t *testing.T) {
	host := &envoyCrypto{}
	e, err := New(loadConfig(t, "guard"), Options{HostCrypto: host})
	if err != nil {
		t.Fatal(err)
	}
	goOnly := newTestEngine(t, "guard")
	if e.cfg.activeKey.Alg != AlgES256 {
		t.Fatalf("test config's active key is %s, want ES256", e.cfg.activeKey.Alg)
	}
	c := AccessTokenClaims{Issuer: e.cfg.Issuer, Subject: "alice", Audience: []string{"https://r.example/mcp"}, IssuedAt: time.Now(), Expiry: time.Now().Add(time.Hour), JTI: "j"}
	tok, err := e.MintAccessToken(c)
	if err != nil {
		t.Fatal(err)
	}
	if host.signs != 1 {
		t.Fatalf("host signed %d times, want 1", host.signs)
	}
	for name, eng := range map[string]*Engine{"host": e, "Go": goOnly} {
		if _, err := eng.parseAccessToken(tok); err != nil {
			t.Errorf("%s path refuses a host-signed token: %v", name, err)
		}
	}
	if host.verifies == 0 {
		t.Error("the host path did not verify through the host")
	}
}
