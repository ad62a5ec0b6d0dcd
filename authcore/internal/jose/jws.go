package jose

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// b64 is the base64url encoding without padding of RFC 7515 §2, strict:
// non-zero trailing bits and any character outside the alphabet are
// refused, so one value has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Base64 returns the strict unpadded base64url encoding JWS uses (RFC 7515
// §2), for callers that build or read JOSE values.
func Base64() *base64.Encoding { return b64 }

// maxHeaderLen bounds the decoded JOSE header.
const maxHeaderLen = 2048

// Token is a JWS in compact serialization (RFC 7515 §7.1) whose form has
// been checked but whose signature has not: pass Alg, SigningInput and
// Signature to [Verify] with the key the caller trusts for Kid.
type Token struct {
	// Header is the JOSE header, a JSON object with unique member names.
	Header jsonv.Result
	// Alg is the "alg" header parameter (RFC 7515 §4.1.1), one of the
	// algorithms the caller allowed.
	Alg string
	// Kid is the "kid" header parameter (RFC 7515 §4.1.4), "" when absent.
	Kid string
	// Typ is the "typ" header parameter (RFC 7515 §4.1.9), "" when absent.
	Typ string
	// SigningInput is ASCII(BASE64URL(header) || '.' || BASE64URL(payload)),
	// what the signature covers (RFC 7515 §5.2).
	SigningInput []byte
	// Payload is the decoded payload.
	Payload []byte
	// Signature is the decoded signature, never empty.
	Signature []byte
}

// Parse reads a JWS compact serialization of at most maxLen bytes:
// exactly three strictly base64url-encoded parts; a header that is a JSON
// object with unique member names, an "alg" that is one of algs (so never
// "none", RFC 8725 §3.1), no "crit" (RFC 7515 §4.1.11: a recipient that
// does not understand a listed extension must reject the JWS, and mcpgate
// understands none), "kid", "typ" and "nonce" strings when present, no
// embedded key ("jwk", "x5c"), no "b64" (RFC 7797); a non-empty signature. It does not verify the signature; see [Verify].
func Parse(token string, maxLen int, algs []string) (*Token, error) {
	if len(token) > maxLen {
		return nil, errors.New("too long")
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return nil, errors.New("not a JWS compact serialization")
	}
	if b64.DecodedLen(len(h)) > maxHeaderLen {
		return nil, errors.New("header too long")
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, errors.New("malformed header encoding")
	}
	hdr, err := object(hb)
	if err != nil {
		return nil, errors.New("malformed header: " + err.Error())
	}
	t := &Token{Header: hdr}
	alg := hdr.Get("alg")
	if alg.Type != jsonv.String || !contains(algs, alg.Str) {
		return nil, errors.New(`"alg" is missing or not one of ` + strings.Join(algs, ", "))
	}
	t.Alg = alg.Str
	if hdr.Get("crit").Exists() {
		return nil, errors.New(`"crit" header not supported`)
	}
	kid, typ, nonce := hdr.Get("kid"), hdr.Get("typ"), hdr.Get("nonce")
	if kid.Exists() && kid.Type != jsonv.String || typ.Exists() && typ.Type != jsonv.String || nonce.Exists() && nonce.Type != jsonv.String {
		return nil, errors.New(`"kid", "typ" or "nonce" is not a string`)
	}
	t.Kid, t.Typ = kid.Str, typ.Str
	// RFC 7515 §4.1.3 and §4.1.6: "jwk" and "x5c" carry the signer's key
	// or certificate. mcpgate only ever verifies with keys it was given, so
	// it refuses them rather than read them half: a recipient that ignores
	// an embedded key and one that checks it would disagree on the token.
	if hdr.Get("jwk").Exists() || hdr.Get("x5c").Exists() {
		return nil, errors.New(`"jwk" and "x5c" headers are not supported`)
	}
	// RFC 7797 §3: "b64" changes what the signature covers, and §6 says it
	// must then be listed in "crit", which is refused above.
	if hdr.Get("b64").Exists() {
		return nil, errors.New(`"b64" header not supported`)
	}
	if t.Payload, err = b64.DecodeString(p); err != nil {
		return nil, errors.New("malformed payload encoding")
	}
	if t.Signature, err = b64.DecodeString(s); err != nil || len(t.Signature) == 0 {
		return nil, errors.New("malformed signature encoding")
	}
	t.SigningInput = []byte(token[:len(h)+1+len(p)])
	return t, nil
}

// Claims parses the payload as a JWT Claims Set (RFC 7519 §7.2 step 10): a
// JSON object with unique member names (RFC 7519 §4: "Claim Names within
// a JWT Claims Set MUST be unique").
func (t *Token) Claims() (jsonv.Result, error) {
	c, err := object(t.Payload)
	if err != nil {
		return jsonv.Result{}, errors.New("malformed claims: " + err.Error())
	}
	return c, nil
}

// Compact assembles the compact serialization of a JWS over header and
// payload (the JSON texts), signed by sign (RFC 7515 §7.1).
func Compact(header, payload []byte, sign func(signingInput []byte) ([]byte, error)) (string, error) {
	hl := b64.EncodedLen(len(header))
	buf := make([]byte, hl+1+b64.EncodedLen(len(payload)), hl+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(512))
	b64.Encode(buf, header)
	buf[hl] = '.'
	b64.Encode(buf[hl+1:], payload)
	sig, err := sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	return string(b64.AppendEncode(buf, sig)), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
