// Package jose is mcpgate's one implementation of the JOSE pieces its
// authorization server needs: the JWS compact serialization (RFC 7515 §7.1),
// JSON Web Keys and key sets (RFC 7517) under a per-use [Policy], signing and
// verification in the algorithms of RFC 7518 §3 and RFC 8037 §3.1, the ECDSA
// signature forms, and readers for the registered JWT claims (RFC 7519 §4.1).
//
// Every algorithm is pinned to a key type ([KeyFits]): an RSA key never
// verifies an ECDSA or EdDSA signature and "none" is never accepted, so the
// algorithm confusions of RFC 8725 §2.1 and §3.1 cannot happen here.
//
// The package is pure: functions of bytes, no I/O, no global state beyond
// constants. It imports the standard library, its sibling leaves jsonv and
// strictjson, and for ECDSA and RSA filippo.io/nistec and filippo.io/bigmod
// (the exported copies of the groups and modular arithmetic under the
// standard library's crypto/ecdsa and crypto/rsa, which would bring 1 MB of
// math/big, encoding/asn1 and unused curves into the filter); ECDSA and RSA
// keys are this package's [ECPublicKey], [ECPrivateKey] and [RSAPublicKey].
package jose
