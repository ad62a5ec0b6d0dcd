package clientmeta

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds client_name, in characters: the consent page shows it
// in a heading.
const MaxNameLen = 100

// MaxDisplayBytes bounds the other display strings (contacts, software_id,
// software_version).
const MaxDisplayBytes = 256

// DisplaySafe reports whether s may be shown to a user as it is: valid
// UTF-8 and none of
//   - control characters (Unicode category Cc: C0, DEL, C1);
//   - format characters (category Cf), among them the bidirectional
//     embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069
//     and the marks U+200E, U+200F and U+061C, which can reorder what the
//     user reads ("Trojan Source", CVE-2021-42574), and the zero-width
//     U+200B-U+200D, U+2060 and U+FEFF, which can hide a difference
//     between two names that look the same;
//   - the line and paragraph separators U+2028 and U+2029;
//   - U+FFFD, which stands for bytes that were not text.
//
// This is the one definition of what mcpgate shows on its pages that a
// client chose.
func DisplaySafe(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r == '\u2028', r == '\u2029':
			return false
		case r < 0x80:
			if r < 0x20 || r == 0x7f {
				return false
			}
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r):
			return false
		}
	}
	return true
}

// HasControl reports whether s contains a control character (C0, DEL or
// C1) or is not valid UTF-8: the test for values that are logged or passed
// on in headers but not shown as names (a user's subject).
func HasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// CheckName checks a client_name (RFC 7591 §2: "Human-readable string name
// of the client to be presented to the end-user during authorization"): not
// blank, at most MaxNameLen characters, and DisplaySafe. It returns "" or
// what is wrong.
func CheckName(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "client_name must not be empty"
	case !utf8.ValidString(s):
		return "client_name is not valid UTF-8"
	case utf8.RuneCountInString(s) > MaxNameLen:
		return "client_name is too long: at most 100 characters"
	case !DisplaySafe(s):
		return "client_name contains control, invisible or bidirectional formatting characters"
	}
	return ""
}

// DisplayString reports whether s is acceptable as another display string
// (contacts, software_id, software_version): at most MaxDisplayBytes bytes
// and DisplaySafe.
func DisplayString(s string) bool {
	return len(s) <= MaxDisplayBytes && DisplaySafe(s)
}
