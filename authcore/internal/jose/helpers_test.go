package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"sync"
)

// testKeys are fixed keys (testdata/keys.pem), so that committed fuzz
// corpora that carry signatures stay meaningful.
type testKeys struct {
	rsa          *rsa.PrivateKey
	es256, es384 *ecdsa.PrivateKey
	ed           ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func loadKeys() *testKeys {
	keysOnce.Do(func() {
		b, err := os.ReadFile("testdata/keys.pem")
		if err != nil {
			panic(err)
		}
		var all []any
		for {
			var blk *pem.Block
			if blk, b = pem.Decode(b); blk == nil {
				break
			}
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				panic(err)
			}
			all = append(all, k)
		}
		keys = testKeys{rsa: all[0].(*rsa.PrivateKey), es256: all[1].(*ecdsa.PrivateKey), es384: all[2].(*ecdsa.PrivateKey), ed: all[3].(ed25519.PrivateKey)}
	})
	return &keys
}

// stdSigner returns the test key for alg as the standard library holds it.
func (k *testKeys) stdSigner(alg string) crypto.Signer {
	switch alg {
	case ES256:
		return k.es256
	case ES384:
		return k.es384
	case EdDSA:
		return k.ed
	}
	return k.rsa
}

// signer returns the test key for alg as this package holds it; RSA keys,
// which the package never signs with, stay the standard library's.
func (k *testKeys) signer(alg string) crypto.Signer {
	return ours(k.stdSigner(alg)).(crypto.Signer)
}

// ours converts a standard-library key into this package's form; other
// values are returned as they are.
func ours(k any) any {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if p, err := NewRSAPublicKey(k.N.Bytes(), k.E); err == nil {
			return p
		}
	case *ecdsa.PublicKey:
		if b, err := k.Bytes(); err == nil {
			return orSelf(NewECPublicKey(k.Curve.Params().Name, b))(k)
		}
	case *ecdsa.PrivateKey:
		if d, err := k.Bytes(); err == nil {
			return orSelf(NewECPrivateKey(k.Curve.Params().Name, d))(k)
		}
	}
	return k
}

// orSelf returns a function giving v, or its argument when err is set.
func orSelf[T any](v T, err error) func(any) any {
	return func(k any) any {
		if err != nil {
			return k
		}
		return v
	}
}

// testSign signs in like [Sign], and with the standard library where
// priv is an RSA key (RS* and PS*, the salt as long as the hash).
func testSign(alg string, priv crypto.Signer, in []byte) ([]byte, error) {
	rk, ok := priv.(*rsa.PrivateKey)
	if !ok {
		return Sign(alg, priv, rand.Reader, in)
	}
	if !KeyFits(alg, ours(rk.Public())) {
		return nil, ErrAlgorithm
	}
	h := algHash(alg)
	if alg[0] == 'P' {
		return rsa.SignPSS(rand.Reader, rk, h, digest(h, in), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return rsa.SignPKCS1v15(rand.Reader, rk, h, digest(h, in))
}

// publicJWK renders the public half of priv as a JWK with extra members.
func publicJWK(priv crypto.Signer, extra map[string]any) map[string]any {
	m := map[string]any{}
	switch pub := priv.Public().(type) {
	case *ECPublicKey:
		m["kty"], m["crv"], m["x"], m["y"] = "EC", pub.Curve(), b64.EncodeToString(pub.X()), b64.EncodeToString(pub.Y())
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64.EncodeToString(pub.N.Bytes()), "AQAB"
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes()
		size := (len(raw) - 1) / 2
		crv := "P-256"
		if size == 48 {
			crv = "P-384"
		}
		m["kty"], m["crv"], m["x"], m["y"] = "EC", crv, b64.EncodeToString(raw[1:1+size]), b64.EncodeToString(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64.EncodeToString(pub)
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// jsonOf marshals v, panicking on error (test values only).
func jsonOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// signed makes a compact JWS over header and payload (JSON texts) with the
// test key for alg.
func signed(alg, header, payload string) string {
	tok, err := Compact([]byte(header), []byte(payload), func(in []byte) ([]byte, error) {
		return testSign(alg, loadKeys().signer(alg), in)
	})
	if err != nil {
		panic(err)
	}
	return tok
}
