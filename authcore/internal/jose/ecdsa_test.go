package jose

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"testing"
)

// TestECDSAForms: DER from crypto/ecdsa converts to R || S and back to the
// same bytes; ecdsa.VerifyASN1 accepts what ECDSAToDER makes.
func TestECDSAForms(t *testing.T) {
	k := loadKeys()
	for _, tc := range []struct {
		alg  string
		priv *ecdsa.PrivateKey
	}{{ES256, k.es256}, {ES384, k.es384}} {
		for i := range 50 {
			msg := sha512.Sum384([]byte{byte(i)})
			der, err := ecdsa.SignASN1(rand.Reader, tc.priv, msg[:])
			if err != nil {
				t.Fatal(err)
			}
			rs, err := ECDSAFromDER(tc.alg, der)
			if err != nil || len(rs) != 2*(tc.priv.Curve.Params().BitSize/8) {
				t.Fatalf("%s FromDER(%x): %x %v", tc.alg, der, rs, err)
			}
			back, err := ECDSAToDER(tc.alg, rs)
			if err != nil || !bytes.Equal(back, der) {
				t.Fatalf("%s ToDER: %x %v, want %x", tc.alg, back, err, der)
			}
			if !ecdsa.VerifyASN1(&tc.priv.PublicKey, msg[:], back) {
				t.Fatalf("%s: converted signature does not verify", tc.alg)
			}
		}
	}
}

// TestECDSAStrictDER: every non-DER or out-of-range encoding is refused.
func TestECDSAStrictDER(t *testing.T) {
	n256, _ := hex.DecodeString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
	one := []byte{0x02, 0x01, 0x01}
	seq := func(parts ...[]byte) []byte {
		b := bytes.Join(parts, nil)
		return append([]byte{0x30, byte(len(b))}, b...)
	}
	intOf := func(v []byte) []byte { return append([]byte{0x02, byte(len(v))}, v...) }
	if rs, err := ECDSAFromDER(ES256, seq(one, one)); err != nil || rs[31] != 1 || rs[63] != 1 {
		t.Fatalf("r = s = 1: %x %v", rs, err)
	}
	for name, der := range map[string][]byte{
		"empty":              {},
		"not a sequence":     append([]byte{0x31, 6}, append(one, one...)...),
		"long-form length":   append([]byte{0x30, 0x81, 6}, append(one, one...)...),
		"length too long":    append([]byte{0x30, 7}, append(one, one...)...),
		"trailing byte":      append(seq(one, one), 0),
		"inner trailing":     seq(one, one, []byte{0}),
		"one integer":        seq(one),
		"zero r":             seq(intOf([]byte{0}), one),
		"negative r":         seq(intOf([]byte{0x80}), one),
		"leading zero":       seq(intOf([]byte{0, 1}), one),
		"empty integer":      seq(intOf(nil), one),
		"r = n":              seq(intOf(append([]byte{0}, n256...)), one),
		"r too long":         seq(intOf(append([]byte{1}, n256...)), one),
		"bit string not int": seq([]byte{0x03, 0x01, 0x01}, one),
		"integer overruns":   {0x30, 0x03, 0x02, 0x05, 0x01},
	} {
		if rs, err := ECDSAFromDER(ES256, der); err == nil {
			t.Errorf("%s: accepted as %x", name, rs)
		}
	}
	if _, err := ECDSAFromDER(EdDSA, seq(one, one)); err == nil {
		t.Error("EdDSA has no ECDSA form")
	}
	rs := make([]byte, 64)
	for name, sig := range map[string][]byte{
		"zero r and s": rs,
		"short":        rs[:63],
		"r = n":        append(append([]byte(nil), n256...), n256...),
	} {
		if der, err := ECDSAToDER(ES256, sig); err == nil {
			t.Errorf("%s: converted to %x", name, der)
		}
	}
}

// FuzzECDSAFromDER: strict DER has one encoding per value, so whatever
// converts converts back to the same bytes.
func FuzzECDSAFromDER(f *testing.F) {
	f.Add([]byte{0x30, 6, 2, 1, 1, 2, 1, 1})
	f.Add([]byte{0x30, 8, 2, 2, 0, 0x80, 2, 2, 0, 0x81})
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, alg := range []string{ES256, ES384} {
			rs, err := ECDSAFromDER(alg, der)
			if err != nil {
				continue
			}
			back, err := ECDSAToDER(alg, rs)
			if err != nil || !bytes.Equal(back, der) {
				t.Fatalf("%s: %x -> %x -> %x, %v", alg, der, rs, back, err)
			}
		}
	})
}
