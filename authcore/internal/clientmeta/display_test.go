package clientmeta

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// UnsafeClasses are the characters DisplaySafe refuses, by class, each
// with every member or its bounds.
var unsafeClasses = map[string][]rune{
	"bidi embedding and override U+202A-U+202E": {0x202a, 0x202b, 0x202c, 0x202d, 0x202e},
	"bidi isolate U+2066-U+2069":                {0x2066, 0x2067, 0x2068, 0x2069},
	"bidi mark":                                 {0x200e, 0x200f, 0x061c},
	"C0 control":                                {0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f},
	"DEL":                                       {0x7f},
	"C1 control":                                {0x80, 0x85, 0x9b, 0x9f},
	"zero-width":                                {0x200b, 0x200c, 0x200d, 0x2060, 0xfeff},
	"other format":                              {0x00ad, 0x180e, 0x2061, 0x2064, 0x206a, 0x206f, 0xfff9, 0xfffb, 0xe0001, 0xe0041},
	"line and paragraph separator":              {0x2028, 0x2029},
	"replacement character":                     {0xfffd},
}

func TestDisplaySafe(t *testing.T) {
	for _, s := range []string{"My App", "Café Ω", "日本語 クライアント", "تطبيق", "אפליקציה", "🚀 Rocket", "a\u00a0b", "x<y>&\"'"} {
		if !DisplaySafe(s) || CheckName(s) != "" {
			t.Errorf("%q refused: %s", s, CheckName(s))
		}
	}
	for class, runes := range unsafeClasses {
		for _, r := range runes {
			for _, s := range []string{string(r), "Good" + string(r) + "Name", "Name" + string(r)} {
				if DisplaySafe(s) {
					t.Errorf("%s: %q (U+%04X) accepted", class, s, r)
				}
				if msg := CheckName(s); msg == "" {
					t.Errorf("%s: name %q accepted", class, s)
				}
			}
		}
	}
	for _, s := range []string{"\xff", "ab\xc3", "\xed\xa0\x80"} {
		if DisplaySafe(s) || !HasControl(s) {
			t.Errorf("invalid UTF-8 %q: DisplaySafe %v HasControl %v", s, DisplaySafe(s), HasControl(s))
		}
	}
}

func TestHasControl(t *testing.T) {
	for _, r := range append(append(unsafeClasses["C0 control"], unsafeClasses["C1 control"]...), 0x7f) {
		if !HasControl("a" + string(r)) {
			t.Errorf("U+%04X not a control", r)
		}
	}
	if HasControl("ann@example.com") || HasControl("Zoë \u202e") {
		t.Error("HasControl refuses more than controls")
	}
}

func TestCheckName(t *testing.T) {
	for s, want := range map[string]string{
		"":                       "empty",
		"   ":                    "empty",
		strings.Repeat("x", 100): "",
		strings.Repeat("é", 100): "",
		strings.Repeat("x", 101): "too long",
		strings.Repeat("日", 101): "too long",
		"Evil\u202Egnp.exe":      "bidirectional",
		"Pay\u200bPal":           "invisible",
		"line\nbreak":            "control",
		"\xffbad":                "UTF-8",
	} {
		got := CheckName(s)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("CheckName(%.20q) = %q, want ...%s...", s, got, want)
		}
	}
	if !DisplayString(strings.Repeat("x", MaxDisplayBytes)) || DisplayString(strings.Repeat("x", MaxDisplayBytes+1)) || DisplayString("a\u202eb") {
		t.Error("DisplayString bounds")
	}
}

// FuzzDisplaySafe: what DisplaySafe accepts is valid UTF-8 without a
// control or format character; what HasControl finds, DisplaySafe refuses.
func FuzzDisplaySafe(f *testing.F) {
	f.Add("Good\u202eName")
	f.Add("Café")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		safe := DisplaySafe(s)
		if HasControl(s) && safe {
			t.Fatalf("%q has a control but is display-safe", s)
		}
		if !safe {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q display-safe", s)
		}
		for _, r := range s {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
				t.Fatalf("%q (U+%04X) display-safe", s, r)
			}
		}
	})
}
