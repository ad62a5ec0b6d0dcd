package authcore

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

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
	typ, der, err := decodePEM(s)
	if err != nil {
		return nil, nil, "", err
	}
	var key any
	switch typ {
	case "PRIVATE KEY":
		key, err = parsePKCS8(der)
	case "EC PRIVATE KEY":
		key, err = parseSEC1(der)
	case "PUBLIC KEY":
		key, err = parseSPKI(der)
	default:
		return nil, nil, "", errors.New(`unsupported PEM block type "` + typ + `"`)
	}
	if err != nil {
		return nil, nil, "", errors.New("cannot parse " + typ + ": " + err.Error())
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

// decodePEM reads the one PEM block of s (RFC 7468 §2: "-----BEGIN label-----",
// base64 lines, "-----END label-----"), as encoding/pem's Decode reads it:
// text before the BEGIN line is ignored, spaces, tabs and line breaks
// inside the base64 are skipped, and the END line must name the same label
// and end the line. It refuses what this configuration cannot use: PEM
// headers (RFC 1421's "Proc-Type: 4,ENCRYPTED" of an encrypted key) and a
// second block. It is not encoding/pem because that took 30 KB of the wasm
// module (issue 14); FuzzDecodePEM holds the two to the same blocks.
func decodePEM(s string) (typ string, der []byte, err error) {
	const begin, end, dashes = "-----BEGIN ", "-----END ", "-----"
	i := 0
	for {
		j := strings.Index(s[i:], begin)
		if j < 0 {
			return "", nil, errors.New("no PEM block found")
		}
		i += j
		if i == 0 || s[i-1] == '\n' {
			break
		}
		i++
	}
	typeLine, rest := pemLine(s[i+len(begin):])
	if !strings.HasSuffix(typeLine, dashes) {
		return "", nil, errors.New("malformed PEM BEGIN line")
	}
	typ = typeLine[:len(typeLine)-len(dashes)]
	var body string
	if strings.HasPrefix(rest, end) {
		rest = rest[len(end):]
	} else if k := strings.Index(rest, "\n"+end); k >= 0 {
		body, rest = rest[:k], rest[k+1+len(end):]
	} else {
		return "", nil, errors.New("PEM block " + quote(typ) + " has no END line")
	}
	endLine, after := pemLine(rest)
	if endLine != typ+dashes {
		return "", nil, errors.New("PEM END line does not match BEGIN " + quote(typ))
	}
	if strings.Contains(body, ":") {
		return "", nil, errors.New("PEM headers are not supported (an encrypted key must be decrypted first)")
	}
	b64 := make([]byte, 0, len(body))
	for k := 0; k < len(body); k++ {
		if c := body[k]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			b64 = append(b64, c)
		}
	}
	der, err = base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return "", nil, errors.New("PEM block " + quote(typ) + " is not valid base64")
	}
	if strings.Contains(after, begin) {
		return "", nil, errors.New("more than one PEM block")
	}
	return typ, der, nil
}

// pemLine splits s after its first line, and returns that line without its
// line break ("\n" or "\r\n") and trailing spaces and tabs, as
// encoding/pem reads lines.
func pemLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return strings.TrimRight(s, " \t"), ""
	}
	line, rest = s[:i], s[i+1:]
	return strings.TrimRight(strings.TrimSuffix(line, "\r"), " \t"), rest
}
