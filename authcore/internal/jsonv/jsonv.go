// Package jsonv reads values out of JSON texts (RFC 8259) without decoding
// them into Go values: a Result is one value, located in the text, with
// its type, raw text and, for strings and numbers, its decoded value.
// Reading is lazy: Parse looks at the first byte of the top-level value,
// and Get scans an object only until the member asked for.
//
// jsonv replaced github.com/tidwall/gjson in authcore and keeps the names
// of the part of gjson's API that authcore used. On every text ValidBytes
// accepts (which is every text gjson.ValidBytes accepts) it reads the same
// values as gjson, with these differences of API:
//
//   - Get takes one member name, compared literally with each member's
//     name after unescaping; there is no path syntax (".", "*", "?", "#",
//     "|", "@", "\" are ordinary characters of the name). Nested members
//     are read with chained calls: v.Get("params").Get("name").
//   - Get of a value that is not an object is the non-existent Result
//     (gjson reads an array element for a numeric name, and searches the
//     raw text of a string for a "{").
//   - ForEach passes the zero Result as the key of array elements (gjson
//     passes the index as a Number).
//
// On text that ValidBytes refuses, the results are unspecified but safe:
// reading never panics, stops at the first byte where the text stops being
// JSON, and takes time linear in the text it scans. Callers that read
// text from an attacker check it first, with ValidBytes or with the
// stricter strictjson.Check.
//
// Member names need not be unique in a text ValidBytes accepts (RFC 8259
// §4: "The names within an object SHOULD be unique"); Get reads the first
// member of the name, as gjson does. Callers that must not read a
// different member than another parser check the text with strictjson,
// which refuses duplicates.
package jsonv

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Type is the type of a JSON value.
type Type int

// The types of Result.Type. The zero Type is Null, so the zero Result,
// which Exists does not report, is a null without raw text.
const (
	Null Type = iota
	False
	Number
	String
	True
	JSON // an object or an array
)

// Result is one JSON value.
type Result struct {
	// Type is the value's type.
	Type Type
	// Raw is the value's JSON text. For an object or array that Parse
	// returned, it runs to the end of the text (whitespace after the value
	// included); for every other value it is exactly the value.
	Raw string
	// Str is a string's value, its escapes decoded (see unescape).
	Str string
	// Num is a number's value as strconv.ParseFloat reads its text: ±Inf
	// beyond the range of float64.
	Num float64
}

// Parse returns the top-level value of the JSON text s. It reads only the
// value's first token; an object or array is read when asked for its
// members. Text that starts with anything but a JSON value gives the
// non-existent Result.
func Parse(s string) Result {
	i := skipSpace(s, 0)
	if i == len(s) {
		return Result{}
	}
	if c := s[i]; c == '{' || c == '[' {
		return Result{Type: JSON, Raw: s[i:]}
	}
	r, _ := value(s, i)
	return r
}

// ParseBytes is Parse of a copy of data.
func ParseBytes(data []byte) Result { return Parse(string(data)) }

// GetBytes is ParseBytes(data).Get(name).
func GetBytes(data []byte, name string) Result { return ParseBytes(data).Get(name) }

// Exists reports whether t is a value: every value but the zero Result,
// a JSON null included.
func (t Result) Exists() bool { return t.Type != Null || t.Raw != "" }

// IsObject reports whether t is a JSON object.
func (t Result) IsObject() bool { return t.Type == JSON && t.Raw != "" && t.Raw[0] == '{' }

// IsArray reports whether t is a JSON array.
func (t Result) IsArray() bool { return t.Type == JSON && t.Raw != "" && t.Raw[0] == '[' }

// IsBool reports whether t is true or false.
func (t Result) IsBool() bool { return t.Type == True || t.Type == False }

// Bool is true for true, for a non-zero number and for a string that
// strconv.ParseBool reads as true once lowercased ("1", "t", "true").
func (t Result) Bool() bool {
	switch t.Type {
	case True:
		return true
	case String:
		b, _ := strconv.ParseBool(strings.ToLower(t.Str))
		return b
	case Number:
		return t.Num != 0
	}
	return false
}

// String returns a string's value, the text of a number that is a JSON
// integer (Num formatted without exponent otherwise), "true", "false",
// the raw text of an object or array, and "" for null and the
// non-existent Result.
func (t Result) String() string {
	switch t.Type {
	case False:
		return "false"
	case True:
		return "true"
	case String:
		return t.Str
	case JSON:
		return t.Raw
	case Number:
		i := 0
		if t.Raw != "" && t.Raw[0] == '-' {
			i++
		}
		for ; i < len(t.Raw); i++ {
			if t.Raw[i] < '0' || t.Raw[i] > '9' {
				return strconv.FormatFloat(t.Num, 'f', -1, 64)
			}
		}
		return t.Raw
	}
	return ""
}

