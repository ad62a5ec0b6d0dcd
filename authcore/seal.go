package authcore

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/mcpgate/mcpgate/authcore/internal/seal"
)

// SealingKey is one server secret of "authorization_server.sealing_keys".
// It seals what mcpgate hands out and gets back without storing it:
// dynamically registered client ids, the pending authorization carried in
// the upstream login state, and a refresh family's grace-window successor.
// It also keys the HMACs of derived client secrets and consent CSRF tokens.
//
// The configured 32-byte secret is never used directly: HKDF-SHA256 (RFC
// 5869) derives an AES-256-GCM key and an HMAC-SHA256 key from it, so the
// two uses cannot interfere.
type SealingKey struct {
	// ID names the key inside every sealed value, so that a retired key
	// can still open what it sealed.
	ID string

	key *seal.Key
}

// newSealingKey derives the working keys from a 32-byte secret.
func newSealingKey(id string, secret []byte) (*SealingKey, error) {
	k, err := seal.NewKey(id, secret)
	if err != nil {
		return nil, err
	}
	return &SealingKey{ID: id, key: k}, nil
}

// Purposes separate sealed values: a value sealed for one purpose never
// opens for another, because the purpose is part of the authenticated data.
const (
	sealClientID      = "client-id"
	sealUpstreamState = "upstream-state"
	sealSuccessor     = "refresh-successor"
)

// errUnseal is the one error for every value that does not open: the cause
// (wrong issuer, unknown key, tampering, truncation) is never told apart,
// to callers or to attackers.
var errUnseal = seal.ErrOpen

// sealAAD binds a sealed value to its purpose and to this issuer, so that a
// value sealed by another mcpgate (another issuer, even one sharing the
// key) does not open here (MCP 2026-07-28 "Authorization Server Binding").
func (c *Config) sealAAD(purpose, context string) []byte {
	b := make([]byte, 0, 16+len(purpose)+len(c.Issuer)+len(context))
	b = append(b, "mcpgate/v1\x00"...)
	b = append(b, purpose...)
	b = append(b, 0)
	b = append(b, c.Issuer...)
	b = append(b, 0)
	return append(b, context...)
}

// seal encrypts plaintext with the active sealing key (AES-256-GCM, random
// 96-bit nonce; format in package seal) and returns it base64url-encoded.
// A sealed value never starts with "https://" and is never mistaken for a
// CIMD URL.
func (e *Engine) seal(purpose, context string, plaintext []byte) (string, error) {
	keys := e.cfg.AS.SealingKeys
	if len(keys) == 0 {
		return "", errors.New("authcore: no sealing key configured")
	}
	return keys[0].key.Seal(e.rand, e.cfg.sealAAD(purpose, context), plaintext)
}

// unseal opens a value made by seal with the same purpose and context, with
// whichever configured key sealed it. It also returns that key.
func (e *Engine) unseal(purpose, context, sealed string) ([]byte, *SealingKey, error) {
	var used *SealingKey
	plain, err := seal.Open(sealed, e.cfg.sealAAD(purpose, context), func(kid string) *seal.Key {
		if used = e.cfg.AS.sealingKey(kid); used == nil {
			return nil
		}
		return used.key
	})
	if err != nil {
		return nil, nil, errUnseal
	}
	return plain, used, nil
}

// macString is HMAC-SHA256 over a purpose label and the given parts,
// base64url-encoded ([seal.Key.MAC]).
func (k *SealingKey) macString(label string, parts ...string) string {
	return k.key.MAC(label, parts...)
}

// sealingKey returns the key with the given id, or nil.
func (a *ASConfig) sealingKey(id string) *SealingKey {
	for _, k := range a.SealingKeys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// equalSecret compares two secrets in time that does not depend on where
// they differ (nor, beyond the hash, on their lengths).
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// hashKey returns base64url(SHA-256(s)): store keys are derived from codes
// and tokens by hashing, so a store dump reveals no usable credential.
func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return b64.EncodeToString(h[:])
}
