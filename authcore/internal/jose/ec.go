package jose

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"hash"
	"io"

	"filippo.io/bigmod"
	"filippo.io/nistec"
)

// ECDSA here is built on filippo.io/nistec (the P-256 and P-384 groups)
// and filippo.io/bigmod (arithmetic modulo the group order): the exported
// copies of the code behind the standard library's crypto/ecdsa. The
// filter carries them instead of crypto/ecdsa because crypto/ecdsa and
// crypto/rsa bring math/big, encoding/asn1, the P-224 and P-521 groups and
// their self-tests, which made up 1.5 MB of the wasm module (issue 14). The
// algorithms below follow FIPS 186-5 §6.4 step by step; the tests hold
// them to crypto/ecdsa on every input the fuzzers find.

// curve is one of the two NIST groups of RFC 7518 §3.4.
type curve struct {
	name  string // the JWK "crv" (RFC 7518 §6.2.1.1)
	alg   string // the JWS algorithm pinned to it
	size  int    // bytes of a field element and of the group order
	hash  func() hash.Hash
	n     *bigmod.Modulus // the group order
	nMin2 []byte          // n-2, the exponent of Fermat inversion mod n
	// check reports whether p is an uncompressed point on the curve,
	// other than the point at infinity.
	check func(p []byte) error
	// base is k×G as an uncompressed point, for a scalar k of size bytes.
	base func(k []byte) ([]byte, error)
	// combine is the affine x-coordinate of u1×G + u2×Q, failing when the
	// sum is the point at infinity.
	combine func(u1, u2, q []byte) ([]byte, error)
}

func mustModulus(hex string) (*bigmod.Modulus, []byte) {
	b := make([]byte, len(hex)/2)
	for i := range b {
		b[i] = unhex(hex[2*i])<<4 | unhex(hex[2*i+1])
	}
	m, err := bigmod.NewModulus(b)
	if err != nil {
		panic(err)
	}
	// n-2, for odd n > 2: only the last byte changes unless it is 0 or 1,
	// which neither group order ends in.
	n2 := append([]byte(nil), b...)
	if n2[len(n2)-1] < 2 {
		panic("jose: group order ends in a byte below 2")
	}
	n2[len(n2)-1] -= 2
	return m, n2
}

// unhex reads one lower-case hexadecimal digit of the constants above.
func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// The group orders of P-256 and P-384 (SEC 2 v2 §2.4.2, §2.5.1).
var (
	p256 = newCurve("P-256", ES256, 32, sha256.New,
		"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", nistec.NewP256Point)
	p384 = newCurve("P-384", ES384, 48, sha512.New384,
		"ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", nistec.NewP384Point)
)

// point is the method set nistec's P256Point and P384Point share.
type point[P any] interface {
	*P
	SetBytes([]byte) (*P, error)
	ScalarBaseMult([]byte) (*P, error)
	ScalarMult(*P, []byte) (*P, error)
	Add(*P, *P) *P
	Bytes() []byte
	BytesX() ([]byte, error)
}

func newCurve[P any, PP point[P]](name, alg string, size int, h func() hash.Hash, order string, newPoint func() PP) *curve {
	n, n2 := mustModulus(order)
	c := &curve{name: name, alg: alg, size: size, hash: h, n: n, nMin2: n2}
	c.check = func(b []byte) error { _, err := newPoint().SetBytes(b); return err }
	c.base = func(k []byte) ([]byte, error) {
		p, err := newPoint().ScalarBaseMult(k)
		if err != nil {
			return nil, err
		}
		return PP(p).Bytes(), nil
	}
	c.combine = func(u1, u2, q []byte) ([]byte, error) {
		Q, err := newPoint().SetBytes(q)
		if err != nil {
			return nil, err
		}
		p1, err := newPoint().ScalarBaseMult(u1)
		if err != nil {
			return nil, err
		}
		p2, err := newPoint().ScalarMult(Q, u2)
		if err != nil {
			return nil, err
		}
		return PP(PP(p1).Add(p1, p2)).BytesX()
	}
	return c
}

// curveNamed is the curve of a JWK "crv" value, or nil.
func curveNamed(crv string) *curve {
	switch crv {
	case "P-256":
		return p256
	case "P-384":
		return p384
	}
	return nil
}

// curveOf is the curve an ECDSA algorithm is defined on (RFC 7518 §3.4).
func curveOf(alg string) *curve {
	switch alg {
	case ES256:
		return p256
	case ES384:
		return p384
	}
	return nil
}

