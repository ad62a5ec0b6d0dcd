package authcore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strconv"

	"github.com/tidwall/gjson"
)

// JWS algorithms mcpgate signs and verifies with. Each key is pinned to
// exactly one of them: a token's "alg" header must equal its key's.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256 (RFC 7518 §3.4)
	AlgEdDSA = "EdDSA" // Ed25519 (RFC 8037)
)

// SigningKey is one configured key. Private is nil for a key that is only
// published (a retired key whose tokens may still be in use).
type SigningKey struct {
	Kid     string
	Alg     string
	Public  crypto.PublicKey
	Private crypto.Signer
	// Active marks the key new tokens are signed with.
	Active bool
}

var b64 = base64.RawURLEncoding.Strict()

// publicJWK renders the public half of k as a JWK (RFC 7517) with kid, alg
// and use, in a fixed member order.
func (k *SigningKey) publicJWK() []byte {
	var b []byte
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // uncompressed: 0x04 || x || y
		x, y := raw[1:33], raw[33:65]
		b = append(b, `{"kty":"EC","crv":"P-256","x":"`...)
		b = append(b, b64.EncodeToString(x)...)
		b = append(b, `","y":"`...)
		b = append(b, b64.EncodeToString(y)...)
	case ed25519.PublicKey:
		b = append(b, `{"kty":"OKP","crv":"Ed25519","x":"`...)
		b = append(b, b64.EncodeToString(pub)...)
	}
	b = append(b, `","kid":`...)
	b = strconv.AppendQuote(b, k.Kid)
	b = append(b, `,"alg":"`...)
	b = append(b, k.Alg...)
	b = append(b, `","use":"sig"}`...)
	return b
}

// parseJWK reads an EC P-256 or OKP Ed25519 key in JWK form. "d" is
// optional: without it the key can verify but not sign.
func parseJWK(v gjson.Result) (pub crypto.PublicKey, priv crypto.Signer, alg string, err error) {
	kty, crv := v.Get("kty").String(), v.Get("crv").String()
	dec := func(name string, size int) ([]byte, error) {
		f := v.Get(name)
		if f.Type != gjson.String {
			return nil, errors.New(`member "` + name + `" must be a base64url string`)
		}
		b, err := b64.DecodeString(f.Str)
		if err != nil || (size > 0 && len(b) != size) {
			return nil, errors.New(`member "` + name + `" is not a valid base64url value of ` + strconv.Itoa(size) + ` bytes`)
		}
		return b, nil
	}
	switch {
	case kty == "EC" && crv == "P-256":
		x, err := dec("x", 32)
		if err != nil {
			return nil, nil, "", err
		}
		y, err := dec("y", 32)
		if err != nil {
			return nil, nil, "", err
		}
		uncompressed := append([]byte{4}, append(x, y...)...)
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), uncompressed)
		if err != nil {
			return nil, nil, "", errors.New("x and y are not a point on P-256")
		}
		if !v.Get("d").Exists() {
			return pk, nil, AlgES256, nil
		}
		d, err := dec("d", 32)
		if err != nil {
			return nil, nil, "", err
		}
		sk, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, nil, "", errors.New(`member "d" is not a valid P-256 private key`)
		}
		if !sk.PublicKey.Equal(pk) {
			return nil, nil, "", errors.New(`private key "d" does not match "x" and "y"`)
		}
		return pk, sk, AlgES256, nil
	case kty == "OKP" && crv == "Ed25519":
		x, err := dec("x", ed25519.PublicKeySize)
		if err != nil {
			return nil, nil, "", err
		}
		pk := ed25519.PublicKey(x)
		if !v.Get("d").Exists() {
			return pk, nil, AlgEdDSA, nil
		}
		d, err := dec("d", ed25519.SeedSize)
		if err != nil {
			return nil, nil, "", err
		}
		sk := ed25519.NewKeyFromSeed(d)
		if !sk.Public().(ed25519.PublicKey).Equal(pk) {
			return nil, nil, "", errors.New(`private key "d" does not match "x"`)
		}
		return pk, sk, AlgEdDSA, nil
	}
	return nil, nil, "", errors.New(`unsupported key: want kty "EC" with crv "P-256", or kty "OKP" with crv "Ed25519"`)
}

// parsePEM reads a PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or
// PKIX ("PUBLIC KEY") block holding a P-256 or Ed25519 key.
func parsePEM(s string) (pub crypto.PublicKey, priv crypto.Signer, alg string, err error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, nil, "", errors.New("no PEM block found")
	}
	if _, extra := pem.Decode(rest); extra != nil && len(extra) != len(rest) {
		return nil, nil, "", errors.New("more than one PEM block")
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	default:
		return nil, nil, "", errors.New(`unsupported PEM block type "` + block.Type + `"`)
	}
	if err != nil {
		return nil, nil, "", errors.New("cannot parse " + block.Type + ": " + err.Error())
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, nil, "", errors.New("EC key is not on P-256")
		}
		return &k.PublicKey, k, AlgES256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, nil, "", errors.New("EC key is not on P-256")
		}
		return k, nil, AlgES256, nil
	case ed25519.PrivateKey:
		return k.Public(), k, AlgEdDSA, nil
	case ed25519.PublicKey:
		return k, nil, AlgEdDSA, nil
	}
	return nil, nil, "", errors.New("unsupported key type: want P-256 or Ed25519")
}
