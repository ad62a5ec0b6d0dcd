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

// signer returns the test key for alg.
func (k *testKeys) signer(alg string) crypto.Signer {
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

// publicJWK renders the public half of priv as a JWK with extra members.
func publicJWK(priv crypto.Signer, extra map[string]any) map[string]any {
	m := map[string]any{}
	switch pub := priv.Public().(type) {
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
		return Sign(alg, loadKeys().signer(alg), rand.Reader, in)
	})
	if err != nil {
		panic(err)
	}
	return tok
}
