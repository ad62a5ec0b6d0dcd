package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

var publicPolicy = Policy{Algs: []string{ES256, ES384, EdDSA, RS256, PS256}}

func TestParseJWK(t *testing.T) {
	k := loadKeys()
	for _, priv := range []crypto.Signer{k.rsa, k.es256, k.es384, k.ed} {
		jwk := publicJWK(priv, map[string]any{"kid": "a", "use": "sig", "key_ops": []string{"verify"}})
		key, err := ParseJWK(jsonv.ParseBytes(jsonOf(jwk)), &publicPolicy)
		if err != nil {
			t.Fatalf("%T: %v", priv, err)
		}
		if key.Kid != "a" || key.Private != nil || !fitsSame(key.Public, priv.Public()) {
			t.Errorf("%T: %+v", priv, key)
		}
	}
	// A private key where the policy allows it.
	d, err := k.es256.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwk := publicJWK(k.es256, map[string]any{"d": b64.EncodeToString(d)})
	key, err := ParseJWK(jsonv.ParseBytes(jsonOf(jwk)), &Policy{Algs: []string{ES256}, Private: true})
	if err != nil || key.Private == nil || !bytes.Equal(key.Private.(*ECPrivateKey).Bytes(), d) || !fitsSame(key.Private.Public(), k.es256.Public()) {
		t.Fatalf("private key: %+v %v", key, err)
	}
	seed := k.ed.Seed()
	key, err = ParseJWK(jsonv.ParseBytes(jsonOf(publicJWK(k.ed, map[string]any{"d": b64.EncodeToString(seed)}))), &Policy{Algs: []string{EdDSA}, Private: true})
	if err != nil || !key.Private.(ed25519.PrivateKey).Equal(k.ed) {
		t.Fatalf("private Ed25519 key: %v", err)
	}

	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaN := b64.EncodeToString(k.rsa.N.Bytes())
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherBytes, _ := other.Bytes()
	otherD := b64.EncodeToString(otherBytes)
	for _, tc := range []struct {
		name     string
		jwk      map[string]any
		policy   *Policy
		unusable bool
	}{
		{"private member", publicJWK(k.es256, map[string]any{"d": b64.EncodeToString(d)}), &publicPolicy, false},
		{"RSA private member", publicJWK(k.rsa, map[string]any{"p": "AQAB"}), &publicPolicy, false},
		{"RSA private key", publicJWK(k.rsa, map[string]any{"d": "AQAB"}), &Policy{Algs: []string{RS256}, Private: true}, true},
		{"d does not match", publicJWK(k.es256, map[string]any{"d": otherD}), &Policy{Algs: []string{ES256}, Private: true}, false},
		{"use enc", publicJWK(k.es256, map[string]any{"use": "enc"}), &publicPolicy, true},
		{"use not a string", publicJWK(k.es256, map[string]any{"use": 1}), &publicPolicy, false},
		{"key_ops without verify", publicJWK(k.es256, map[string]any{"key_ops": []string{"encrypt"}}), &publicPolicy, true},
		{"key_ops not strings", publicJWK(k.es256, map[string]any{"key_ops": []any{1}}), &publicPolicy, false},
		{"key_ops not an array", publicJWK(k.es256, map[string]any{"key_ops": "verify"}), &publicPolicy, false},
		{"alg of another key type", publicJWK(k.es256, map[string]any{"alg": "RS256"}), &publicPolicy, true},
		{"alg not in the policy", publicJWK(k.rsa, map[string]any{"alg": "RS512"}), &publicPolicy, true},
		{"key type not in the policy", publicJWK(k.es384, nil), &Policy{Algs: []string{ES256}}, true},
		{"RSA 1024", publicJWK(small, nil), &publicPolicy, false},
		{"RSA above the policy's bound", publicJWK(k.rsa, nil), &Policy{Algs: []string{RS256}, MaxRSABits: 1024}, false},
		{"RSA below the policy's bound", publicJWK(k.rsa, nil), &Policy{Algs: []string{RS256}, MinRSABits: 3072}, false},
		{"RSA leading zero", publicJWK(k.rsa, map[string]any{"n": b64.EncodeToString(append([]byte{0}, k.rsa.N.Bytes()...))}), &publicPolicy, false},
		{"RSA even exponent", publicJWK(k.rsa, map[string]any{"e": "AQAA"}), &publicPolicy, false},
		{"RSA exponent 1", publicJWK(k.rsa, map[string]any{"e": "AQ"}), &publicPolicy, false},
		{"RSA exponent padded", publicJWK(k.rsa, map[string]any{"e": "AAEAAQ"}), &publicPolicy, false},
		{"RSA exponent too big", publicJWK(k.rsa, map[string]any{"e": "AQAAAAE"}), &publicPolicy, false},
		{"RSA n not base64url", publicJWK(k.rsa, map[string]any{"n": rsaN + "="}), &publicPolicy, false},
		{"point not on the curve", publicJWK(k.es256, map[string]any{"y": publicJWK(k.es256, nil)["x"]}), &publicPolicy, false},
		{"short x", publicJWK(k.es256, map[string]any{"x": "AQAB"}), &publicPolicy, false},
		{"P-256 x on P-384", publicJWK(k.es256, map[string]any{"crv": "P-384"}), &publicPolicy, false},
		{"unknown curve", publicJWK(k.es256, map[string]any{"crv": "P-521"}), &publicPolicy, true},
		{"X25519", publicJWK(k.ed, map[string]any{"crv": "X25519"}), &publicPolicy, true},
		{"oct", map[string]any{"kty": "oct", "k": "c2VjcmV0"}, &publicPolicy, true},
		{"kty missing", publicJWK(k.es256, map[string]any{"kty": nil}), &publicPolicy, true},
		{"empty policy", publicJWK(k.es256, nil), &Policy{}, true},
	} {
		key, err := ParseJWK(jsonv.ParseBytes(jsonOf(tc.jwk)), tc.policy)
		if err == nil {
			t.Errorf("%s: accepted %+v", tc.name, key)
			continue
		}
		if errors.Is(err, ErrUnusable) != tc.unusable {
			t.Errorf("%s: %v, unusable %v", tc.name, err, errors.Is(err, ErrUnusable))
		}
	}
	dup := `{"kty":"EC","crv":"P-256","crv":"P-384","x":"` + publicJWK(k.es256, nil)["x"].(string) + `","y":"` + publicJWK(k.es256, nil)["y"].(string) + `"}`
	if _, err := ParseJWK(jsonv.Parse(dup), &publicPolicy); err == nil {
		t.Error("duplicate crv accepted")
	}
}

