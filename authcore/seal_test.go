package authcore

import (
	"github.com/mcpgate/mcpgate/authcore/internal/seal"
	"strings"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	e := h.e
	s, err := e.seal(sealClientID, "", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(s, "https://") || strings.ContainsAny(s, "+/=:") {
		t.Errorf("sealed value %q is not plain base64url", s)
	}
	plain, k, err := e.unseal(sealClientID, "", s)
	if err != nil || string(plain) != "hello" || k.ID != "s1" {
		t.Fatalf("unseal = %q %v %v", plain, k, err)
	}
	s2, _ := e.seal(sealClientID, "", []byte("hello"))
	if s2 == s {
		t.Errorf("two seals of the same value are equal: nonce reuse")
	}

	refuse := func(name, purpose, context, sealed string, eng *Engine) {
		t.Helper()
		if _, _, err := eng.unseal(purpose, context, sealed); err != errUnseal {
			t.Errorf("%s: unseal = %v, want errUnseal", name, err)
		}
	}
	refuse("other purpose", sealUpstreamState, "", s, e)
	refuse("other context", sealClientID, "x", s, e)
	refuse("empty", sealClientID, "", "", e)
	refuse("not base64", sealClientID, "", "!!!", e)
	refuse("truncated", sealClientID, "", s[:len(s)-4], e)
	raw, _ := b64.DecodeString(s)
	raw[len(raw)-1] ^= 1
	refuse("tampered", sealClientID, "", b64.EncodeToString(raw), e)
	raw[len(raw)-1] ^= 1
	raw[0] = 2
	refuse("other version", sealClientID, "", b64.EncodeToString(raw), e)
	refuse("huge", sealClientID, "", strings.Repeat("A", seal.MaxSealedLen+1), e)

	// Another issuer with the very same key cannot open it.
	other := newHarness(t, asConfigJSON(map[string]string{
		"issuer":    `"https://other.example.com"`,
		"resources": `[{"resource":"https://other.example.com/mcp","scopes":["mcp:tools"]}]`,
	}))
	refuse("other issuer, same key", sealClientID, "", s, other.e)
	// The same issuer with another key cannot either.
	rekeyed := newHarness(t, asConfigJSON(withAS(map[string]string{"sealing_keys": `[{"id":"s1","secret":"` + sealSecretB + `"}]`})))
	refuse("same kid, other secret", sealClientID, "", s, rekeyed.e)
}

func TestSealKeyRotation(t *testing.T) {
	old := newHarness(t, asConfigJSON(nil))
	s, _ := old.e.seal(sealClientID, "", []byte("v"))
	// s2 becomes active; s1 still opens.
	rotated := newHarness(t, asConfigJSON(withAS(map[string]string{"sealing_keys": `[{"id":"s2","secret":"` + sealSecretB + `"},{"id":"s1","secret":"` + sealSecretA + `"}]`})))
	if _, k, err := rotated.e.unseal(sealClientID, "", s); err != nil || k.ID != "s1" {
		t.Fatalf("retired key does not open: %v", err)
	}
	s2, _ := rotated.e.seal(sealClientID, "", []byte("v"))
	if _, k, _ := rotated.e.unseal(sealClientID, "", s2); k == nil || k.ID != "s2" {
		t.Errorf("new values not sealed with the first key")
	}
	// Dropping s1 retires what it sealed.
	dropped := newHarness(t, asConfigJSON(withAS(map[string]string{"sealing_keys": `[{"id":"s2","secret":"` + sealSecretB + `"}]`})))
	if _, _, err := dropped.e.unseal(sealClientID, "", s); err == nil {
		t.Errorf("removed key still opens")
	}
}

func TestMacString(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	k := h.e.cfg.AS.SealingKeys[0]
	if k.macString("a", "bc") == k.macString("a", "b", "c") || k.macString("a", "x") == k.macString("b", "x") {
		t.Errorf("MAC inputs are ambiguous")
	}
	if m1, m2 := k.macString("a", "x"), k.macString("a", "x"); m1 != m2 {
		t.Errorf("MAC not deterministic")
	}
}
