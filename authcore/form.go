package authcore

import (
	"errors"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"

	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// form is a parsed application/x-www-form-urlencoded body or query string
// in which every parameter appears at most once.
type form map[string]string

// Limits of what parseForm accepts.
const (
	maxFormParams = 64
	maxFormLen    = 16 << 10
)

// errDuplicateParam is wrapped by parseForm when a name repeats.
var errDuplicateParam = errors.New("duplicate parameter")

// formError says why a form was refused; Param names a repeated parameter.
type formError struct {
	_     [0]func() // not comparable: no equality function in the wasm module
	Param string
	Err   error
}

func (e *formError) Error() string {
	if e.Param != "" {
		return e.Err.Error() + " " + e.Param
	}
	return e.Err.Error()
}

func (e *formError) Unwrap() error { return e.Err }

// parseForm decodes s (a query string or a form body, "+" meaning space).
// Unlike url.ParseQuery it refuses a repeated parameter name, since "request
// and response parameters MUST NOT be included more than once" (O21 §3.1,
// §3.2), and refuses any malformed escape instead of dropping the pair.
//
// On a repeated name it returns the form with the first value of each name
// and a *formError naming the first repeated parameter, so that the caller
// can decide whether the error may be redirected; any other error returns a
// nil form.
//
// A parameter sent without a value is treated as omitted (O21 §3.1:
// "Parameters sent without a value MUST be treated as if they were omitted
// from the request"); it still counts when looking for repetitions.
func parseForm(s string) (form, error) {
	if len(s) > maxFormLen {
		return nil, &formError{Err: errors.New("too long")}
	}
	f := form{}
	seen := map[string]bool{}
	var dup string
	for part := range strings.SplitSeq(s, "&") {
		if part == "" {
			continue
		}
		if len(seen) >= maxFormParams {
			return nil, &formError{Err: errors.New("too many parameters")}
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := uri.QueryUnescape(k)
		val, err2 := uri.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, &formError{Err: errors.New("malformed percent-encoding")}
		}
		if key == "" {
			continue
		}
		if seen[key] {
			if dup == "" {
				dup = key
			}
			continue
		}
		seen[key] = true
		if val != "" {
			f[key] = val
		}
	}
	if dup != "" {
		return f, &formError{Param: dup, Err: errDuplicateParam}
	}
	return f, nil
}

// isFormContentType reports whether a Content-Type is
// application/x-www-form-urlencoded, whatever its parameters.
func isFormContentType(ct string) bool {
	mt, ok := parseMediaType(ct)
	return ok && mt == "application/x-www-form-urlencoded"
}

// isJSONContentType reports whether a Content-Type is application/json.
func isJSONContentType(ct string) bool {
	mt, ok := parseMediaType(ct)
	return ok && mt == "application/json"
}

// parseScope splits a scope parameter into unique scope tokens
// (clientmeta.ParseScope, RFC 6749 §3.3).
func parseScope(s string) (scopes []string, ok bool) { return clientmeta.ParseScope(s) }

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3
// (clientmeta.ValidScopeToken).
func validScopeToken(s string) bool { return clientmeta.ValidScopeToken(s) }

// appendQuery adds params, percent-encoded, to the query of base, keeping
// whatever query base already has (O21 §4.1.2: the redirect URI "MAY include
// a query component, which MUST be retained when adding additional query
// parameters").
func appendQuery(base string, params [][2]string) string {
	var b strings.Builder
	b.WriteString(base)
	sep := byte('?')
	if strings.IndexByte(base, '?') >= 0 {
		sep = '&'
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = 0
		}
	}
	for _, kv := range params {
		if sep != 0 {
			b.WriteByte(sep)
		}
		sep = '&'
		b.WriteString(uri.QueryEscape(kv[0]))
		b.WriteByte('=')
		b.WriteString(uri.QueryEscape(kv[1]))
	}
	return b.String()
}
