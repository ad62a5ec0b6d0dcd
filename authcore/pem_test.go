package authcore

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"
)

func FuzzDecodePEM(f *testing.F) {
	der := []byte{0x30, 0x03, 0x02, 0x01, 0x07}
	one := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	f.Add(one)
	f.Add("junk before\n" + one + "\n")
	f.Add(strings.ReplaceAll(one, "\n", "\r\n"))
	f.Add(one + one)
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})))
	f.Add("-----BEGIN X-----\n-----END X-----")
	f.Add("-----BEGIN X-----\r \nMAMCAQc=\n-----END X----- \t\n")
	f.Add("-----BEGIN X-----\nMAM CAQc=\n-----END Y-----\n")
	f.Add("x-----BEGIN X-----\nMAMCAQc=\n-----END X-----\n")
	f.Fuzz(func(t *testing.T, s string) {
		typ, got, err := decodePEM(s)
		block, rest := pem.Decode([]byte(s))
		if err == nil {
			// What decodePEM reads, encoding/pem reads the same.
			if block == nil || block.Type != typ || !bytes.Equal(block.Bytes, got) || len(block.Headers) != 0 {
				t.Fatalf("decodePEM(%q) = %q, %x; pem.Decode = %+v", s, typ, got, block)
			}
			return
		}
		// One block encoding/pem reads, without headers and with no other
		// BEGIN line, decodePEM reads too.
		if block != nil && len(block.Headers) == 0 && strings.Count(s, "-----BEGIN ") == 1 && !bytes.Contains(rest, []byte("-----BEGIN ")) {
			t.Fatalf("decodePEM(%q): %v; pem.Decode read %+v", s, err, block)
		}
	})
}

// TestDecodePEMRefuses: what the configuration cannot use is refused with
// its reason, not read in part.
func TestDecodePEMRefuses(t *testing.T) {
	der := []byte{0x30, 0x03, 0x02, 0x01, 0x07}
	one := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for in, want := range map[string]string{
		"":                "no PEM block found",
		"MAMCAQc=":        "no PEM block found",
		one + one:         "more than one PEM block",
		one[:len(one)-20]: "has no END line",
		strings.Replace(one, "-----END PUBLIC KEY", "-----END PRIVATE KEY", 1):                                                             "does not match",
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})): "headers are not supported",
		"-----BEGIN PUBLIC KEY-----\nMAMCAQc\n-----END PUBLIC KEY-----\n":                                                                  "not valid base64",
		"-----BEGIN PUBLIC KEY\nMAMCAQc=\n-----END PUBLIC KEY-----\n":                                                                      "malformed PEM BEGIN line",
	} {
		if _, _, err := decodePEM(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decodePEM(%q) = %v, want an error with %q", in, err, want)
		}
	}
	typ, got, err := decodePEM("Bag Attributes\n" + strings.ReplaceAll(one, "\n", "\r\n"))
	if err != nil || typ != "PUBLIC KEY" || !bytes.Equal(got, der) {
		t.Errorf("decodePEM of a CRLF block after text = %q, %x, %v", typ, got, err)
	}
}
