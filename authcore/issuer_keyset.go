package authcore

import (
	"errors"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// A trusted issuer's JWK Set and tokens, read with the one JOSE
// implementation (authcore/internal/jose) under the issuer's key policy:
// its configured algorithms, RSA of 2048 bits or more, a key's "alg" and
// "use" honoured, no private members (RFC 7517 §5, RFC 8725 §3.1).

// issuerKeySet is a trusted issuer's parsed JWK Set.
type issuerKeySet struct{ keys []*jose.Key }

func (ti *TrustedIssuer) keyPolicy() *jose.Policy {
	return &jose.Policy{Algs: ti.Algorithms, MinRSABits: jose.MinRSABits, MaxKeys: maxJWKSKeys}
}

// parseIssuerKeySet reads an issuer's JWK Set; it fails when the set holds
// no key usable for ti.
func parseIssuerKeySet(body []byte, ti *TrustedIssuer) (*issuerKeySet, error) {
	keys, err := jose.ParseJWKS(body, ti.keyPolicy())
	if err != nil {
		return nil, err
	}
	return &issuerKeySet{keys: keys}, nil
}

// has reports whether the set holds a key named kid; a token without
// "kid" may be signed by any key of the set.
func (ks *issuerKeySet) has(kid string) bool {
	for _, k := range ks.keys {
		if kid == "" || k.Kid == kid {
			return true
		}
	}
	return false
}

// verifyIssuerToken checks t's signature with the key of ks it names (any
// key, without "kid"), in t's algorithm, which the key must accept
// (jose.Key.Accepts: its type fits and its own "alg" agrees).
func (e *Engine) verifyIssuerToken(ks *issuerKeySet, t *jose.Token) error {
	for _, k := range ks.keys {
		if t.Kid != "" && k.Kid != t.Kid || !k.Accepts(t.Alg) {
			continue
		}
		if e.verifySignature(t.Alg, k.Public, t.SigningInput, t.Signature) == nil {
			return nil
		}
	}
	return errors.New("no key of the issuer verifies the signature")
}

// looksLikeJWS tells a JWS compact serialization (three dot-separated
// parts) from an opaque token, which goes to introspection.
func looksLikeJWS(token string) bool { return strings.Count(token, ".") == 2 }
