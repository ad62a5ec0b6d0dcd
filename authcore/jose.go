package authcore

import (
	"crypto"
	"errors"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// Every JWS authcore reads or writes goes through the two functions below:
// one place to verify, one to sign, whatever the token (access token,
// client assertion, upstream ID token).

// verifySignature checks sig over signingInput with pub in alg (RFC 7515
// §5.2); alg must fit pub's key type (jose.KeyFits), so no token can pick
// an algorithm its key was not made for (RFC 8725 §3.1).
//
// RSASSA-PKCS1-v1_5 and ECDSA signatures are checked by the host when it
// can (Options.HostCrypto, hostcrypto.go), everything else in Go.
func (e *Engine) verifySignature(alg string, pub crypto.PublicKey, signingInput, sig []byte) error {
	e.count("mcpgate.signature.verified")
	if valid, handled := e.hostVerify(alg, pub, signingInput, sig); handled {
		if !valid {
			return jose.ErrSignature
		}
		return nil
	}
	return jose.Verify(alg, pub, signingInput, sig)
}

// signJWS signs header.payload (both JSON texts) with k in its pinned
// algorithm and returns the JWS compact serialization (RFC 7515 §7.1); an
// ECDSA key signs through the host when it can (hostcrypto.go).
func (e *Engine) signJWS(k *SigningKey, header, payload []byte) (string, error) {
	if k.Private == nil {
		return "", errors.New("authcore: key " + k.Kid + " cannot sign")
	}
	return jose.Compact(header, payload, func(in []byte) ([]byte, error) {
		if sig, ok := e.hostSign(k, in); ok {
			return sig, nil
		}
		return jose.Sign(k.Alg, k.Private, e.rand, in)
	})
}

// Key policies, one per use (RFC 8725 §3.1: each key is used with the
// algorithms it was made for only).
var (
	// configKeyPolicy: the server's own keys, which may carry "d".
	configKeyPolicy = jose.Policy{Algs: []string{AlgES256, AlgEdDSA}, Private: true}
	// clientKeyPolicy: a private_key_jwt client's published keys.
	clientKeyPolicy = jose.Policy{Algs: assertionSigningAlgs, MaxKeys: maxClientKeys}
	// upstreamKeyPolicy: the upstream OpenID provider's published keys.
	upstreamKeyPolicy = jose.Policy{Algs: idTokenSigningAlgs, MaxKeys: 100}
)
