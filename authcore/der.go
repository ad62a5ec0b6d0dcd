package authcore

import (
	"bytes"
	"crypto/ed25519"
	"errors"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// DER key encodings (RFC 5280 §4.1.2.7 SubjectPublicKeyInfo, RFC 5208 /
// RFC 5958 PKCS#8, RFC 5915 SEC 1 ECPrivateKey, RFC 8410 for Ed25519,
// RFC 8017 Appendix A.1.1 RSAPublicKey), written here with a small strict
// DER reader and writer rather than through crypto/x509 and encoding/asn1,
// which would bring certificate parsing, the net package and reflection
// into the wasm filter. Only the key types mcpgate uses are read: EC P-256
// and Ed25519 (configured keys); EC P-256/P-384, RSA and Ed25519 public
// keys are written (for the host's signature functions).

// DER tags (X.690 §8).
const (
	tagInteger   = 0x02
	tagBitString = 0x03
	tagOctets    = 0x04
	tagNull      = 0x05
	tagOID       = 0x06
	tagSequence  = 0x30
	tagCtx0      = 0xa0 // [0] constructed
	tagCtx1      = 0xa1 // [1] constructed
)

// Object identifiers, DER content octets.
var (
	oidEC      = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}             // 1.2.840.10045.2.1
	oidP256    = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}       // 1.2.840.10045.3.1.7
	oidP384    = []byte{0x2b, 0x81, 0x04, 0x00, 0x22}                         // 1.3.132.0.34
	oidEd25519 = []byte{0x2b, 0x65, 0x70}                                     // 1.3.101.112
	oidRSA     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01} // 1.2.840.113549.1.1.1
)

var errKeyFormat = errors.New("malformed key")

