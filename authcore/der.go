package authcore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"math/big"
)

// DER key encodings (RFC 5280 §4.1.2.7 SubjectPublicKeyInfo, RFC 5208 /
// RFC 5958 PKCS#8, RFC 5915 SEC 1 ECPrivateKey, RFC 8410 for Ed25519,
// RFC 8017 Appendix A.1.1 RSAPublicKey), written here rather than through
// crypto/x509, which would bring certificate parsing, the net package and
// several MB into the wasm filter. Only the key types mcpgate uses are
// read: EC P-256 and Ed25519 (configured keys); EC P-256/P-384 and RSA
// public keys are written (for the host's signature functions).

var (
	oidEC        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	errKeyFormat = errors.New("malformed key")
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

type pkcs8 struct {
	Version    int
	Algorithm  algorithmIdentifier
	PrivateKey []byte
	// RFC 5958 attributes [0] and publicKey [1] follow and are ignored.
}

type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Params     asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// unmarshalDER parses exactly one DER value into v.
func unmarshalDER(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil || len(rest) != 0 {
		return errKeyFormat
	}
	return nil
}

// parseSPKI reads a SubjectPublicKeyInfo holding a P-256 or Ed25519 key.
func parseSPKI(der []byte) (any, error) {
	var spki subjectPublicKeyInfo
	if err := unmarshalDER(der, &spki); err != nil || spki.PublicKey.BitLength%8 != 0 {
		return nil, errKeyFormat
	}
	key := spki.PublicKey.Bytes
	switch alg := spki.Algorithm.Algorithm; {
	case alg.Equal(oidEC):
		var curve asn1.ObjectIdentifier
		if unmarshalDER(spki.Algorithm.Parameters.FullBytes, &curve) != nil || !curve.Equal(oidP256) {
			return nil, errors.New("EC key is not on P-256")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
		if err != nil {
			return nil, errKeyFormat
		}
		return pub, nil
	case alg.Equal(oidEd25519):
		if len(spki.Algorithm.Parameters.FullBytes) != 0 || len(key) != ed25519.PublicKeySize {
			return nil, errKeyFormat
		}
		return ed25519.PublicKey(key), nil
	}
	return nil, errors.New("unsupported key type: want P-256 or Ed25519")
}

// parsePKCS8 reads a PKCS#8 PrivateKeyInfo holding a P-256 or Ed25519 key.
func parsePKCS8(der []byte) (any, error) {
	var p pkcs8
	if err := unmarshalDER(der, &p); err != nil || (p.Version != 0 && p.Version != 1) {
		return nil, errKeyFormat
	}
	switch alg := p.Algorithm.Algorithm; {
	case alg.Equal(oidEC):
		var curve asn1.ObjectIdentifier
		if unmarshalDER(p.Algorithm.Parameters.FullBytes, &curve) != nil || !curve.Equal(oidP256) {
			return nil, errors.New("EC key is not on P-256")
		}
		return parseSEC1(p.PrivateKey)
	case alg.Equal(oidEd25519):
		var seed []byte
		if len(p.Algorithm.Parameters.FullBytes) != 0 || unmarshalDER(p.PrivateKey, &seed) != nil || len(seed) != ed25519.SeedSize {
			return nil, errKeyFormat
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	return nil, errors.New("unsupported key type: want P-256 or Ed25519")
}

// parseSEC1 reads an ECPrivateKey on P-256; an embedded public key must
// match the private scalar.
func parseSEC1(der []byte) (*ecdsa.PrivateKey, error) {
	var k ecPrivateKey
	if err := unmarshalDER(der, &k); err != nil || k.Version != 1 {
		return nil, errKeyFormat
	}
	if k.Params != nil && !k.Params.Equal(oidP256) {
		return nil, errors.New("EC key is not on P-256")
	}
	if len(k.PrivateKey) != 32 {
		return nil, errKeyFormat
	}
	sk, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.PrivateKey)
	if err != nil {
		return nil, errKeyFormat
	}
	if len(k.PublicKey.Bytes) > 0 {
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k.PublicKey.Bytes)
		if err != nil || !pub.Equal(&sk.PublicKey) {
			return nil, errors.New("EC public key does not match the private key")
		}
	}
	return sk, nil
}

// marshalSPKI writes pub as a SubjectPublicKeyInfo: EC P-256 or P-384
// (uncompressed point, named curve), RSA (rsaEncryption, NULL
// parameters) or Ed25519.
func marshalSPKI(pub any) ([]byte, error) {
	var spki subjectPublicKeyInfo
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		curve := oidP256
		if k.Curve == elliptic.P384() {
			curve = oidP384
		} else if k.Curve != elliptic.P256() {
			return nil, errors.New("unsupported curve")
		}
		point, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		params, _ := asn1.Marshal(curve)
		spki.Algorithm = algorithmIdentifier{oidEC, asn1.RawValue{FullBytes: params}}
		spki.PublicKey = asn1.BitString{Bytes: point, BitLength: 8 * len(point)}
	case *rsa.PublicKey:
		der, err := asn1.Marshal(struct{ N, E *big.Int }{k.N, big.NewInt(int64(k.E))})
		if err != nil {
			return nil, err
		}
		spki.Algorithm = algorithmIdentifier{oidRSA, asn1.NullRawValue}
		spki.PublicKey = asn1.BitString{Bytes: der, BitLength: 8 * len(der)}
	case ed25519.PublicKey:
		spki.Algorithm = algorithmIdentifier{Algorithm: oidEd25519}
		spki.PublicKey = asn1.BitString{Bytes: k, BitLength: 8 * len(k)}
	default:
		return nil, errors.New("unsupported key type")
	}
	return asn1.Marshal(spki)
}

// marshalPKCS8EC writes a P-256 private key as a PKCS#8 PrivateKeyInfo
// wrapping an RFC 5915 ECPrivateKey with its public key.
func marshalPKCS8EC(k *ecdsa.PrivateKey) ([]byte, error) {
	if k.Curve != elliptic.P256() {
		return nil, errors.New("unsupported curve")
	}
	d, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	point, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	inner, err := asn1.Marshal(ecPrivateKey{Version: 1, PrivateKey: d, PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		return nil, err
	}
	params, _ := asn1.Marshal(oidP256)
	return asn1.Marshal(pkcs8{Algorithm: algorithmIdentifier{oidEC, asn1.RawValue{FullBytes: params}}, PrivateKey: inner})
}
