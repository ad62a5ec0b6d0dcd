package jose

import (
	"crypto"
	"crypto/subtle"
	"errors"

	"filippo.io/bigmod"
)

// RSAPublicKey is an RSA public key (RFC 8017 §3.1) of an odd modulus n
// and exponent e, for verification only: the filter never signs with RSA.
type RSAPublicKey struct {
	n *bigmod.Modulus
	e int
}

// NewRSAPublicKey makes the key of the big-endian modulus n, which must be
// odd and more than one, and the exponent e. Callers check their own size
// and exponent policy ([Policy]).
func NewRSAPublicKey(n []byte, e int) (*RSAPublicKey, error) {
	if len(n) == 0 || n[len(n)-1]&1 == 0 || e < 2 {
		return nil, errors.New("jose: an RSA modulus must be odd")
	}
	m, err := bigmod.NewModulus(n)
	if err != nil {
		return nil, err
	}
	return &RSAPublicKey{n: m, e: e}, nil
}

// N is the modulus, big-endian without leading zeros.
func (k *RSAPublicKey) N() []byte {
	b := k.n.Nat().Bytes(k.n)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// E is the public exponent.
func (k *RSAPublicKey) E() int { return k.e }

// BitLen is the modulus's length in bits.
func (k *RSAPublicKey) BitLen() int { return k.n.BitLen() }

// Equal reports whether x is the same public key.
func (k *RSAPublicKey) Equal(x crypto.PublicKey) bool {
	o, ok := x.(*RSAPublicKey)
	return ok && o.e == k.e && subtle.ConstantTimeCompare(o.N(), k.N()) == 1
}

// encrypt is RSAVP1 (RFC 8017 §5.2.2) on the signature: s^e mod n as
// size(n) bytes, or nil when the signature is not size(n) bytes or not
// below n ("If the signature representative s is not between 0 and n - 1,
// output 'signature representative out of range'").
func (k *RSAPublicKey) encrypt(sig []byte) []byte {
	if len(sig) != k.n.Size() {
		return nil
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n)
	if err != nil {
		return nil
	}
	return bigmod.NewNat().ExpShortVarTime(s, uint(k.e), k.n).Bytes(k.n)
}

// digestInfo is the DER prefix of the DigestInfo of RFC 8017 §9.2 note 1,
// by digest length.
var digestInfo = map[int][]byte{
	32: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	48: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	64: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// verifyPKCS1v15 is RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 §8.2.2) of digest,
// a SHA-256, SHA-384 or SHA-512 hash: the encoded message of EMSA-PKCS1-v1_5
// (§9.2) is rebuilt and compared whole, so no parser of the padding exists
// to be fooled.
func (k *RSAPublicKey) verifyPKCS1v15(digest, sig []byte) bool {
	prefix, ok := digestInfo[len(digest)]
	em := k.encrypt(sig)
	if !ok || em == nil || len(em) < len(prefix)+len(digest)+11 {
		return false
	}
	want := make([]byte, len(em))
	want[1] = 1
	ps := len(em) - len(prefix) - len(digest) - 1
	for i := 2; i < ps; i++ {
		want[i] = 0xff
	}
	copy(want[ps+1:], prefix)
	copy(want[ps+1+len(prefix):], digest)
	return subtle.ConstantTimeCompare(em, want) == 1
}

// verifyPSS is RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) with EMSA-PSS-VERIFY
// (§9.1.2) under h, MGF1 with h, and a salt as long as the hash (RFC 7518
// §3.5: "The size of the salt value is the same size as the hash function
// output").
func (k *RSAPublicKey) verifyPSS(h crypto.Hash, digest, sig []byte) bool {
	em := k.encrypt(sig)
	if em == nil {
		return false
	}
	// emBits = modBits - 1; when that is a whole number of bytes the
	// leading byte of s^e mod n must be zero and is not part of EM.
	emBits := k.n.BitLen() - 1
	emLen := (emBits + 7) / 8
	if len(em) > emLen {
		if em[0] != 0 {
			return false
		}
		em = em[1:]
	}
	hLen, sLen := len(digest), len(digest)
	if hLen != h.Size() || emLen < hLen+sLen+2 || em[emLen-1] != 0xbc { // steps 3 and 4
		return false
	}
	db, hh := em[:emLen-hLen-1], em[emLen-hLen-1:emLen-1] // step 5
	topMask := byte(0xff >> (8*emLen - emBits))
	if db[0]&^topMask != 0 { // step 6
		return false
	}
	db = append([]byte(nil), db...)
	mgf1XOR(db, h, hh) // steps 7 and 8
	db[0] &= topMask   // step 9
	ps := emLen - hLen - sLen - 2
	for _, b := range db[:ps] { // step 10
		if b != 0 {
			return false
		}
	}
	if db[ps] != 1 {
		return false
	}
	salt := db[len(db)-sLen:] // step 11
	m := h.New()              // steps 12 and 13: H' = Hash(0x00 x 8 || mHash || salt)
	m.Write(make([]byte, 8))
	m.Write(digest)
	m.Write(salt)
	return subtle.ConstantTimeCompare(m.Sum(nil), hh) == 1 // step 14
}

// mgf1XOR XORs out with MGF1(seed, len(out)) under h (RFC 8017 §B.2.1).
func mgf1XOR(out []byte, h crypto.Hash, seed []byte) {
	var counter [4]byte
	for done := 0; done < len(out); {
		m := h.New()
		m.Write(seed)
		m.Write(counter[:])
		for _, b := range m.Sum(nil) {
			if done == len(out) {
				break
			}
			out[done] ^= b
			done++
		}
		for i := 3; i >= 0; i-- {
			if counter[i]++; counter[i] != 0 {
				break
			}
		}
	}
}
