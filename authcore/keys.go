package authcore

import (
	"crypto"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"strconv"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// JWS algorithms mcpgate signs and verifies with. Each key is pinned to
// exactly one of them: a token's "alg" header must equal its key's.
const (
	AlgES256 = jose.ES256 // ECDSA P-256 with SHA-256 (RFC 7518 §3.4)
	AlgEdDSA = jose.EdDSA // Ed25519 (RFC 8037)
)

// SigningKey is one configured key. Private is nil for a key that is only
// published (a retired key whose tokens may still be in use). [ParseConfig]
// fills it from a JWK or PEM key: an Ed25519 key is the standard library's
// ed25519 type, a P-256 key the engine's own ECDSA type (its jose package
// builds ECDSA without crypto/ecdsa, to keep the filter small), so a
// *ecdsa.PrivateKey set here by hand does not fit ES256 and is refused.
type SigningKey struct {
	Kid     string
	Alg     string
	Public  crypto.PublicKey
	Private crypto.Signer
	// Active marks the key new tokens are signed with.
	Active bool
}

var b64 = jose.Base64()

// publicJWK renders the public half of k as a JWK (RFC 7517) with kid, alg
// and use, in a fixed member order.
func (k *SigningKey) publicJWK() []byte {
	var b []byte
	switch pub := k.Public.(type) {
	case *jose.ECPublicKey:
		b = append(b, `{"kty":"EC","crv":"`...)
		b = append(b, pub.Curve()...)
		b = append(b, `","x":"`...)
		b = append(b, b64.EncodeToString(pub.X())...)
		b = append(b, `","y":"`...)
		b = append(b, b64.EncodeToString(pub.Y())...)
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

// parseJWK reads a P-256 or Ed25519 key of the configuration in JWK form
// (configKeyPolicy). "d" is optional: without it the key can verify but
// not sign.
func parseJWK(v jsonv.Result) (pub crypto.PublicKey, priv crypto.Signer, alg string, err error) {
	k, err := jose.ParseJWK(v, &configKeyPolicy)
	if err != nil {
		return nil, nil, "", err
	}
	return k.Public, k.Private, jose.AlgFor(k.Public), nil
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
		key, err = parsePKCS8(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = parseSEC1(block.Bytes)
	case "PUBLIC KEY":
		key, err = parseSPKI(block.Bytes)
	default:
		return nil, nil, "", errors.New(`unsupported PEM block type "` + block.Type + `"`)
	}
	if err != nil {
		return nil, nil, "", errors.New("cannot parse " + block.Type + ": " + err.Error())
	}
	switch k := key.(type) {
	case *jose.ECPrivateKey:
		if k.PublicKey().Curve() != "P-256" {
			return nil, nil, "", errors.New("EC key is not on P-256")
		}
		return k.PublicKey(), k, AlgES256, nil
	case *jose.ECPublicKey:
		if k.Curve() != "P-256" {
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
