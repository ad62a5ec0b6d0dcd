package authcore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// TokenShare is storage the engines of one host share (in the filter,
// Envoy's shared data, which every VM of the plugin's vm_id sees). The
// engine keeps in it which access tokens it verified, so that a token new
// to an Envoy pays its signature check once, not once per worker.
type TokenShare interface {
	// Get returns the value stored under key.
	Get(key string) ([]byte, bool)
	// Set stores value under key, replacing any value; failures are
	// ignored (the token is then verified again elsewhere).
	Set(key string, value []byte)
}

// tokenShare records verified access tokens in a TokenShare.
//
// What is shared is only the fact that the signature of one exact token
// was verified: a record holds the token's SHA-256 and its expiry. An
// engine that finds a matching record skips the signature check and still
// parses and checks everything else (header, kid, alg, issuer, claims)
// from the token it holds, so a record can never hand one token another
// token's claims; a record of another token (a slot collision) does not
// match the full hash and is ignored.
//
// It is bounded: records live in tokenShareSlots slots chosen by the hash,
// a new token replacing the slot's previous one. Records expire with their
// token. The key prefix names the issuer and the verification keys, so
// engines with different keys (during a configuration change) never trust
// each other's records.
type tokenShare struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	s      TokenShare
	prefix string
}

const tokenShareSlots = 4096

// tokenShareValueLen is a record's size: SHA-256 || expiry (Unix seconds,
// big-endian).
const tokenShareValueLen = sha256.Size + 8

// newTokenShare builds the share for an engine verifying with keys.
func newTokenShare(s TokenShare, issuer string, keys []*SigningKey) *tokenShare {
	h := sha256.New()
	h.Write([]byte(issuer))
	for _, k := range keys {
		h.Write([]byte{0})
		h.Write(k.publicJWK())
	}
	return &tokenShare{s: s, prefix: "mcpgate/tokv/" + hex.EncodeToString(h.Sum(nil)[:8]) + "/"}
}

func (t *tokenShare) key(sum *[sha256.Size]byte) string {
	return t.prefix + itoa(int(binary.BigEndian.Uint16(sum[:2])%tokenShareSlots))
}

// verified reports whether another engine recorded token as verified and
// the record has not expired. It returns the token's hash for record.
func (t *tokenShare) verified(token string, now time.Time) (sum *[sha256.Size]byte, ok bool) {
	if t == nil {
		return nil, false
	}
	s := sha256.Sum256([]byte(token))
	v, found := t.s.Get(t.key(&s))
	if !found || len(v) != tokenShareValueLen || [sha256.Size]byte(v[:sha256.Size]) != s {
		return &s, false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(v[sha256.Size:])), 0)
	return &s, now.Before(exp.Add(clockSkew))
}

// record notes a token (by the hash verified returned) as verified until
// exp.
func (t *tokenShare) record(sum *[sha256.Size]byte, exp time.Time) {
	if t == nil || sum == nil {
		return
	}
	v := make([]byte, tokenShareValueLen)
	copy(v, sum[:])
	binary.BigEndian.PutUint64(v[sha256.Size:], uint64(exp.Unix()))
	t.s.Set(t.key(sum), v)
}

// verifyTokenSignature checks an access token's signature, or finds it
// already verified by another engine of this host. share is what the
// caller passes to tokenShare.record once the token is accepted (nil when
// nothing is to be recorded).
func (e *Engine) verifyTokenSignature(token string, k *SigningKey, signingInput, sig []byte) (valid bool, share *[sha256.Size]byte) {
	sum, ok := e.share.verified(token, e.now())
	if ok {
		e.count("mcpgate.guard.token_verified_by_other_vm")
		return true, nil
	}
	if e.verifySignature(k.Alg, k.Public, signingInput, sig) != nil {
		return false, nil
	}
	return true, sum
}
