package authcore

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// appendJSONStringByByte is appendJSONString as it was first written, one
// byte at a time: the reference for the run-copying version.
func appendJSONStringByByte(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func checkAppendJSONString(t *testing.T, s string) {
	t.Helper()
	got := appendJSONString([]byte("x"), s)
	if want := appendJSONStringByByte([]byte("x"), s); string(got) != string(want) {
		t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
	}
	if !utf8.ValidString(s) {
		return
	}
	var back string
	if err := json.Unmarshal(got[1:], &back); err != nil || back != s {
		t.Fatalf("appendJSONString(%q) = %s reads back as %q, %v", s, got[1:], back, err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `"`, `\`, "a\"b\\c", "<script>&</script>", "\x00\x1f\x7f", "tab\there", "é€😀", "end\n", "\"start"} {
		checkAppendJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c<>&\x00\x7f", "é€😀\xff"} {
		f.Add(s)
	}
	f.Fuzz(checkAppendJSONString)
}
