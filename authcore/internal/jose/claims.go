package jose

import (
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// maxNumericDate bounds NumericDate values (about year 36812): far beyond
// any real token, and small enough for exact float64 and time.Time.
const maxNumericDate = 1 << 40

// String reads the string claim name: ok is false when it is absent or not
// a JSON string.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func String(claims jsonv.Result, name string) (s string, ok bool) {
	v := claims.Get(name)
	if v.Type != jsonv.String {
		return "", false
	}
	return v.Str, true
}

// Audience reads "aud", a string or an array of strings (RFC 7519 §4.1.3:
// "In the general case, the "aud" value is an array of case-sensitive
// strings ... In the special case when the JWT has one audience, the "aud"
// value MAY be a single case-sensitive string"). aud is nil when the claim
// is absent; ok is false when it is malformed.
func Audience(claims jsonv.Result) (aud []string, ok bool) {
	switch v := claims.Get("aud"); {
	case !v.Exists():
		return nil, true
	case v.Type == jsonv.String:
		return []string{v.Str}, true
	case v.IsArray():
		ok = true
		v.ForEach(func(_, a jsonv.Result) bool {
			if a.Type != jsonv.String {
				ok = false
				return false
			}
			aud = append(aud, a.Str)
			return true
		})
		if !ok {
			return nil, false
		}
		return aud, true
	}
	return nil, false
}

// NumericDate reads the NumericDate claim name (RFC 7519 §2: "the number of
// seconds from 1970-01-01T00:00:00Z UTC until the specified UTC date/time,
// ignoring leap seconds"), a non-negative JSON number; fractions are
// truncated. present reports whether the claim exists at all, ok whether
// it is a valid NumericDate.
func NumericDate(claims jsonv.Result, name string) (t time.Time, present, ok bool) {
	v := claims.Get(name)
	if !v.Exists() {
		return time.Time{}, false, false
	}
	if v.Type != jsonv.Number || v.Num < 0 || v.Num > maxNumericDate {
		return time.Time{}, true, false
	}
	return time.Unix(int64(v.Num), 0), true, true
}
