// Package jsonw writes JSON byte for byte as encoding/json's Marshal and
// MarshalIndent do for the shapes authcore encodes (objects of strings,
// integers, booleans, string arrays, string-keyed maps and raw JSON
// values), without reflection, so the filter does not link encoding/json.
package jsonw

import (
	"strconv"
	"unicode/utf8"

	"github.com/mcpgate/mcpgate/authcore/internal/heapsort"
)

const hex = "0123456789abcdef"

// String appends s as a JSON string the way encoding/json does: ", \ and
// control characters escaped (\b \f \n \r \t by name, the others as
// \u00XX), <, > and & as \u003c \u003e \u0026, U+2028 and U+2029 as
// \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Strings appends a string array; a nil slice is null, as encoding/json
// writes it.
func Strings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, s)
	}
	return append(b, ']')
}

// Raw appends the valid JSON value v as encoding/json writes a
// json.RawMessage: without insignificant white space, with <, >, & and
// U+2028, U+2029 escaped as in String; a nil v is null. (encoding/json
// fails on an invalid value; v must be valid.)
func Raw(b []byte, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	inString := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c == 0xe2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xa8:
			b = append(b, '\\', 'u', '2', '0', '2', hex[v[i+2]&0xf])
			i += 2
		case inString:
			b = append(b, c)
			if c == '\\' && i+1 < len(v) {
				i++
				b = append(b, v[i])
			} else if c == '"' {
				inString = false
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			b = append(b, c)
			inString = c == '"'
		}
	}
	return b
}

// Object writes a JSON object member by member, in the order of the
// calls (a struct's field order; Map sorts a map's keys as encoding/json
// does). The Omit methods leave a member out as the omitempty option does.
type Object struct {
	B []byte
	n int
}

// Key writes the separator and the member name; the caller appends the
// value to B.
func (o *Object) Key(name string) {
	if o.n == 0 {
		o.B = append(o.B, '{')
	} else {
		o.B = append(o.B, ',')
	}
	o.n++
	o.B = String(o.B, name)
	o.B = append(o.B, ':')
}

// End closes the object and returns the bytes written.
func (o *Object) End() []byte {
	if o.n == 0 {
		o.B = append(o.B, '{')
	}
	return append(o.B, '}')
}

// String writes a string member.
func (o *Object) String(name, v string) { o.Key(name); o.B = String(o.B, v) }

// Int writes an integer member.
func (o *Object) Int(name string, v int64) { o.Key(name); o.B = Int(o.B, v) }

// Bool writes a boolean member.
func (o *Object) Bool(name string, v bool) { o.Key(name); o.B = strconv.AppendBool(o.B, v) }

// Strings writes a string array member (null for a nil slice).
func (o *Object) Strings(name string, v []string) { o.Key(name); o.B = Strings(o.B, v) }

// OmitString writes the member unless v is "". OmitInt, OmitBool and
// OmitStrings do the same for 0, false and an empty or nil slice, as
// encoding/json's omitempty.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (o *Object) OmitString(name, v string) {
	if v != "" {
		o.String(name, v)
	}
}

// OmitInt writes the member unless v is 0.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (o *Object) OmitInt(name string, v int64) {
	if v != 0 {
		o.Int(name, v)
	}
}

// OmitBool writes the member unless v is false.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (o *Object) OmitBool(name string, v bool) {
	if v {
		o.Bool(name, v)
	}
}

// OmitStrings writes the member unless v is empty or nil.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (o *Object) OmitStrings(name string, v []string) {
	if len(v) > 0 {
		o.Strings(name, v)
	}
}

// Map appends m with its keys sorted, each value written by value; a nil
// map is null.
func Map[V any](b []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	heapsort.Strings(keys)
	o := Object{B: b}
	for _, k := range keys {
		o.Key(k)
		o.B = value(o.B, m[k])
	}
	return o.End()
}

// Int appends v as a JSON number.
func Int(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// Indent re-formats the compact JSON value src as encoding/json's
// MarshalIndent(v, "", indent) does: one member or element a line, ": "
// after names, empty objects and arrays kept as {} and [].
func Indent(src []byte, indent string) []byte {
	b := make([]byte, 0, 2*len(src))
	depth, inString, open := 0, false, false
	newline := func() {
		b = append(b, '\n')
		for range depth {
			b = append(b, indent...)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if open && c != '}' && c != ']' {
			open = false
			depth++
			newline()
		}
		if inString {
			b = append(b, c)
			if c == '\\' {
				i++
				b = append(b, src[i])
			} else if c == '"' {
				inString = false
			}
			continue
		}
		switch c {
		case '{', '[':
			open = true
			b = append(b, c)
		case ',':
			b = append(b, c)
			newline()
		case ':':
			b = append(b, c, ' ')
		case '}', ']':
			if open {
				open = false
			} else {
				depth--
				newline()
			}
			b = append(b, c)
		case '"':
			inString = true
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return b
}