// ECPublicKey is a P-256 or P-384 public key: a point checked to lie on
// its curve when the key was made ([NewECPublicKey]).
type ECPublicKey struct {
	c     *curve
	point []byte // 0x04 || X || Y (SEC 1 v2 §2.3.3)
}

// NewECPublicKey makes the public key of crv ("P-256" or "P-384") from its
// uncompressed point 0x04 || X || Y, which must lie on the curve.
func NewECPublicKey(crv string, point []byte) (*ECPublicKey, error) {
	c := curveNamed(crv)
	if c == nil {
		return nil, errors.New("jose: unsupported curve")
	}
	if len(point) != 1+2*c.size || c.check(point) != nil {
		return nil, errors.New("jose: not a point on " + crv)
	}
	return &ECPublicKey{c: c, point: append([]byte(nil), point...)}, nil
}

// Curve is the key's JWK "crv": "P-256" or "P-384".
func (k *ECPublicKey) Curve() string { return k.c.name }

// Bytes is the uncompressed point 0x04 || X || Y. The caller must not
// modify it.
func (k *ECPublicKey) Bytes() []byte { return k.point }

// X and Y are the point's coordinates, each the curve's size in bytes.
func (k *ECPublicKey) X() []byte { return k.point[1 : 1+k.c.size] }

// Y is the point's y-coordinate; see [ECPublicKey.X].
func (k *ECPublicKey) Y() []byte { return k.point[1+k.c.size:] }

// Equal reports whether x is the same public key.
func (k *ECPublicKey) Equal(x crypto.PublicKey) bool {
	o, ok := x.(*ECPublicKey)
	return ok && o.c == k.c && subtle.ConstantTimeCompare(o.point, k.point) == 1
}

// ECPrivateKey is a P-256 or P-384 private key with its public key.
type ECPrivateKey struct {
	pub ECPublicKey
	d   []byte // the private scalar, in [1, n-1], the curve's size in bytes
}

// NewECPrivateKey makes the private key of crv from its scalar d, given
// as exactly the curve's size in bytes and in [1, n-1] (SEC 1 v2 §3.2.1).
func NewECPrivateKey(crv string, d []byte) (*ECPrivateKey, error) {
	c := curveNamed(crv)
	if c == nil {
		return nil, errors.New("jose: unsupported curve")
	}
	if len(d) != c.size {
		return nil, errors.New("jose: a private scalar of the wrong size")
	}
	if x, err := bigmod.NewNat().SetBytes(d, c.n); err != nil || x.IsZero() == 1 {
		return nil, errors.New("jose: a private scalar out of range")
	}
	q, err := c.base(d)
	if err != nil {
		return nil, err
	}
	return &ECPrivateKey{pub: ECPublicKey{c: c, point: q}, d: append([]byte(nil), d...)}, nil
}

// Public is the key's *[ECPublicKey].
func (k *ECPrivateKey) Public() crypto.PublicKey { return &k.pub }

// PublicKey is the key's public half.
func (k *ECPrivateKey) PublicKey() *ECPublicKey { return &k.pub }

// Bytes is the private scalar, the curve's size in bytes. The caller must
// not modify it.
func (k *ECPrivateKey) Bytes() []byte { return k.d }

// Sign signs digest, the hash of the message under the key's algorithm
// (SHA-256 for P-256, SHA-384 for P-384), and returns the signature in
// ASN.1 DER as [crypto.Signer] requires. [Sign] does not go through it: it
// takes the R || S form of the JWS directly.
// The nonce is that of RFC 6979 §3.2 with 32 or 48 bytes from rand as the
// additional data of §3.6, so a broken rand does not leak the key.
func (k *ECPrivateKey) Sign(rand io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	sig, err := k.sign(rand, digest)
	if err != nil {
		return nil, err
	}
	return ECDSAToDER(k.pub.c.alg, sig)
}

// sign is ECDSA signature generation (FIPS 186-5 §6.4.1), returning R || S.
func (k *ECPrivateKey) sign(rand io.Reader, digest []byte) ([]byte, error) {
	c := k.pub.c
	extra := make([]byte, c.size)
	if _, err := io.ReadFull(rand, extra); err != nil {
		return nil, err
	}
	return k.signWith(extra, digest)
}

