package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"math/big"
	"testing"
)

// The tests of this file hold ec.go and rsa.go to the standard library's
// crypto/ecdsa and crypto/rsa, which the filter no longer links: every
// verdict of this package's verifiers must be the standard library's.

func unhexT(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC6979 checks the deterministic nonce against RFC 6979 Appendix
// A.2.5 (P-256, SHA-256) and A.2.6 (P-384, SHA-384), message "sample":
// with no additional data the signature is the RFC's, bit for bit.
func TestRFC6979(t *testing.T) {
	h256, h384 := sha256.Sum256([]byte("sample")), sha512.Sum384([]byte("sample"))
	for _, tc := range []struct {
		crv, x, ux, r, s string
		digest           []byte
	}{
		{"P-256", "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
			"60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
			"EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
			"F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8", h256[:]},
		{"P-384", "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5",
			"EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64DEF8F0EA9055866064A254515480BC13",
			"94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46",
			"99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8", h384[:]},
	} {
		k, err := NewECPrivateKey(tc.crv, unhexT(t, tc.x))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.PublicKey().X(), unhexT(t, tc.ux)) {
			t.Errorf("%s: public key %X", tc.crv, k.PublicKey().X())
		}
		sig, err := k.signWith(nil, tc.digest)
		if err != nil {
			t.Fatal(err)
		}
		if want := unhexT(t, tc.r+tc.s); !bytes.Equal(sig, want) {
			t.Errorf("%s: signature\n%X, want\n%X", tc.crv, sig, want)
		}
		if !k.PublicKey().verify(tc.digest, sig) {
			t.Errorf("%s: the RFC's signature does not verify", tc.crv)
		}
	}
}

// stdCurve is the standard library's curve of ours.
func stdCurve(c *curve) elliptic.Curve {
	if c == p384 {
		return elliptic.P384()
	}
	return elliptic.P256()
}

// stdVerifies is crypto/ecdsa's verdict on the JWS-form sig.
func stdVerifies(pub *ecdsa.PublicKey, size int, digest, sig []byte) bool {
	if len(sig) != 2*size {
		return false
	}
	return ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
}

