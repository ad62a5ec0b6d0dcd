package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestSignVerify: every algorithm signs and verifies with its key type; a
// changed input or signature fails; every other algorithm is refused with
// that key (no confusion) or fails to verify.
func TestSignVerify(t *testing.T) {
	k := loadKeys()
	input := []byte("eyJhbGciOiJ4In0.eyJzdWIiOiJhIn0")
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			priv := k.signer(alg)
			pub := ours(priv.Public())
			sig, err := testSign(alg, priv, input)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(alg, pub, input, sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			if err := Verify(alg, pub, append([]byte{'x'}, input...), sig); !errors.Is(err, ErrSignature) {
				t.Errorf("changed input: %v", err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if err := Verify(alg, pub, input, bad); !errors.Is(err, ErrSignature) {
				t.Errorf("changed signature: %v", err)
			}
			if err := Verify(alg, pub, input, sig[:len(sig)-1]); err == nil {
				t.Error("truncated signature verified")
			}
			for _, other := range append(Algorithms, "none", "HS256", "") {
				if other == alg {
					continue
				}
				err := Verify(other, pub, input, sig)
				if err == nil {
					t.Errorf("verified as %s", other)
				}
				if KeyFits(other, pub) != !errors.Is(err, ErrAlgorithm) {
					t.Errorf("%s: KeyFits %v but %v", other, KeyFits(other, pub), err)
				}
				if _, err := testSign(other, priv, input); KeyFits(other, pub) != (err == nil) {
					t.Errorf("signing as %s: %v", other, err)
				}
			}
		})
	}
}

// TestKeyFits pins each algorithm to exactly one key type.
func TestKeyFits(t *testing.T) {
	k := loadKeys()
	want := map[string]crypto.PublicKey{ES256: ours(k.es256.Public()), ES384: ours(k.es384.Public()), EdDSA: k.ed.Public()}
	for _, alg := range []string{RS256, RS384, RS512, PS256, PS384, PS512} {
		want[alg] = ours(k.rsa.Public())
	}
	for _, alg := range Algorithms {
		// Standard-library keys never fit: only this package's do.
		if KeyFits(alg, k.stdSigner(alg).Public()) && alg != EdDSA {
			t.Errorf("KeyFits(%s) takes a standard-library key", alg)
		}
		for _, pub := range append(pubs(k), nil, "x") {
			fits := KeyFits(alg, pub)
			if same := pub != nil && want[alg] != nil && fitsSame(pub, want[alg]); fits != same {
				t.Errorf("KeyFits(%s, %T) = %v", alg, pub, fits)
			}
		}
	}
}

// fitsSame reports whether a and b are the same key, either in this
// package's form or the standard library's.
func fitsSame(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	x, ok := ours(a).(eq)
	return ok && x.Equal(ours(b))
}

// TestVerifyKnownAnswer checks against signatures made independently with
// crypto/rsa and crypto/ecdsa: PKCS #1 v1.5, PSS with the RFC 7518 §3.5
// salt (hash length) and ECDSA converted from DER.
func TestVerifyKnownAnswer(t *testing.T) {
	k := loadKeys()
	input := []byte("a.b")
	h := sha256.Sum256(input)
	pkcs, _ := rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, h[:])
	if err := Verify(RS256, ours(k.rsa.Public()), input, pkcs); err != nil {
		t.Errorf("RS256: %v", err)
	}
	if err := Verify(PS256, ours(k.rsa.Public()), input, pkcs); err == nil {
		t.Error("a PKCS #1 v1.5 signature verified as PS256")
	}
	pss, _ := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: 32})
	if err := Verify(PS256, ours(k.rsa.Public()), input, pss); err != nil {
		t.Errorf("PS256: %v", err)
	}
	// RFC 7518 §3.5: "The size of the salt value is the same size as the
	// hash function output." Other salt lengths are refused (go-jose's
	// verifier accepts any: a documented, deliberate difference).
	pss0, _ := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: 0})
	if err := Verify(PS256, ours(k.rsa.Public()), input, pss0); err == nil {
		t.Error("PS256 with an empty salt verified")
	}
	der, _ := ecdsa.SignASN1(rand.Reader, k.es256, h[:])
	rs, err := ECDSAFromDER(ES256, der)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ES256, ours(k.es256.Public()), input, rs); err != nil {
		t.Errorf("ES256: %v", err)
	}
	if err := Verify(ES256, ours(k.es256.Public()), input, der); err == nil {
		t.Error("a DER signature verified as JWS ES256")
	}
}
