package authcore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// joseKey converts a standard-library key into the form the engine holds
// (jose's own EC and RSA keys; Ed25519 keys are the standard library's).
func joseKey(k any) any {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if p, err := jose.NewECPublicKey(k.Curve.Params().Name, mustBytes(k.Bytes())); err == nil {
			return p
		}
	case *ecdsa.PrivateKey:
		if p, err := jose.NewECPrivateKey(k.Curve.Params().Name, mustBytes(k.Bytes())); err == nil {
			return p
		}
	case *rsa.PublicKey:
		if p, err := jose.NewRSAPublicKey(k.N.Bytes(), k.E); err == nil {
			return p
		}
	}
	return k
}

// sameKey reports whether a and b, in either form, are the same key.
func sameKey(a, b any) bool {
	a, b = joseKey(a), joseKey(b)
	if pa, ok := a.(*jose.ECPrivateKey); ok {
		pb, ok := b.(*jose.ECPrivateKey)
		return ok && bytes.Equal(pa.Bytes(), pb.Bytes()) && pa.PublicKey().Equal(pb.PublicKey())
	}
	if pa, ok := a.(ed25519.PrivateKey); ok {
		return pa.Equal(b)
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	x, ok := a.(eq)
	return ok && x.Equal(b)
}

// TestDERKeysAgreeWithX509 checks the hand-written key encodings against
// crypto/x509 (which the wasm filter does not link): what x509 writes is
// read back as the same key, and what is written here x509 reads.
func TestDERKeysAgreeWithX509(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	for _, pub := range []any{&ec.PublicKey, ed.Public()} {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		got, err := parseSPKI(der)
		if err != nil || !sameKey(got, pub) {
			t.Errorf("parseSPKI(%T) = %v, %v", pub, got, err)
		}
	}
	for _, pub := range []any{&ec.PublicKey, &ec384.PublicKey, &rk.PublicKey, ed.Public()} {
		mine, err := marshalSPKI(joseKey(pub))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := x509.MarshalPKIXPublicKey(pub)
		if !bytes.Equal(mine, want) {
			t.Errorf("marshalSPKI(%T) differs from x509:\n%x\n%x", pub, mine, want)
		}
	}
	for _, priv := range []any{ec, ed} {
		der, _ := x509.MarshalPKCS8PrivateKey(priv)
		got, err := parsePKCS8(der)
		if err != nil || !sameKey(got, priv) {
			t.Errorf("parsePKCS8(%T) = %v", priv, err)
		}
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	if got, err := parseSEC1(sec1); err != nil || !sameKey(got, ec) {
		t.Errorf("parseSEC1: %v", err)
	}
	mine, err := marshalPKCS8EC(joseKey(ec).(*jose.ECPrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	back, err := x509.ParsePKCS8PrivateKey(mine)
	if err != nil || !back.(*ecdsa.PrivateKey).Equal(ec) {
		t.Errorf("x509 cannot read marshalPKCS8EC: %v", err)
	}

	// Refusals: other curves and key types, trailing bytes, a SEC 1 key
	// whose public key belongs to another scalar.
	der384, _ := x509.MarshalPKIXPublicKey(&ec384.PublicKey)
	derRSA, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	p8RSA, _ := x509.MarshalPKCS8PrivateKey(rk)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mixed, _ := x509.MarshalECPrivateKey(ec)
	otherPub, _ := other.PublicKey.Bytes()
	mixed = bytes.Replace(mixed, mustBytes(ec.PublicKey.Bytes()), otherPub, 1)
	okSPKI, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	for name, f := range map[string]func() error{
		"P-384 public":    func() error { _, err := parseSPKI(der384); return err },
		"RSA public":      func() error { _, err := parseSPKI(derRSA); return err },
		"RSA private":     func() error { _, err := parsePKCS8(p8RSA); return err },
		"trailing byte":   func() error { _, err := parseSPKI(append(okSPKI, 0)); return err },
		"truncated":       func() error { _, err := parseSPKI(okSPKI[:len(okSPKI)-1]); return err },
		"mismatched SEC1": func() error { _, err := parseSEC1(mixed); return err },
		"empty":           func() error { _, err := parsePKCS8(nil); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustBytes(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParseDERKeys feeds arbitrary bytes to the three key parsers: no
// panic, and whatever parses as a public key writes back to the same bytes.
func FuzzParseDERKeys(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []any{&ec.PublicKey, ed.Public()} {
		der, _ := x509.MarshalPKIXPublicKey(k)
		f.Add(der)
	}
	for _, k := range []any{ec, ed} {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		f.Add(der)
	}
	sec1, _ := x509.MarshalECPrivateKey(ec)
	f.Add(sec1)
	f.Fuzz(func(t *testing.T, der []byte) {
		if pub, err := parseSPKI(der); err == nil {
			back, err := marshalSPKI(pub)
			if err != nil || !bytes.Equal(back, der) {
				t.Fatalf("SPKI %x parsed but writes back as %x (%v)", der, back, err)
			}
		}
		_, _ = parsePKCS8(der)
		_, _ = parseSEC1(der)
	})
}