// TestECDSAAgainstStdlib: over fresh keys, signatures made here verify in
// crypto/ecdsa and the other way round, and both agree on the high-S twin
// (n - s, which ECDSA accepts), on r or s of zero or n, and on a signature
// of another digest.
func TestECDSAAgainstStdlib(t *testing.T) {
	for _, c := range []*curve{p256, p384} {
		for range 20 {
			std, err := ecdsa.GenerateKey(stdCurve(c), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			priv := ours(std).(*ECPrivateKey)
			pub := priv.PublicKey()
			d := make([]byte, c.hash().Size())
			rand.Read(d)
			mine, err := priv.sign(rand.Reader, d)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := ecdsa.SignASN1(rand.Reader, std, d)
			theirs, err := ECDSAFromDER(c.alg, der)
			if err != nil {
				t.Fatal(err)
			}
			n := stdCurve(c).Params().N
			for name, sig := range map[string][]byte{
				"ours":    mine,
				"theirs":  theirs,
				"high-S":  append(append([]byte(nil), mine[:c.size]...), new(big.Int).Sub(n, new(big.Int).SetBytes(mine[c.size:])).FillBytes(make([]byte, c.size))...),
				"r=0":     append(make([]byte, c.size), mine[c.size:]...),
				"s=0":     append(append([]byte(nil), mine[:c.size]...), make([]byte, c.size)...),
				"r=n":     append(n.FillBytes(make([]byte, c.size)), mine[c.size:]...),
				"r+n":     append(new(big.Int).Add(new(big.Int).SetBytes(mine[:c.size]), n).FillBytes(make([]byte, c.size+1))[1:], mine[c.size:]...),
				"short":   mine[1:],
				"swapped": append(append([]byte(nil), mine[c.size:]...), mine[:c.size]...),
			} {
				want := stdVerifies(&std.PublicKey, c.size, d, sig)
				if got := pub.verify(d, sig); got != want {
					t.Errorf("%s %s: verified %v, crypto/ecdsa %v", c.name, name, got, want)
				}
				if (name == "ours" || name == "theirs" || name == "high-S") && !want {
					t.Errorf("%s %s: crypto/ecdsa refuses a valid signature", c.name, name)
				}
			}
			d[0] ^= 1
			if pub.verify(d, mine) || stdVerifies(&std.PublicKey, c.size, d, mine) {
				t.Errorf("%s: verified over another digest", c.name)
			}
		}
	}
}

// TestECPrivateKeySigner: as a crypto.Signer the key signs in ASN.1 DER,
// which crypto/ecdsa verifies.
func TestECPrivateKeySigner(t *testing.T) {
	k := loadKeys()
	for _, std := range []*ecdsa.PrivateKey{k.es256, k.es384} {
		var signer crypto.Signer = ours(std).(*ECPrivateKey)
		d := digest(algHash(AlgFor(signer.Public())), []byte("m"))
		der, err := signer.Sign(rand.Reader, d, nil)
		if err != nil || !ecdsa.VerifyASN1(&std.PublicKey, d, der) {
			t.Errorf("%s: %x %v", std.Curve.Params().Name, der, err)
		}
	}
}

// TestECKeys: points off the curve, at infinity or compressed, and scalars
// of zero, n or more, or the wrong size, are refused.
func TestECKeys(t *testing.T) {
	k := loadKeys()
	good := ours(k.es256.Public()).(*ECPublicKey).Bytes()
	off := append([]byte(nil), good...)
	off[len(off)-1] ^= 1
	for name, p := range map[string][]byte{"off the curve": off, "infinity": {0}, "compressed": append([]byte{2}, good[1:33]...),
		"empty": nil, "long": append(append([]byte(nil), good...), 0)} {
		if _, err := NewECPublicKey("P-256", p); err == nil {
			t.Errorf("%s point accepted", name)
		}
	}
	if _, err := NewECPublicKey("P-384", good); err == nil {
		t.Error("a P-256 point accepted as P-384")
	}
	if _, err := NewECPublicKey("P-521", good); err == nil {
		t.Error("P-521 accepted")
	}
	n := elliptic.P256().Params().N
	for name, d := range map[string][]byte{"zero": make([]byte, 32), "n": n.FillBytes(make([]byte, 32)),
		"n+1": new(big.Int).Add(n, big.NewInt(1)).FillBytes(make([]byte, 32)), "short": make([]byte, 31), "ones": bytes.Repeat([]byte{0xff}, 32)} {
		if _, err := NewECPrivateKey("P-256", d); err == nil {
			t.Errorf("%s scalar accepted", name)
		}
	}
	one := make([]byte, 32)
	one[31] = 1
	if k, err := NewECPrivateKey("P-256", one); err != nil || !bytes.Equal(k.PublicKey().X(), elliptic.P256().Params().Gx.FillBytes(make([]byte, 32))) {
		t.Errorf("d = 1: %v", err)
	}
}

// FuzzECDSAVerify: a signature made with the test key, changed by the
// fuzzer's XOR mask (or replaced whole when the mask is as long as a
// signature and starts with 0xff), gets the same verdict here as in
// crypto/ecdsa.
func FuzzECDSAVerify(f *testing.F) {
	f.Add(false, []byte("m"), []byte{})
	f.Add(true, []byte("m"), []byte{0, 1})
	f.Add(false, []byte(""), bytes.Repeat([]byte{0xff}, 64))
	k := loadKeys()
	f.Fuzz(func(t *testing.T, big384 bool, msg, mask []byte) {
		c, std := p256, k.es256
		if big384 {
			c, std = p384, k.es384
		}
		d := digest(algHash(c.alg), msg)
		sig, err := ours(std).(*ECPrivateKey).sign(rand.Reader, d)
		if err != nil {
			t.Fatal(err)
		}
		if len(mask) >= 2*c.size && mask[0] == 0xff {
			sig = mask[1:]
		} else {
			for i := range min(len(mask), len(sig)) {
				sig[i] ^= mask[i]
			}
		}
		got, want := ours(&std.PublicKey).(*ECPublicKey).verify(d, sig), stdVerifies(&std.PublicKey, c.size, d, sig)
		if got != want {
			t.Fatalf("%s %X: verified %v, crypto/ecdsa %v", c.name, sig, got, want)
		}
	})
}

// rawSign is m^d mod n: an RSA "signature" of any encoded message, for
// feeding the verifiers paddings a signer would never make.
func rawSign(k *rsa.PrivateKey, em []byte) ([]byte, bool) {
	m := new(big.Int).SetBytes(em)
	if m.Cmp(k.N) >= 0 {
		return nil, false
	}
	return new(big.Int).Exp(m, k.D, k.N).FillBytes(make([]byte, k.Size())), true
}

// rawOpen is s^e mod n.
func rawOpen(k *rsa.PublicKey, sig []byte) []byte {
	return new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, k.Size()))
}