// signWith signs with the RFC 6979 nonce of (d, digest, extra); extra nil
// gives the deterministic signatures of RFC 6979 Appendix A.2.
func (k *ECPrivateKey) signWith(extra, digest []byte) ([]byte, error) {
	c := k.pub.c
	e := hashToNat(c, digest)
	d, err := bigmod.NewNat().SetBytes(k.d, c.n)
	if err != nil {
		return nil, err
	}
	g := newNonces(c, k.d, e.Bytes(c.n), extra)
	for range 64 { // each try fails with probability about 2^-128
		kb := g.next()
		kn, err := bigmod.NewNat().SetBytes(kb, c.n)
		if err != nil || kn.IsZero() == 1 {
			continue
		}
		R, err := c.base(kb)
		if err != nil {
			return nil, err
		}
		// r = x(R) mod n, then s = k⁻¹ (e + r·d) mod n.
		r, err := bigmod.NewNat().SetOverflowingBytes(R[1:1+c.size], c.n)
		if err != nil || r.IsZero() == 1 {
			continue
		}
		kInv := bigmod.NewNat().Exp(kn, c.nMin2, c.n) // k^(n-2) = k⁻¹, n prime; constant time
		rb := r.Bytes(c.n)
		s := r.Mul(d, c.n).Add(e, c.n).Mul(kInv, c.n)
		if s.IsZero() == 1 {
			continue
		}
		return append(rb, s.Bytes(c.n)...), nil
	}
	return nil, errors.New("jose: no ECDSA nonce found")
}

// hashToNat is the integer e of FIPS 186-5 §6.4.1 step 2 reduced mod n: the
// leftmost bits of the digest, as many as n has. Both orders here are whole
// bytes long, so that is the first size bytes.
func hashToNat(c *curve, digest []byte) *bigmod.Nat {
	if len(digest) > c.size {
		digest = digest[:c.size]
	}
	e, err := bigmod.NewNat().SetOverflowingBytes(digest, c.n)
	if err != nil { // cannot happen: len(digest) <= size and n is size bytes long with its top bit set
		panic(err)
	}
	return e
}

// nonces is the HMAC_DRBG of RFC 6979 §3.2 steps b to h.
type nonces struct {
	c    *curve
	k, v []byte
}

func newNonces(c *curve, d, h1, extra []byte) *nonces {
	hl := c.hash().Size()
	g := &nonces{c: c, k: make([]byte, hl), v: make([]byte, hl)}
	for i := range g.v {
		g.v[i] = 1 // step b
	} // step c: K = 0x00 ... 00
	for _, sep := range []byte{0, 1} { // steps d to g
		m := hmac.New(c.hash, g.k)
		m.Write(g.v)
		m.Write([]byte{sep})
		m.Write(d)
		m.Write(h1)
		m.Write(extra)
		g.k = m.Sum(nil)
		g.v = g.mac(g.v)
	}
	return g
}

func (g *nonces) mac(parts ...[]byte) []byte {
	m := hmac.New(g.c.hash, g.k)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// next is one candidate k of step h; every call after the first first
// updates K and V as step h.3 says.
func (g *nonces) next() []byte {
	var t []byte
	for len(t) < g.c.size {
		g.v = g.mac(g.v)
		t = append(t, g.v...)
	}
	out := t[:g.c.size] // bits2int: qlen is a whole number of bytes
	g.k = g.mac(g.v, []byte{0})
	g.v = g.mac(g.v)
	return out
}

// verify is ECDSA signature verification (FIPS 186-5 §6.4.2) of the
// JWS-form signature R || S over digest.
func (k *ECPublicKey) verify(digest, sig []byte) bool {
	c := k.c
	if len(sig) != 2*c.size {
		return false
	}
	// Step 1: r and s in [1, n-1].
	r, err := bigmod.NewNat().SetBytes(sig[:c.size], c.n)
	if err != nil || r.IsZero() == 1 {
		return false
	}
	s, err := bigmod.NewNat().SetBytes(sig[c.size:], c.n)
	if err != nil || s.IsZero() == 1 {
		return false
	}
	e := hashToNat(c, digest)
	// w = s⁻¹, u1 = e·w, u2 = r·w (mod n); public values, so variable time.
	w, ok := bigmod.NewNat().InverseVarTime(s, c.n)
	if !ok {
		return false
	}
	u1 := e.Mul(w, c.n)
	u2 := r.Mul(w, c.n)
	x, err := c.combine(u1.Bytes(c.n), u2.Bytes(c.n), k.point)
	if err != nil {
		return false
	}
	// v = x mod n must equal r.
	v, err := bigmod.NewNat().SetOverflowingBytes(x, c.n)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(v.Bytes(c.n), sig[:c.size]) == 1
}
