package jose

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"io"
)

// JWS algorithm names (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3)
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256" // RSASSA-PSS with SHA-256, MGF1 SHA-256, salt = hash length (RFC 7518 §3.5)
	PS384 = "PS384"
	PS512 = "PS512"
	ES256 = "ES256" // ECDSA P-256 with SHA-256 (RFC 7518 §3.4)
	ES384 = "ES384" // ECDSA P-384 with SHA-384
	EdDSA = "EdDSA" // Ed25519 (RFC 8037 §3.1)
)

// Algorithms lists every algorithm this package signs and verifies.
var Algorithms = []string{RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA}

// Errors of [Verify] and [Sign].
var (
	// ErrAlgorithm: the algorithm is unknown, or does not fit the key type.
	ErrAlgorithm = errors.New("jose: algorithm does not fit the key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jose: signature does not verify")
)

// algHash is the digest an algorithm signs, or 0 for EdDSA (which signs
// the message itself).
func algHash(alg string) crypto.Hash {
	switch alg {
	case RS256, PS256, ES256:
		return crypto.SHA256
	case RS384, PS384, ES384:
		return crypto.SHA384
	case RS512, PS512:
		return crypto.SHA512
	}
	return 0
}

// digest hashes msg with h (only the three SHA-2 sizes above are used).
func digest(h crypto.Hash, msg []byte) []byte {
	var d hash.Hash
	switch h {
	case crypto.SHA256:
		d = sha256.New()
	case crypto.SHA384:
		d = sha512.New384()
	default:
		d = sha512.New()
	}
	d.Write(msg)
	return d.Sum(nil)
}

// KeyFits reports whether alg is defined for the public key pub: RS* and
// PS* for RSA keys, ES256 for P-256, ES384 for P-384, EdDSA for Ed25519.
// It is the one place the algorithm is pinned to the key type.
func KeyFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *RSAPublicKey:
		switch alg {
		case RS256, RS384, RS512, PS256, PS384, PS512:
			return true
		}
	case *ECPublicKey:
		return curveOf(alg) == k.c
	case ed25519.PublicKey:
		return alg == EdDSA && len(k) == ed25519.PublicKeySize
	}
	return false
}

// Verify checks the JWS signature sig over signingInput (the ASCII
// "BASE64URL(header) '.' BASE64URL(payload)" of RFC 7515 §5.2) with pub in
// algorithm alg. ECDSA signatures are the fixed-length R || S form of
// RFC 7518 §3.4 ("the JWS Signature value ... a 64-byte sequence" for
// ES256), any other length is refused. It returns nil, [ErrAlgorithm] when
// alg does not fit pub ([KeyFits]) or [ErrSignature].
func Verify(alg string, pub crypto.PublicKey, signingInput, sig []byte) error {
	if !KeyFits(alg, pub) {
		return ErrAlgorithm
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if ed25519.Verify(k, signingInput, sig) {
			return nil
		}
	case *ECPublicKey:
		if k.verify(digest(algHash(alg), signingInput), sig) {
			return nil
		}
	case *RSAPublicKey:
		h := algHash(alg)
		var ok bool
		if alg[0] == 'P' {
			ok = k.verifyPSS(h, digest(h, signingInput), sig)
		} else {
			ok = k.verifyPKCS1v15(digest(h, signingInput), sig)
		}
		if ok {
			return nil
		}
	}
	return ErrSignature
}

// Sign signs signingInput with priv in algorithm alg and returns the JWS
// signature: for ECDSA the R || S form of RFC 7518 §3.4, each half
// zero-padded to the curve size. priv is an [*ECPrivateKey] or an
// [ed25519.PrivateKey] whose public half fits alg ([KeyFits]); rand is the
// randomness ECDSA adds to its nonce.
func Sign(alg string, priv crypto.Signer, rand io.Reader, signingInput []byte) ([]byte, error) {
	pub := priv.Public()
	if !KeyFits(alg, pub) {
		return nil, ErrAlgorithm
	}
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, signingInput), nil
	case *ECPrivateKey:
		return k.sign(rand, digest(algHash(alg), signingInput))
	}
	return nil, ErrAlgorithm
}
