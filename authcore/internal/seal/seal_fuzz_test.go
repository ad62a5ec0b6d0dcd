package seal

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary strings to Open: nothing may panic, and nothing
// but the one value sealed here may open (the fuzzer cannot forge AES-GCM).
func FuzzOpen(f *testing.F) {
	k := testKey(f, "s1", 1)
	aad := []byte("client-id\x00https://as.example.com")
	// A fixed nonce, so that every fuzzing worker seals the same value.
	good, err := k.Seal(bytes.NewReader(make([]byte, 12)), aad, []byte(`{"r":["https://a.example/cb"]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("AQJzMQ")
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := Open(s, aad, finder(k))
		if err == nil && s != good {
			t.Fatalf("forged value opened: %q -> %q", s, plain)
		}
		if err != nil && err != ErrOpen {
			t.Fatalf("Open error %v is not ErrOpen", err)
		}
	})
}
