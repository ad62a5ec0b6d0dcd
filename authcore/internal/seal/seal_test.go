package seal

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func testKey(t testing.TB, id string, b byte) *Key {
	t.Helper()
	k, err := NewKey(id, bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func finder(keys ...*Key) func(string) *Key {
	return func(kid string) *Key {
		for _, k := range keys {
			if k.ID() == kid {
				return k
			}
		}
		return nil
	}
}

func TestNewKeyRefusesBadSecret(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKey("k", make([]byte, n)); err == nil {
			t.Errorf("%d-byte secret accepted", n)
		}
	}
	if _, err := NewKey(strings.Repeat("k", 256), make([]byte, 32)); err == nil {
		t.Error("256-byte key id accepted")
	}
}

func TestSealOpen(t *testing.T) {
	k := testKey(t, "s1", 1)
	aad := []byte("purpose\x00issuer")
	s, err := k.Seal(rand.Reader, aad, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(s, "https://") || strings.ContainsAny(s, "+/=:") {
		t.Errorf("sealed value %q is not plain base64url", s)
	}
	plain, err := Open(s, aad, finder(k))
	if err != nil || string(plain) != "hello" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	if s2, _ := k.Seal(rand.Reader, aad, []byte("hello")); s2 == s {
		t.Error("two seals of the same value are equal: nonce reuse")
	}

	refuse := func(name, sealed string, aad []byte, find func(string) *Key) {
		t.Helper()
		if _, err := Open(sealed, aad, find); err != ErrOpen {
			t.Errorf("%s: Open = %v, want ErrOpen", name, err)
		}
	}
	refuse("other aad", s, []byte("purpose\x00other"), finder(k))
	refuse("no aad", s, nil, finder(k))
	refuse("unknown key", s, aad, finder(testKey(t, "s2", 1)))
	refuse("same kid, other secret", s, aad, finder(testKey(t, "s1", 2)))
	refuse("empty", "", aad, finder(k))
	refuse("not base64", "!!!", aad, finder(k))
	refuse("padded", s+"=", aad, finder(k))
	refuse("truncated", s[:len(s)-4], aad, finder(k))
	refuse("huge", strings.Repeat("A", MaxSealedLen+1), aad, finder(k))
	raw, _ := b64.DecodeString(s)
	raw[len(raw)-1] ^= 1
	refuse("tampered", b64.EncodeToString(raw), aad, finder(k))
	raw[len(raw)-1] ^= 1
	raw[0] = 2
	refuse("other version", b64.EncodeToString(raw), aad, finder(k))
	raw[0] = version
	raw[1] = 200
	refuse("kid length past the end", b64.EncodeToString(raw[:10]), aad, finder(k))
}

func TestSealRandFailure(t *testing.T) {
	k := testKey(t, "s1", 1)
	if _, err := k.Seal(bytes.NewReader(make([]byte, 5)), nil, []byte("x")); err == nil {
		t.Error("Seal succeeded with a short random source")
	}
}

func TestMAC(t *testing.T) {
	k := testKey(t, "s1", 1)
	if k.MAC("a", "bc") == k.MAC("a", "b", "c") || k.MAC("a", "x") == k.MAC("b", "x") || k.MAC("a", "x") == k.MAC("a", "x", "") {
		t.Error("MAC inputs are ambiguous")
	}
	if m1, m2 := k.MAC("a", "x"), k.MAC("a", "x"); m1 != m2 {
		t.Error("MAC not deterministic")
	}
	if k.MAC("a", "x") == testKey(t, "s1", 2).MAC("a", "x") {
		t.Error("MAC does not depend on the secret")
	}
}