// derRead reads one DER element of the given tag from b: its contents and
// what follows. Lengths must be definite and minimal (X.690 §10.1), at
// most 65535 bytes.
func derRead(b []byte, tag byte) (contents, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	switch {
	case b[1] == 0x81:
		if len(b) < 3 || b[2] < 0x80 {
			return nil, nil, false
		}
		n, hdr = int(b[2]), 3
	case b[1] == 0x82:
		if len(b) < 4 || b[2] == 0 {
			return nil, nil, false
		}
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case b[1] >= 0x80:
		return nil, nil, false
	}
	if len(b)-hdr < n {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

// derReadAll reads an element that must be all of b.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func derReadAll(b []byte, tag byte) ([]byte, bool) {
	c, rest, ok := derRead(b, tag)
	return c, ok && len(rest) == 0
}

// derSmallInt reads a non-negative INTEGER below 128.
func derSmallInt(b []byte) (v int, rest []byte, ok bool) {
	c, rest, ok := derRead(b, tagInteger)
	if !ok || len(c) != 1 || c[0] >= 0x80 {
		return 0, nil, false
	}
	return int(c[0]), rest, true
}

// derAlgorithm reads an AlgorithmIdentifier: the algorithm OID and the
// parameters' raw element (nil when absent).
func derAlgorithm(b []byte) (oid, params, rest []byte, ok bool) {
	seq, rest, ok := derRead(b, tagSequence)
	if !ok {
		return nil, nil, nil, false
	}
	oid, params, ok = derRead(seq, tagOID)
	if len(params) == 0 {
		params = nil
	}
	return oid, params, rest, ok
}

// curveParam checks that an EC AlgorithmIdentifier's parameters name P-256.
func curveParam(params []byte) error {
	curve, ok := derReadAll(params, tagOID)
	if !ok {
		return errKeyFormat
	}
	if !bytes.Equal(curve, oidP256) {
		return errors.New("EC key is not on P-256")
	}
	return nil
}

// derBitString returns the bytes of a BIT STRING with no unused bits.
func derBitString(b []byte) ([]byte, bool) {
	c, ok := derReadAll(b, tagBitString)
	if !ok || len(c) == 0 || c[0] != 0 {
		return nil, false
	}
	return c[1:], true
}

// parseSPKI reads a SubjectPublicKeyInfo holding a P-256 or Ed25519 key.
func parseSPKI(der []byte) (any, error) {
	spki, ok := derReadAll(der, tagSequence)
	if !ok {
		return nil, errKeyFormat
	}
	oid, params, rest, ok := derAlgorithm(spki)
	if !ok {
		return nil, errKeyFormat
	}
	key, ok := derBitString(rest)
	if !ok {
		return nil, errKeyFormat
	}
	switch {
	case bytes.Equal(oid, oidEC):
		if err := curveParam(params); err != nil {
			return nil, err
		}
		pub, err := jose.NewECPublicKey("P-256", key)
		if err != nil {
			return nil, errKeyFormat
		}
		return pub, nil
	case bytes.Equal(oid, oidEd25519):
		if params != nil || len(key) != ed25519.PublicKeySize {
			return nil, errKeyFormat
		}
		return ed25519.PublicKey(bytes.Clone(key)), nil
	}
	return nil, errors.New("unsupported key type: want P-256 or Ed25519")
}

// parsePKCS8 reads a PKCS#8 PrivateKeyInfo (or an RFC 5958
// OneAsymmetricKey, whose attributes and public key are ignored) holding a
// P-256 or Ed25519 key.
func parsePKCS8(der []byte) (any, error) {
	seq, ok := derReadAll(der, tagSequence)
	if !ok {
		return nil, errKeyFormat
	}
	version, rest, ok := derSmallInt(seq)
	if !ok || version > 1 {
		return nil, errKeyFormat
	}
	oid, params, rest, ok := derAlgorithm(rest)
	if !ok {
		return nil, errKeyFormat
	}
	key, rest, ok := derRead(rest, tagOctets)
	if !ok {
		return nil, errKeyFormat
	}
	for len(rest) > 0 { // [0] attributes, [1] publicKey
		var tail []byte
		if _, tail, ok = derRead(rest, rest[0]); !ok || rest[0]&0xc0 != 0x80 {
			return nil, errKeyFormat
		}
		rest = tail
	}
	switch {
	case bytes.Equal(oid, oidEC):
		if err := curveParam(params); err != nil {
			return nil, err
		}
		return parseSEC1(key)
	case bytes.Equal(oid, oidEd25519):
		seed, ok := derReadAll(key, tagOctets)
		if params != nil || !ok || len(seed) != ed25519.SeedSize {
			return nil, errKeyFormat
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	return nil, errors.New("unsupported key type: want P-256 or Ed25519")
}

// parseSEC1 reads an ECPrivateKey on P-256; named-curve parameters, when
// present, must name P-256, and an embedded public key must match the
// private scalar.
func parseSEC1(der []byte) (*jose.ECPrivateKey, error) {
	seq, ok := derReadAll(der, tagSequence)
	if !ok {
		return nil, errKeyFormat
	}
	version, rest, ok := derSmallInt(seq)
	if !ok || version != 1 {
		return nil, errKeyFormat
	}
	d, rest, ok := derRead(rest, tagOctets)
	if !ok || len(d) != 32 {
		return nil, errKeyFormat
	}
	sk, err := jose.NewECPrivateKey("P-256", d)
	if err != nil {
		return nil, errKeyFormat
	}
	if params, tail, ok := derRead(rest, tagCtx0); ok {
		if err := curveParam(params); err != nil {
			return nil, err
		}
		rest = tail
	}
	if pubEl, tail, ok := derRead(rest, tagCtx1); ok {
		point, ok := derBitString(pubEl)
		if !ok {
			return nil, errKeyFormat
		}
		pub, err := jose.NewECPublicKey("P-256", point)
		if err != nil || !pub.Equal(sk.PublicKey()) {
			return nil, errors.New("EC public key does not match the private key")
		}
		rest = tail
	}
	if len(rest) != 0 {
		return nil, errKeyFormat
	}
	return sk, nil
}

// derAppend appends one DER element.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func derAppend(b []byte, tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	b = append(b, tag)
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	for _, c := range contents {
		b = append(b, c...)
	}
	return b
}

// derUint encodes a non-negative integer's big-endian magnitude as an
// INTEGER.
func derUint(v []byte) []byte {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) == 0 || v[0]&0x80 != 0 {
		v = append([]byte{0}, v...)
	}
	return derAppend(nil, tagInteger, v)
}

// marshalSPKI writes pub as a SubjectPublicKeyInfo: EC P-256 or P-384
// (uncompressed point, named curve), RSA (rsaEncryption, NULL
// parameters) or Ed25519.
func marshalSPKI(pub any) ([]byte, error) {
	var alg, key []byte
	switch k := pub.(type) {
	case *jose.ECPublicKey:
		curve := oidP256
		if k.Curve() == "P-384" {
			curve = oidP384
		}
		alg = derAppend(nil, tagSequence, derAppend(nil, tagOID, oidEC), derAppend(nil, tagOID, curve))
		key = k.Bytes()
	case *jose.RSAPublicKey:
		alg = derAppend(nil, tagSequence, derAppend(nil, tagOID, oidRSA), []byte{tagNull, 0})
		e := []byte{byte(k.E() >> 24), byte(k.E() >> 16), byte(k.E() >> 8), byte(k.E())}
		key = derAppend(nil, tagSequence, derUint(k.N()), derUint(e))
	case ed25519.PublicKey:
		alg = derAppend(nil, tagSequence, derAppend(nil, tagOID, oidEd25519))
		key = k
	default:
		return nil, errors.New("unsupported key type")
	}
	return derAppend(nil, tagSequence, alg, derAppend(nil, tagBitString, []byte{0}, key)), nil
}

// marshalPKCS8EC writes a P-256 private key as a PKCS#8 PrivateKeyInfo
// wrapping an RFC 5915 ECPrivateKey with its public key.
func marshalPKCS8EC(k *jose.ECPrivateKey) ([]byte, error) {
	if c := k.PublicKey().Curve(); c != "P-256" {
		return nil, errors.New("unsupported curve " + quote(c))
	}
	d, point := k.Bytes(), k.PublicKey().Bytes()
	inner := derAppend(nil, tagSequence, []byte{tagInteger, 1, 1}, derAppend(nil, tagOctets, d),
		derAppend(nil, tagCtx1, derAppend(nil, tagBitString, []byte{0}, point)))
	alg := derAppend(nil, tagSequence, derAppend(nil, tagOID, oidEC), derAppend(nil, tagOID, oidP256))
	return derAppend(nil, tagSequence, []byte{tagInteger, 1, 0}, alg, derAppend(nil, tagOctets, inner)), nil
}