// Get returns the value of the first member of the object t named name
// (compared after unescaping), or the non-existent Result when t is not
// an object or has no such member.
func (t Result) Get(name string) Result {
	if !t.IsObject() {
		return Result{}
	}
	s := t.Raw
	for i := 1; ; {
		ks, ke, vs, esc, ok := nextMember(s, i)
		if !ok {
			return Result{}
		}
		if sameName(s[ks+1:ke-1], esc, name) {
			r, _ := value(s, vs)
			return r
		}
		if i = skip(s, vs); i < 0 {
			return Result{}
		}
	}
}

// ForEach calls fn with each member of the object t (the key a String
// Result of the member name) or each element of the array t (the key the
// zero Result) in order, until fn returns false. A t that is neither is
// passed once as the value, with the zero key; the non-existent Result is
// not passed.
func (t Result) ForEach(fn func(key, value Result) bool) {
	switch {
	case !t.Exists():
	case t.IsObject():
		s := t.Raw
		for i := 1; ; {
			ks, ke, vs, esc, ok := nextMember(s, i)
			if !ok {
				return
			}
			v, end := value(s, vs)
			if end < 0 {
				return
			}
			k := Result{Type: String, Raw: s[ks:ke], Str: s[ks+1 : ke-1]}
			if esc {
				k.Str = unescape(k.Str)
			}
			if !fn(k, v) {
				return
			}
			i = end
		}
	case t.IsArray():
		s := t.Raw
		for i := 1; ; {
			vs, ok := nextElement(s, i)
			if !ok {
				return
			}
			v, end := value(s, vs)
			if end < 0 || !fn(Result{}, v) {
				return
			}
			i = end
		}
	default:
		fn(Result{}, t)
	}
}

// Members is a walk over the members of an object that parses only the
// values asked for: Next reads a member's name, Value its value, and a
// value not asked for is skipped without being read (no number parsed, no
// string unescaped). ForEach reads every value.
type Members struct {
	s       string
	i       int // where the next member starts
	vs      int // start of the current member's value
	pending bool
}

// Members starts a walk over the members of the object t; a t that is
// not an object has none.
func (t Result) Members() Members {
	if !t.IsObject() {
		return Members{i: -1}
	}
	return Members{s: t.Raw, i: 1}
}

// Next reads the next member's name (unescaped). ok is false at the end of
// the object, or where it is not JSON.
func (m *Members) Next() (name string, ok bool) {
	if m.pending {
		m.pending = false
		m.i = skip(m.s, m.vs)
	}
	if m.i < 0 {
		return "", false
	}
	ks, ke, vs, esc, ok := nextMember(m.s, m.i)
	if !ok {
		m.i = -1
		return "", false
	}
	m.vs, m.pending = vs, true
	name = m.s[ks+1 : ke-1]
	if esc {
		name = unescape(name)
	}
	return name, true
}

// Value reads the value of the member Next last returned; called twice,
// or before Next, it returns the non-existent Result.
func (m *Members) Value() Result {
	if !m.pending {
		return Result{}
	}
	m.pending = false
	r, end := value(m.s, m.vs)
	m.i = end
	return r
}

