package authcore

import (
	"crypto"
	"errors"
	"sync"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// HostCrypto computes signatures outside the engine: in the filter,
// Envoy's verify_signature and sign foreign functions (BoringSSL's
// EVP_DigestVerify and EVP_DigestSign), which run at native speed where
// Go in wasm takes milliseconds per signature. It works in the host's
// terms: a hash function name ("sha256", "sha384", "sha512"), keys in DER
// (SubjectPublicKeyInfo, RFC 5280 §4.1.2.7; PKCS#8 PrivateKeyInfo,
// RFC 5958), RSA signatures in PKCS#1 v1.5 form (RFC 8017 §8.2) and ECDSA
// signatures as a DER Ecdsa-Sig-Value (RFC 3279 §2.2.3). The engine
// converts to and from the JWS forms (RFC 7518 §3.3, §3.4).
//
// A method that returns an error could not answer (the host lacks the
// function, or refused the arguments): the engine then computes the
// signature itself, so an error never turns into a verdict. Return
// ErrHostCryptoUnsupported for a function the host does not have (not
// logged); other errors are logged as warnings.
type HostCrypto interface {
	// VerifySignature reports whether sig is a valid signature of text
	// under the public key spki.
	VerifySignature(hash string, spki, sig, text []byte) (bool, error)
	// Sign signs text with the private key pkcs8.
	Sign(hash string, pkcs8, text []byte) ([]byte, error)
}

// ErrHostCryptoUnsupported is what a HostCrypto returns for an operation
// its host cannot do at all.
var ErrHostCryptoUnsupported = errors.New("authcore: the host cannot compute this signature")

// hostHash names, for the JWS algorithms the host can compute (RFC 7518
// §3.1: RSASSA-PKCS1-v1_5 and ECDSA), the hash in the host's terms. EdDSA
// and RSASSA-PSS are not in it: they stay in Go.
var hostHash = map[string]string{
	"RS256": "sha256", "RS384": "sha384", "RS512": "sha512",
	"ES256": "sha256", "ES384": "sha384",
}

// hostKeys caches the DER form of keys handed to the host, by key (a
// pointer for EC and RSA keys); it is bounded and simply emptied when full
// (keys come from the configuration and from a few fetched key sets).
type hostKeys struct {
	mu  sync.Mutex
	der map[any][]byte
}

const hostKeysMax = 256

func (c *hostKeys) get(k any, marshal func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if der, ok := c.der[k]; ok {
		return der, nil
	}
	der, err := marshal()
	if err != nil {
		return nil, err
	}
	if c.der == nil || len(c.der) >= hostKeysMax {
		c.der = map[any][]byte{}
	}
	c.der[k] = der
	return der, nil
}

// hostVerify verifies a JWS signature (RFC 7515 §5.2 step 8) through the
// host. handled is false when the host cannot decide (no host functions,
// an algorithm it cannot do, a host error): the caller then verifies in
// Go. The key must fit alg (jose.KeyFits; RFC 7518 §3.4: ES256 is "the
// P-256 curve and the SHA-256 hash function"), and an ECDSA signature
// must be the strict R || S form with R and S in [1, n-1]; otherwise the
// signature is invalid here, whatever the host would say.
func (e *Engine) hostVerify(alg string, pub crypto.PublicKey, signingInput, sig []byte) (valid, handled bool) {
	hash, ok := hostHash[alg]
	if e.hostCrypto == nil || !ok {
		return false, false
	}
	if !jose.KeyFits(alg, pub) {
		return false, true
	}
	switch k := pub.(type) {
	case *jose.ECPublicKey:
		der, err := jose.ECDSAToDER(alg, sig)
		if err != nil {
			return false, true
		}
		sig = der
	case *jose.RSAPublicKey:
		// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used".
		if k.BitLen() < 2048 {
			return false, true
		}
	}
	spki, err := e.hostKeys.get(pub, func() ([]byte, error) { return marshalSPKI(pub) })
	if err != nil {
		return false, false
	}
	valid, err = e.hostCrypto.VerifySignature(hash, spki, sig, signingInput)
	if err != nil {
		if !errors.Is(err, ErrHostCryptoUnsupported) {
			e.log(LogWarn, "mcpgate: host signature verification failed, verifying in wasm: "+err.Error())
		}
		return false, false
	}
	return valid, true
}

// hostSign signs a JWS signing input (RFC 7515 §5.1) through the host
// with an ECDSA key and returns the JWS R || S signature; handled is false
// when the host cannot (the caller then signs in Go).
func (e *Engine) hostSign(k *SigningKey, signingInput []byte) (sig []byte, handled bool) {
	hash, ok := hostHash[k.Alg]
	priv, isEC := k.Private.(*jose.ECPrivateKey)
	if e.hostCrypto == nil || !ok || !isEC || !jose.KeyFits(k.Alg, priv.Public()) {
		return nil, false
	}
	p8, err := e.hostKeys.get(priv, func() ([]byte, error) { return marshalPKCS8EC(priv) })
	if err != nil {
		return nil, false
	}
	der, err := e.hostCrypto.Sign(hash, p8, signingInput)
	if err != nil {
		if !errors.Is(err, ErrHostCryptoUnsupported) {
			e.log(LogWarn, "mcpgate: host signing failed, signing in wasm: "+err.Error())
		}
		return nil, false
	}
	sig, err = jose.ECDSAFromDER(k.Alg, der)
	if err != nil {
		e.log(LogWarn, "mcpgate: host returned a malformed ECDSA signature, signing in wasm")
		return nil, false
	}
	return sig, true
}
