package clientmeta

import "strings"

// ValidScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ParseScope splits a scope value (RFC 6749 §3.3: "a list of
// space-delimited, case-sensitive strings"; RFC 7591 §2 uses the same form
// for the "scope" member) into unique scope tokens, in order. ok is false
// when a token is not a valid scope-token or the delimiters are not single
// spaces. The empty string is no scope.
func ParseScope(s string) (scopes []string, ok bool) {
	if s == "" {
		return nil, true
	}
	for tok := range strings.SplitSeq(s, " ") {
		if !ValidScopeToken(tok) {
			return nil, false
		}
		if !contains(scopes, tok) {
			scopes = append(scopes, tok)
		}
	}
	return scopes, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SplitScope splits a scope value that was issued, not requested (a token's
// "scope" claim, RFC 9068 §2.2.3.1 and RFC 8693 §4.2; an introspection
// answer, RFC 7662 §2.2; a client's registered "scope"), leniently: runs of
// spaces are one delimiter and leading and trailing spaces are dropped, as
// strings.Fields reads them. Only the space (%x20) of RFC 6749 §3.3
// delimits: a tab or another Unicode space is part of a token, so the
// token matches no configured scope, and one scope written by an issuer
// never becomes two. The result is never nil.
func SplitScope(s string) []string {
	out := make([]string, 0, strings.Count(s, " ")+1)
	for tok := range strings.SplitSeq(s, " ") {
		if tok != "" {
			out = append(out, tok)
		}
	}
	return out
}