// Array returns the elements of the array t; a null or the non-existent
// Result has none, and any other value is its own only element.
func (t Result) Array() []Result {
	if t.Type == Null {
		return []Result{}
	}
	if !t.IsArray() {
		return []Result{t}
	}
	out := []Result{}
	t.ForEach(func(_, v Result) bool {
		out = append(out, v)
		return true
	})
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// nextMember reads the object member that follows offset i of s (just
// after the object's "{" or after a member's value): its name is the
// quoted string s[ks:ke], esc reports a backslash in it, and its value
// starts at vs. ok is false at the end of the object or where s is not
// JSON.
func nextMember(s string, i int) (ks, ke, vs int, esc, ok bool) {
	i = skipSpace(s, i)
	if i < len(s) && s[i] == ',' {
		i = skipSpace(s, i+1)
	}
	if i >= len(s) || s[i] != '"' {
		return 0, 0, 0, false, false
	}
	ke, esc = stringEnd(s, i)
	if ke < 0 {
		return 0, 0, 0, false, false
	}
	vs = skipSpace(s, ke)
	if vs >= len(s) || s[vs] != ':' {
		return 0, 0, 0, false, false
	}
	vs = skipSpace(s, vs+1)
	return i, ke, vs, esc, vs < len(s)
}

// nextElement returns the start of the array element that follows offset
// i of s (just after the array's "[" or after an element); ok is false at
// the end of the array or where s is not JSON.
func nextElement(s string, i int) (vs int, ok bool) {
	i = skipSpace(s, i)
	if i < len(s) && s[i] == ',' {
		i = skipSpace(s, i+1)
	}
	return i, i < len(s) && s[i] != ']'
}

// value reads the value that starts at s[i] and returns it with the offset
// just after it; end is -1 where s is not JSON.
func value(s string, i int) (r Result, end int) {
	switch c := s[i]; {
	case c == '"':
		end, esc := stringEnd(s, i)
		if end < 0 {
			return Result{}, -1
		}
		r = Result{Type: String, Raw: s[i:end], Str: s[i+1 : end-1]}
		if esc {
			r.Str = unescape(r.Str)
		}
		return r, end
	case c == '{' || c == '[':
		end := containerEnd(s, i)
		if end < 0 {
			return Result{}, -1
		}
		return Result{Type: JSON, Raw: s[i:end]}, end
	case c == 't' || c == 'f' || c == 'n':
		end := i + 1
		for end < len(s) && s[end] >= 'a' && s[end] <= 'z' {
			end++
		}
		r = Result{Type: Null, Raw: s[i:end]}
		switch c {
		case 't':
			r.Type = True
		case 'f':
			r.Type = False
		}
		return r, end
	case c == '-' || c >= '0' && c <= '9':
		end := tokenEnd(s, i)
		r = Result{Type: Number, Raw: s[i:end]}
		r.Num, _ = strconv.ParseFloat(r.Raw, 64)
		return r, end
	}
	return Result{}, -1
}

// skip returns the offset just after the value that starts at s[i], or -1
// where s is not JSON; it is value without building the Result.
func skip(s string, i int) int {
	switch c := s[i]; {
	case c == '"':
		end, _ := stringEnd(s, i)
		return end
	case c == '{' || c == '[':
		return containerEnd(s, i)
	case c >= 'a' && c <= 'z' || c == '-' || c >= '0' && c <= '9':
		return tokenEnd(s, i)
	}
	return -1
}

// tokenEnd returns the end of the literal or number at s[i]: the first
// whitespace, ",", "]" or "}" after it, or the end of s.
func tokenEnd(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', ',', ']', '}':
			return i
		}
	}
	return i
}

// stringEnd returns the offset just after the closing quote of the string
// whose opening quote is s[i], or -1 when it is not closed; esc reports a
// backslash inside.
func stringEnd(s string, i int) (end int, esc bool) {
	for i++; i < len(s); i++ {
		if stops[s[i]]&inString == 0 {
			continue
		}
		if s[i] == '"' {
			return i + 1, esc
		}
		esc = true
		i++
	}
	return -1, esc
}

// containerEnd returns the offset just after the object or array whose
// opening bracket is s[i], or -1 when it is not closed. Brackets inside
// strings do not count.
func containerEnd(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case stops[c]&inContainer == 0:
		case c == '"':
			end, _ := stringEnd(s, i)
			if end < 0 {
				return -1
			}
			i = end - 1
		case c == '{' || c == '[':
			depth++
		default: // '}', ']'
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// stops marks the bytes that end a run of uninteresting ones inside a
// string (inString) and between the strings of an object or array
// (inContainer).
var stops = [256]uint8{
	'"':  inString | inContainer,
	'\\': inString,
	'{':  inContainer, '[': inContainer, '}': inContainer, ']': inContainer,
}

const (
	inString = 1 << iota
	inContainer
)

// sameName reports whether the contents raw of a quoted member name (esc:
// with escapes) equal name once unescaped.
func sameName(raw string, esc bool, name string) bool {
	if !esc {
		return raw == name
	}
	// Unescaping never lengthens a string.
	return len(name) <= len(raw) && unescape(raw) == name
}

// unescape decodes the escapes of the contents of a JSON string (RFC 8259
// §7). A \u escape of a high surrogate directly followed by a \u escape of
// a low one is one supplementary character (RFC 8259 §7: "a string
// containing only the G clef character (U+1D11E) may be represented as
// "\uD834\uDD1E""); any other escaped surrogate is U+FFFD. That is how
// gjson and encoding/json read the lone surrogates that ValidBytes, like
// gjson, accepts (strictjson refuses them). Decoding stops at a malformed
// escape, which a text ValidBytes accepts does not have.
func unescape(raw string) string {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i++; i == len(raw) {
			break
		}
		switch raw[i] {
		case '"', '\\', '/':
			b = append(b, raw[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(raw, i+1)
			if !ok {
				return string(b)
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, _ := hex4(raw, i+3); lo >= 0xDC00 && lo < 0xE000 {
					r = utf16.DecodeRune(r, lo)
					i += 6
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return string(b)
		}
	}
	return string(b)
}

// hex4 reads the 4 hexadecimal digits at s[i:]; ok is false (and r 0)
// when there are not 4.
func hex4(s string, i int) (r rune, ok bool) {
	if i+4 > len(s) {
		return 0, false
	}
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
