package authcore

import (
	"strings"
	"unicode"
)

// parseMediaType returns the lower-cased media type of a Content-Type
// value and whether the value is well formed, with the verdicts of
// mime.ParseMediaType (whose other results the engine does not need, and
// which would link fmt and the MIME tables into the filter): a type, or a
// type/subtype, of RFC 2045 token characters, then parameters
// "; name=value" whose value is a token or a quoted string (a backslash
// escapes a tspecial only, CR and LF end it in error), a trailing ";"
// allowed, and a name repeated only with the same value.
func parseMediaType(v string) (mediatype string, ok bool) {
	base, _, _ := strings.Cut(v, ";")
	mediatype = strings.TrimSpace(strings.ToLower(base))
	typ, rest := consumeToken(mediatype)
	switch {
	case typ == "":
		return "", false
	case rest != "":
		after, slash := strings.CutPrefix(rest, "/")
		sub, rest := consumeToken(after)
		if !slash || sub == "" || rest != "" {
			return "", false
		}
	}
	var seen [][2]string
	for v = v[len(base):]; ; {
		v = strings.TrimLeftFunc(v, unicode.IsSpace)
		if v == "" {
			return mediatype, true
		}
		key, value, rest := consumeMediaParam(v)
		if key == "" {
			return mediatype, strings.TrimSpace(rest) == ";"
		}
		for _, kv := range seen {
			if kv[0] == key && kv[1] != value {
				return "", false
			}
		}
		seen = append(seen, [2]string{key, value})
		v = rest
	}
}

// consumeMediaParam reads "; name=value" at the start of v (after spaces),
// the name lower-cased; key is "" and rest is v when there is none.
func consumeMediaParam(v string) (key, value, rest string) {
	rest, ok := strings.CutPrefix(strings.TrimLeftFunc(v, unicode.IsSpace), ";")
	if !ok {
		return "", "", v
	}
	key, rest = consumeToken(strings.TrimLeftFunc(rest, unicode.IsSpace))
	key = strings.ToLower(key)
	if key == "" {
		return "", "", v
	}
	if rest, ok = strings.CutPrefix(strings.TrimLeftFunc(rest, unicode.IsSpace), "="); !ok {
		return "", "", v
	}
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	value, after := consumeValue(rest)
	if value == "" && after == rest {
		return "", "", v
	}
	return key, value, after
}

// consumeValue reads a token or a quoted string at the start of v; value is
// "" and rest is v when there is neither.
func consumeValue(v string) (value, rest string) {
	if v == "" || v[0] != '"' {
		return consumeToken(v)
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return b.String(), v[i+1:]
		case c == '\\' && i+1 < len(v) && isTSpecial(v[i+1]):
			b.WriteByte(v[i+1])
			i++
		case c == '\r' || c == '\n':
			return "", v
		default:
			b.WriteByte(c)
		}
	}
	return "", v
}

// consumeToken splits v after its leading RFC 2045 token characters.
func consumeToken(v string) (token, rest string) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || isTSpecial(c) {
			return v[:i], v[i:]
		}
	}
	return v, ""
}

// isTSpecial reports whether c is one of RFC 2045's tspecials.
func isTSpecial(c byte) bool { return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 }
