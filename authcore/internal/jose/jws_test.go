package jose

import (
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

func enc(s string) string { return b64.EncodeToString([]byte(s)) }

func TestParse(t *testing.T) {
	good := signed(ES256, `{"alg":"ES256","kid":"k1","typ":"JWT"}`, `{"sub":"a"}`)
	tok, err := Parse(good, 8192, []string{ES256})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Alg != ES256 || tok.Kid != "k1" || tok.Typ != "JWT" || string(tok.Payload) != `{"sub":"a"}` ||
		string(tok.SigningInput) != good[:strings.LastIndexByte(good, '.')] || len(tok.Signature) != 64 {
		t.Fatalf("parsed %+v", tok)
	}
	if Verify(tok.Alg, ours(loadKeys().es256.Public()), tok.SigningInput, tok.Signature) != nil {
		t.Fatal("does not verify")
	}
	parts := strings.Split(good, ".")
	withHeader := func(h string) string { return enc(h) + "." + parts[1] + "." + parts[2] }
	for name, s := range map[string]string{
		"alg none":              withHeader(`{"alg":"none"}`),
		"alg not allowed":       withHeader(`{"alg":"RS256"}`),
		"alg missing":           withHeader(`{"kid":"k1"}`),
		"alg not a string":      withHeader(`{"alg":["ES256"]}`),
		"alg twice":             withHeader(`{"alg":"ES256","alg":"none"}`),
		"alg twice, escaped":    withHeader(`{"alg":"ES256","al\u0067":"none"}`),
		"crit":                  withHeader(`{"alg":"ES256","crit":["exp"]}`),
		"crit empty":            withHeader(`{"alg":"ES256","crit":[]}`),
		"kid not a string":      withHeader(`{"alg":"ES256","kid":1}`),
		"typ not a string":      withHeader(`{"alg":"ES256","typ":null}`),
		"header array":          withHeader(`["alg","ES256"]`),
		"header not JSON":       withHeader(`{"alg":"ES256"`),
		"header too long":       withHeader(`{"alg":"ES256","x":"` + strings.Repeat("x", maxHeaderLen) + `"}`),
		"padding":               parts[0] + "=." + parts[1] + "." + parts[2],
		"standard alphabet":     parts[0] + "." + parts[1] + ".+/" + parts[2][2:],
		"non-canonical bits":    parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + nonCanonical(parts[2]),
		"two parts":             parts[0] + "." + parts[1],
		"four parts":            good + ".x",
		"empty signature":       parts[0] + "." + parts[1] + ".",
		"space":                 " " + good,
		"too long":              good + strings.Repeat("A", 8192),
		"nested too deep":       withHeader(`{"alg":"ES256","x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`),
		"duplicate nested":      withHeader(`{"alg":"ES256","x":{"a":1,"a":2}}`),
		"lone surrogate":        withHeader(`{"alg":"ES256","kid":"\ud800"}`),
		"invalid UTF-8":         withHeader("{\"alg\":\"ES256\",\"kid\":\"\xff\"}"),
		"invalid payload chars": parts[0] + ".e30*." + parts[2],
	} {
		if tok, err := Parse(s, 8192, []string{ES256}); err == nil {
			t.Errorf("%s: parsed %+v", name, tok)
		}
	}
	// The payload is not read by Parse; Claims requires an object with
	// unique members.
	for payload, ok := range map[string]bool{`{"sub":"a"}`: true, `[]`: false, `{"sub":"a","sub":"b"}`: false, `x`: false, `{"a":{"a":1,"a":2}}`: false} {
		tok, err := Parse(parts[0]+"."+enc(payload)+"."+parts[2], 8192, []string{ES256})
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		if _, err := tok.Claims(); (err == nil) != ok {
			t.Errorf("claims %s: %v", payload, err)
		}
	}
}

// nonCanonical returns the last character of s with non-zero unused bits,
// when s's length leaves unused bits.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return string(alphabet[i|1])
}

func TestClaimReaders(t *testing.T) {
	c := jsonv.Parse(`{"s":"x","n":5,"aud1":"a","t":1700000000.9,"neg":-1,"big":1e300,"ts":"1"}`)
	if s, ok := String(c, "s"); !ok || s != "x" {
		t.Error("string")
	}
	if _, ok := String(c, "n"); ok {
		t.Error("number read as string")
	}
	for raw, want := range map[string]string{
		`{}`: "<nil> true", `{"aud":"a"}`: "[a] true", `{"aud":["a","b"]}`: "[a b] true", `{"aud":[]}`: "<nil> true",
		`{"aud":["a",1]}`: "<nil> false", `{"aud":1}`: "<nil> false", `{"aud":null}`: "<nil> false",
	} {
		aud, ok := Audience(jsonv.Parse(raw))
		got := "<nil>"
		if aud != nil {
			got = "[" + strings.Join(aud, " ") + "]"
		}
		if got += " " + map[bool]string{true: "true", false: "false"}[ok]; got != want {
			t.Errorf("Audience(%s) = %s, want %s", raw, got, want)
		}
	}
	if tm, present, ok := NumericDate(c, "t"); !present || !ok || !tm.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("NumericDate: %v %v %v", tm, present, ok)
	}
	for _, name := range []string{"neg", "big", "ts"} {
		if _, present, ok := NumericDate(c, name); !present || ok {
			t.Errorf("%s: present %v ok %v", name, present, ok)
		}
	}
	if _, present, _ := NumericDate(c, "absent"); present {
		t.Error("absent claim present")
	}
}

// FuzzParse: any string parses or fails without panicking; what parses
// has an allowed alg, canonical base64url parts and re-serializes to the
// same text.
func FuzzParse(f *testing.F) {
	f.Add(signed(ES256, `{"alg":"ES256","kid":"k"}`, `{"sub":"a"}`))
	f.Add(signed(EdDSA, `{"alg":"EdDSA"}`, `{}`))
	f.Add(enc(`{"alg":"none"}`) + "." + enc(`{}`) + ".")
	f.Add("a.b.c")
	f.Add("")
	algs := []string{ES256, EdDSA, RS256}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s, 4096, algs)
		if err != nil {
			return
		}
		if !contains(algs, tok.Alg) || len(tok.Signature) == 0 || tok.Header.Get("crit").Exists() {
			t.Fatalf("parsed %q into %+v", s, tok)
		}
		if again := string(tok.SigningInput) + "." + b64.EncodeToString(tok.Signature); again != s {
			t.Fatalf("%q re-serializes as %q", s, again)
		}
		if enc(string(tok.Payload)) != strings.Split(s, ".")[1] {
			t.Fatalf("payload of %q is not canonical", s)
		}
		_, _ = tok.Claims() // must not panic
	})
}
