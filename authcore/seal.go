package authcore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
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

	aead cipher.AEAD
	mac  []byte
}

// sealVersion is the first byte of every sealed value.
const sealVersion = 1

// newSealingKey derives the working keys from a 32-byte secret.
func newSealingKey(id string, secret []byte) (*SealingKey, error) {
	if len(secret) != 32 {
		return nil, errors.New("sealing secret must be 32 bytes")
	}
	encKey, err := hkdf.Key(sha256.New, secret, nil, "mcpgate/v1/seal/aes-256-gcm", 32)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, secret, nil, "mcpgate/v1/seal/hmac-sha256", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SealingKey{ID: id, aead: aead, mac: macKey}, nil
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
var errUnseal = errors.New("authcore: sealed value does not open")

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
// 96-bit nonce) and returns it base64url-encoded:
//
//	version(1) || len(kid)(1) || kid || nonce(12) || ciphertext || tag(16)
//
// The alphabet of base64url has no ':' or '/', so a sealed value never
// starts with "https://" and is never mistaken for a CIMD URL.
func (e *Engine) seal(purpose, context string, plaintext []byte) (string, error) {
	keys := e.cfg.AS.SealingKeys
	if len(keys) == 0 {
		return "", errors.New("authcore: no sealing key configured")
	}
	k := keys[0]
	n := k.aead.NonceSize()
	buf := make([]byte, 2+len(k.ID)+n, 2+len(k.ID)+n+len(plaintext)+k.aead.Overhead())
	buf[0] = sealVersion
	buf[1] = byte(len(k.ID))
	copy(buf[2:], k.ID)
	nonce := buf[2+len(k.ID):]
	if _, err := io.ReadFull(e.rand, nonce); err != nil {
		return "", err
	}
	out := k.aead.Seal(buf, nonce, plaintext, e.cfg.sealAAD(purpose, context))
	return b64.EncodeToString(out), nil
}

// unseal opens a value made by seal with the same purpose and context, with
// whichever configured key sealed it. It also returns that key.
func (e *Engine) unseal(purpose, context, sealed string) ([]byte, *SealingKey, error) {
	if len(sealed) > maxSealedLen {
		return nil, nil, errUnseal
	}
	raw, err := b64.DecodeString(sealed)
	if err != nil || len(raw) < 2 || raw[0] != sealVersion {
		return nil, nil, errUnseal
	}
	kidLen := int(raw[1])
	if len(raw) < 2+kidLen {
		return nil, nil, errUnseal
	}
	k := e.cfg.AS.sealingKey(string(raw[2 : 2+kidLen]))
	if k == nil {
		return nil, nil, errUnseal
	}
	rest := raw[2+kidLen:]
	n := k.aead.NonceSize()
	if len(rest) < n+k.aead.Overhead() {
		return nil, nil, errUnseal
	}
	plain, err := k.aead.Open(nil, rest[:n], rest[n:], e.cfg.sealAAD(purpose, context))
	if err != nil {
		return nil, nil, errUnseal
	}
	return plain, k, nil
}

// maxSealedLen bounds the input unseal accepts (8 KB decoded).
const maxSealedLen = 11000

// macString is HMAC-SHA256 over a purpose label and the given parts,
// base64url-encoded. Parts are length-prefixed so that no two different
// lists give the same input.
func (k *SealingKey) macString(label string, parts ...string) string {
	h := hmac.New(sha256.New, k.mac)
	h.Write([]byte("mcpgate/v1\x00" + label))
	for _, p := range parts {
		var l [4]byte
		l[0], l[1], l[2], l[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		h.Write(l[:])
		h.Write([]byte(p))
	}
	return b64.EncodeToString(h.Sum(nil))
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
