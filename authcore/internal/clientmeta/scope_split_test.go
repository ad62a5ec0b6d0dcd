package clientmeta

import (
	"slices"
	"strings"
	"testing"
)

// TestSplitScope: spaces delimit, in runs and at either end, as
// strings.Fields reads them; no other byte does.
func TestSplitScope(t *testing.T) {
	for in, want := range map[string][]string{
		"":                 {},
		"   ":              {},
		"read":             {"read"},
		" read  write ":    {"read", "write"},
		"read\twrite":      {"read\twrite"},
		"read\u00a0admin":  {"read\u00a0admin"},
		"a\nb c":           {"a\nb", "c"},
		"tools:call  read": {"tools:call", "read"},
	} {
		got := SplitScope(in)
		if got == nil || !slices.Equal(got, want) {
			t.Errorf("SplitScope(%q) = %#v, want %#v", in, got, want)
		}
	}
}

// FuzzSplitScope: on text whose only whitespace is the space, SplitScope
// and strings.Fields agree.
func FuzzSplitScope(f *testing.F) {
	f.Add(" a  b c ")
	f.Fuzz(func(t *testing.T, s string) {
		got := SplitScope(s)
		if strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && strings.TrimSpace(string(r)) == "" }) {
			for _, tok := range got {
				if tok == "" || strings.Contains(tok, " ") {
					t.Fatalf("SplitScope(%q) = %q", s, got)
				}
			}
			return
		}
		if want := strings.Fields(s); !slices.Equal(got, want) {
			t.Fatalf("SplitScope(%q) = %q, strings.Fields %q", s, got, want)
		}
	})
}