// TestKeyAccepts: a key's "alg" pins it; without one, its type decides.
func TestKeyAccepts(t *testing.T) {
	k := loadKeys()
	pinned := &Key{Alg: PS256, Public: ours(k.rsa.Public())}
	free := &Key{Public: ours(k.rsa.Public())}
	if pinned.Accepts(RS256) || !pinned.Accepts(PS256) || !free.Accepts(RS256) || !free.Accepts(PS512) || free.Accepts(ES256) {
		t.Error("Accepts")
	}
	if AlgFor(ours(k.es256.Public())) != ES256 || AlgFor(ours(k.es384.Public())) != ES384 || AlgFor(k.ed.Public()) != EdDSA || AlgFor(ours(k.rsa.Public())) != "" {
		t.Error("AlgFor")
	}
}

func TestParseJWKS(t *testing.T) {
	k := loadKeys()
	set := func(keys ...map[string]any) []byte { return jsonOf(map[string]any{"keys": keys}) }
	keys, err := ParseJWKS(set(publicJWK(k.rsa, map[string]any{"kid": "r"}), map[string]any{"kty": "oct", "k": "eA"},
		publicJWK(k.es256, map[string]any{"use": "enc"}), publicJWK(k.ed, map[string]any{"kid": "e"}),
		publicJWK(k.es256, map[string]any{"x": "AQAB"})), &publicPolicy)
	if err != nil || len(keys) != 2 || keys[0].Kid != "r" || keys[1].Kid != "e" {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	many := make([]map[string]any, 20)
	for i := range many {
		many[i] = publicJWK(k.ed, nil)
	}
	if keys, err := ParseJWKS(set(many...), &Policy{Algs: []string{EdDSA}, MaxKeys: 3}); err != nil || len(keys) != 3 {
		t.Errorf("MaxKeys: %d %v", len(keys), err)
	}
	d := b64.EncodeToString(k.ed.Seed())
	for name, raw := range map[string][]byte{
		"not JSON":        []byte(`{`),
		"not an object":   []byte(`[]`),
		"no keys":         []byte(`{}`),
		"keys twice":      []byte(`{"keys":[],"keys":[` + string(jsonOf(publicJWK(k.ed, nil))) + `]}`),
		"empty":           set(),
		"only unusable":   set(publicJWK(k.es256, map[string]any{"use": "enc"})),
		"private member":  set(publicJWK(k.ed, nil), publicJWK(k.ed, map[string]any{"d": d})),
		"member a string": []byte(`{"keys":["x"]}`),
	} {
		if keys, err := ParseJWKS(raw, &publicPolicy); err == nil {
			t.Errorf("%s: %d keys", name, len(keys))
		}
	}
	_, err = ParseJWKS(set(publicJWK(k.rsa, map[string]any{"e": "AQAA"})), &publicPolicy)
	if err == nil || !strings.Contains(err.Error(), "exponent") {
		t.Errorf("the reason of the first refused key is not given: %v", err)
	}
}

// FuzzParseJWKS: any bytes parse or fail without panicking; what parses
// is bounded, public, and fits the policy.
func FuzzParseJWKS(f *testing.F) {
	k := loadKeys()
	f.Add(jsonOf(map[string]any{"keys": []any{publicJWK(k.rsa, nil), publicJWK(k.es256, nil), publicJWK(k.es384, nil), publicJWK(k.ed, nil)}}))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","d":""}]}`))
	p := &Policy{Algs: []string{ES256, EdDSA, RS256}, MaxKeys: 4}
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseJWKS(b, p)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > 4 {
			t.Fatalf("%d keys", len(keys))
		}
		for _, key := range keys {
			if key.Private != nil {
				t.Fatal("a private key came out of a public key set")
			}
			if !key.Accepts(ES256) && !key.Accepts(EdDSA) && !key.Accepts(RS256) {
				t.Fatalf("key %+v fits no allowed algorithm", key)
			}
			if pub, ok := key.Public.(*rsa.PublicKey); ok && (pub.N.BitLen() < MinRSABits || pub.N.BitLen() > 8192 || pub.E < 3 || big.NewInt(int64(pub.E)).Bit(0) == 0) {
				t.Fatalf("RSA key out of bounds: %d bits, e %d", pub.N.BitLen(), pub.E)
			}
		}
	})
}