// rsaVerdicts are this package's and crypto/rsa's verdicts on sig.
func rsaVerdicts(k *rsa.PublicKey, alg string, msg, sig []byte) (got, want bool) {
	h := algHash(alg)
	d := digest(h, msg)
	pub := ours(k).(*RSAPublicKey)
	if alg[0] == 'P' {
		return pub.verifyPSS(h, d, sig), rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return pub.verifyPKCS1v15(d, sig), rsa.VerifyPKCS1v15(k, h, d, sig) == nil
}

var rsaAlgs = []string{RS256, RS384, RS512, PS256, PS384, PS512}

// FuzzRSAVerify: the encoded message of a valid signature (s^e mod n),
// changed by the fuzzer's XOR mask and signed again raw, gets the same
// verdict here as in crypto/rsa, for PKCS #1 v1.5 and PSS; so the padding
// checks, not only the arithmetic, are held to the standard library's.
func FuzzRSAVerify(f *testing.F) {
	for i := range rsaAlgs {
		f.Add(uint8(i), []byte("m"), []byte{}, uint16(0))
		f.Add(uint8(i), []byte("m"), []byte{1}, uint16(0))
		f.Add(uint8(i), []byte("m"), []byte{0x80}, uint16(250))
		f.Add(uint8(i), []byte("m"), []byte{1}, uint16(255))
	}
	k := loadKeys()
	f.Fuzz(func(t *testing.T, which uint8, msg, mask []byte, at uint16) {
		alg := rsaAlgs[int(which)%len(rsaAlgs)]
		sig, err := testSign(alg, k.rsa, msg)
		if err != nil {
			t.Fatal(err)
		}
		em := rawOpen(&k.rsa.PublicKey, sig)
		off := int(at) % len(em)
		for i := range min(len(mask), len(em)-off) {
			em[off+i] ^= mask[i]
		}
		if sig, ok := rawSign(k.rsa, em); ok {
			got, want := rsaVerdicts(&k.rsa.PublicKey, alg, msg, sig)
			if got != want {
				t.Fatalf("%s, message %X: verified %v, crypto/rsa %v", alg, em, got, want)
			}
		}
	})
}

// TestRSAAgainstStdlib: valid signatures verify, and signatures of the
// wrong length, of n or more, of zero, or under another algorithm, get
// crypto/rsa's verdict.
func TestRSAAgainstStdlib(t *testing.T) {
	k := loadKeys()
	n := k.rsa.N.FillBytes(make([]byte, k.rsa.Size()))
	for _, alg := range rsaAlgs {
		sig, err := testSign(alg, k.rsa, []byte("m"))
		if err != nil {
			t.Fatal(err)
		}
		other := RS256
		if alg == RS256 {
			other = PS256
		}
		otherSig, _ := testSign(other, k.rsa, []byte("m"))
		for name, s := range map[string][]byte{"valid": sig, "zero-padded": append([]byte{0}, sig...), "short": sig[1:],
			"n": n, "zero": make([]byte, len(n)), "other algorithm": otherSig} {
			got, want := rsaVerdicts(&k.rsa.PublicKey, alg, []byte("m"), s)
			if got != want || (name == "valid") != got {
				t.Errorf("%s %s: verified %v, crypto/rsa %v", alg, name, got, want)
			}
		}
	}
}

// TestRSAKeys: an even or empty modulus and an exponent below 2 are
// refused, and the modulus reads back without leading zeros.
func TestRSAKeys(t *testing.T) {
	k := loadKeys()
	n := k.rsa.N.Bytes()
	pub, err := NewRSAPublicKey(append([]byte{0}, n...), 65537)
	if err != nil || !bytes.Equal(pub.N(), n) || pub.E() != 65537 || pub.BitLen() != k.rsa.N.BitLen() {
		t.Fatalf("%v", err)
	}
	even := append([]byte(nil), n...)
	even[len(even)-1] &^= 1
	for name, tc := range map[string]struct {
		n []byte
		e int
	}{"even": {even, 65537}, "empty": {nil, 65537}, "e=1": {n, 1}} {
		if _, err := NewRSAPublicKey(tc.n, tc.e); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if !pub.Equal(ours(k.rsa.Public())) || pub.Equal(ours(k.es256.Public())) {
		t.Error("Equal")
	}
}
