// Package seal encrypts and authenticates values that mcpgate hands out and
// later gets back without storing them, and keys the HMACs it derives from
// the same server secrets.
//
// A [Key] is derived from one 32-byte server secret with HKDF-SHA256
// (RFC 5869): one AES-256-GCM key for sealing and one HMAC-SHA256 key for
// [Key.MAC], so that the two uses cannot interfere. A sealed value is
// base64url without padding (RFC 4648 §5) of
//
//	version(1) || len(kid)(1) || kid || nonce(12) || ciphertext || tag(16)
//
// where kid names the key that sealed it, so that a retired key can still
// open what it sealed. The base64url alphabet has no ':' or '/', so a sealed
// value never starts with "https://".
//
// The package is pure: it imports only the standard library, and the
// randomness for nonces is passed in.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
)

// version is the first byte of every sealed value.
const version = 1

// MaxSealedLen bounds the input [Open] accepts (8 KB decoded).
const MaxSealedLen = 11000

// ErrOpen is the one error for every value that does not open: the cause
// (unknown key, other additional data, tampering, truncation) is never told
// apart, to callers or to attackers.
var ErrOpen = errors.New("authcore: sealed value does not open")

var b64 = base64.RawURLEncoding.Strict()

// Key is one server secret's working keys.
type Key struct {
	id   string
	aead cipher.AEAD
	mac  []byte
}

// NewKey derives the working keys of the key named id from a 32-byte
// secret. id is written into every value the key seals and must be at most
// 255 bytes.
func NewKey(id string, secret []byte) (*Key, error) {
	if len(secret) != 32 {
		return nil, errors.New("sealing secret must be 32 bytes")
	}
	if len(id) > 255 {
		return nil, errors.New("sealing key id longer than 255 bytes")
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
	return &Key{id: id, aead: aead, mac: macKey}, nil
}

// ID returns the name the key was created with.
func (k *Key) ID() string { return k.id }

// Seal encrypts plaintext with AES-256-GCM under a random 96-bit nonce read
// from rand, authenticating aad too, and returns the sealed value.
func (k *Key) Seal(rand io.Reader, aad, plaintext []byte) (string, error) {
	n := k.aead.NonceSize()
	buf := make([]byte, 2+len(k.id)+n, 2+len(k.id)+n+len(plaintext)+k.aead.Overhead())
	buf[0] = version
	buf[1] = byte(len(k.id))
	copy(buf[2:], k.id)
	nonce := buf[2+len(k.id):]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return "", err
	}
	return b64.EncodeToString(k.aead.Seal(buf, nonce, plaintext, aad)), nil
}

// Open opens a value made by [Key.Seal] with the same aad, with the key that
// find returns for the kid written in it (nil: no such key). Every failure
// is [ErrOpen].
func Open(sealed string, aad []byte, find func(kid string) *Key) ([]byte, error) {
	if len(sealed) > MaxSealedLen {
		return nil, ErrOpen
	}
	raw, err := b64.DecodeString(sealed)
	if err != nil || len(raw) < 2 || raw[0] != version {
		return nil, ErrOpen
	}
	kidLen := int(raw[1])
	if len(raw) < 2+kidLen {
		return nil, ErrOpen
	}
	k := find(string(raw[2 : 2+kidLen]))
	if k == nil {
		return nil, ErrOpen
	}
	rest := raw[2+kidLen:]
	n := k.aead.NonceSize()
	if len(rest) < n+k.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := k.aead.Open(nil, rest[:n], rest[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// MAC is HMAC-SHA256 over a purpose label and the given parts,
// base64url-encoded. Parts are length-prefixed so that no two different
// lists give the same input.
func (k *Key) MAC(label string, parts ...string) string {
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
