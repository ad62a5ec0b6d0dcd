package authcore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// unsafeNameClasses are characters that must never reach the consent page
// in a client's name, by class (clientmeta.DisplaySafe).
var unsafeNameClasses = map[string][]string{
	"right-to-left override U+202E":     {"\u202e"},
	"bidi embeddings and overrides":     {"\u202a", "\u202b", "\u202c", "\u202d"},
	"bidi isolates U+2066-U+2069":       {"\u2066", "\u2067", "\u2068", "\u2069"},
	"bidi marks U+200E, U+200F, U+061C": {"\u200e", "\u200f", "\u061c"},
	"C0 controls":                       {"\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x1f"},
	"DEL":                               {"\x7f"},
	"C1 controls":                       {"\u0080", "\u0085", "\u009b", "\u009f"},
	"zero-width U+200B-U+200D":          {"\u200b", "\u200c", "\u200d"},
	"word joiner U+2060, BOM U+FEFF":    {"\u2060", "\ufeff"},
	"soft hyphen and other format":      {"\u00ad", "\u2061", "\U000e0041"},
	"line and paragraph separators":     {"\u2028", "\u2029"},
}

// TestUnsafeClientNameRefusedOnEveryPath: a client_name with any of the
// unsafe characters is refused by dynamic registration, in a client
// metadata document and in a pre-registered client of the configuration
// alike; a name in another script is accepted by all three.
func TestUnsafeClientNameRefusedOnEveryPath(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	paths := map[string]func(name string) error{
		"dynamic registration": func(name string) error {
			h.advance(time.Minute) // past the per-address registration limit
			r := h.register(h.e, `{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none","client_name":`+quote(name)+`}`)
			if r.Status == 201 {
				return nil
			}
			if r.Status != 400 || !strings.Contains(string(r.Body), `"error":"invalid_client_metadata"`) {
				t.Errorf("registration refused with %d %s, want 400 invalid_client_metadata", r.Status, r.Body)
			}
			return errors.New(string(r.Body))
		},
		"metadata document": func(name string) error {
			_, err := parseCIMDDocument(testDocURL, []byte(testDoc(map[string]string{"client_name": quote(name)})))
			return err
		},
		"configured client": func(name string) error {
			_, err := ParseConfig([]byte(asConfigJSON(withAS(map[string]string{"clients": `[{"client_id":"c1","client_name":` + quote(name) + `,"redirect_uris":["https://a.example/cb"]}]`}))))
			if err != nil && !strings.Contains(err.Error(), "clients[0].client_name") {
				t.Errorf("configured client refused for another reason: %v", err)
			}
			return err
		},
	}
	for path, try := range paths {
		t.Run(path, func(t *testing.T) {
			for _, name := range []string{"My App", "Café Ω", "日本語クライアント", "تطبيق", "🚀 Rocket"} {
				if err := try(name); err != nil {
					t.Errorf("%q refused: %v", name, err)
				}
			}
			for class, chars := range unsafeNameClasses {
				for _, c := range chars {
					for _, name := range []string{"Good" + c + "Name", c + "Name", "Name" + c} {
						if err := try(name); err == nil {
							t.Errorf("%s: %q accepted", class, name)
						}
					}
				}
			}
			if err := try(strings.Repeat("x", 101)); err == nil {
				t.Error("a name of 101 characters accepted")
			}
		})
	}
}

// TestDuplicateMembersRefused: registration requests and metadata
// documents go through the one strict JSON reader, so a member repeated
// under an escaped spelling or inside a nested object is refused as well.
func TestDuplicateMembersRefused(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	for _, body := range []string{
		`{"redirect_uris":["https://app.example.com/cb"],"client_name":"A","client_n\u0061me":"B"}`,
		`{"redirect_uris":["https://app.example.com/cb"],"redirect_uris":["https://evil.example/cb"]}`,
		`{"redirect_uris":["https://app.example.com/cb"],"software_statement_x":{"a":1,"a":2}}`,
	} {
		h.advance(time.Minute)
		if r := h.register(h.e, body); r.Status != 400 || !strings.Contains(string(r.Body), "more than once") {
			t.Errorf("registration of %s: %d %s", body, r.Status, r.Body)
		}
	}
	for _, members := range []map[string]string{
		{"client_name": `"A","client_n\u0061me":"B"`},
		{"jwks": `{"keys":[{"kty":"OKP","kty":"EC"}]}`, "token_endpoint_auth_method": `"private_key_jwt"`},
	} {
		if _, err := parseCIMDDocument(testDocURL, []byte(testDoc(members))); err == nil || !strings.Contains(err.Error(), "more than once") {
			t.Errorf("document with %v: %v", members, err)
		}
	}
}
