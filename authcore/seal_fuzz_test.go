package authcore

import (
	"testing"
)

// FuzzUnseal feeds arbitrary strings to everything that opens a value
// mcpgate handed out: sealed values, dynamically registered client ids,
// refresh tokens, Basic credentials and cookies. Nothing may panic, and
// nothing forged may open.
func FuzzUnseal(f *testing.F) {
	h := fuzzHarness(f)
	good, _ := h.e.seal(sealClientID, "", []byte(`{"r":["https://a.example/cb"],"g":["authorization_code"],"m":"none","t":"web","i":1}`))
	f.Add(good)
	f.Add(dcrPrefix + good)
	f.Add("AQJzMQ")
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		for _, purpose := range []string{sealClientID, sealUpstreamState, sealSuccessor} {
			if plain, _, err := h.e.unseal(purpose, "", s); err == nil && s != good {
				// Only a value sealed here opens; the fuzzer cannot forge
				// AES-GCM, so an opening input must be a known seal.
				if purpose != sealClientID || string(plain) == "" {
					t.Fatalf("forged value opened for %s: %q", purpose, s)
				}
			}
		}
		if c, err := h.e.openClientID(s); err == nil && c == nil {
			t.Fatal("nil client without error")
		}
		parseRefreshToken(s)
		parseBasicAuth(s)
		parseBasicAuth("Basic " + s)
		readCookie(Header{{"cookie", s}}, "__Host-mcpgate-browser")
		_, _ = parseForm(s)
		parseScope(s)
		_, _ = h.e.cfg.resolveResourceParam(s)
	})
}
