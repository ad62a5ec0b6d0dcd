package clientmeta

import (
	"strings"
	"testing"
)

func TestGrantTypes(t *testing.T) {
	kept, ignored, msg := GrantTypes([]string{"refresh_token", "authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer", "authorization_code"})
	if msg != "" || strings.Join(kept, " ") != "refresh_token authorization_code" || strings.Join(ignored, " ") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Errorf("%v %v %q", kept, ignored, msg)
	}
	for _, list := range [][]string{nil, {}, {"refresh_token"}, {"authorization_code", "implicit"}, {"password", "authorization_code"}, {"client_credentials"}} {
		if _, _, msg := GrantTypes(list); msg == "" {
			t.Errorf("%v accepted", list)
		}
	}
}

func TestCheckResponseTypes(t *testing.T) {
	if CheckResponseTypes([]string{"code"}) != "" || CheckResponseTypes([]string{"code", "code"}) != "" {
		t.Error("code refused")
	}
	for _, list := range [][]string{nil, {"token"}, {"code", "id_token"}, {"code id_token"}} {
		if CheckResponseTypes(list) == "" {
			t.Errorf("%v accepted", list)
		}
	}
}

func TestCheckApplicationType(t *testing.T) {
	for s, ok := range map[string]bool{"": true, "web": true, "native": true, "Web": false, "browser": false} {
		if (CheckApplicationType(s) == "") != ok {
			t.Errorf("%q", s)
		}
	}
}

func TestParseScope(t *testing.T) {
	for s, want := range map[string]string{"": "", "a": "a", "a b a": "a b", "mcp:tools offline_access": "mcp:tools offline_access"} {
		got, ok := ParseScope(s)
		if !ok || strings.Join(got, " ") != want {
			t.Errorf("ParseScope(%q) = %v %v", s, got, ok)
		}
	}
	for _, s := range []string{" ", "a  b", " a", "a ", "a\tb", `a"b`, `a\b`, "é", "a\u202eb"} {
		if got, ok := ParseScope(s); ok {
			t.Errorf("ParseScope(%q) = %v", s, got)
		}
	}
}

// FuzzParseScope: what parses re-joins to a scope that parses the same,
// and is made of scope-tokens.
func FuzzParseScope(f *testing.F) {
	f.Add("mcp:tools offline_access")
	f.Add("a  b")
	f.Fuzz(func(t *testing.T, s string) {
		scopes, ok := ParseScope(s)
		if !ok {
			return
		}
		for _, x := range scopes {
			if !ValidScopeToken(x) {
				t.Fatalf("%q from %q", x, s)
			}
		}
		again, ok := ParseScope(strings.Join(scopes, " "))
		if !ok || strings.Join(again, " ") != strings.Join(scopes, " ") {
			t.Fatalf("%q: %v then %v", s, scopes, again)
		}
	})
}
