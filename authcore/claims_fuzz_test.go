package authcore

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// FuzzHeaderClaims feeds arbitrary claim header values (header mode): the
// claims kept must be valid JSON within the bounds, and the policy must
// evaluate them without panicking.
func FuzzHeaderClaims(f *testing.F) {
	h := newHarness(f, asConfigJSON(policyAS()))
	for _, s := range []string{"mcp-admins", "a, b,,c", ",", "", strings.Repeat("g,", 300), "x\x01y", `["a"]`, "é, ü"} {
		f.Add(s, "a@example.com")
	}
	f.Fuzz(func(t *testing.T, groups, email string) {
		req := &Request{Headers: Header{{"x-groups", groups}, {"x-email", email}}}
		claims, oe := h.e.headerClaims(req)
		if oe != nil {
			t.Fatalf("single headers refused: %v", oe)
		}
		checkKeptClaims(t, claims)
		_, _ = h.e.cfg.AS.Policy.Filter([]string{"mcp:tools", "mcp:admin"}, claims)
		_ = h.e.cfg.AS.Policy.Login.Holds(claims)
	})
}

// FuzzKeepClaims feeds arbitrary JSON (an ID token payload or a UserInfo
// response, from the identity provider) to the claim filter.
func FuzzKeepClaims(f *testing.F) {
	h := newHarness(f, asConfigJSON(policyAS()))
	for _, s := range []string{`{"groups":["a","b"],"email":"x@example.com"}`, `{"groups":"a"}`, `{"groups":[1,2]}`,
		`{"groups":{"a":1}}`, `{"email":true,"roles":null}`, `[]`, `{"groups":["` + strings.Repeat("x", 300) + `"]}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !jsonv.ValidBytes(body) {
			return
		}
		claims := h.e.keepClaims(jsonv.ParseBytes(body))
		checkKeptClaims(t, claims)
		tok := h.e.appendTokenClaims([]byte(`{"sub":"x"`), h.e.tokenClaims(claims))
		if !json.Valid(append(tok, '}')) {
			t.Fatalf("access token payload not JSON: %s", tok)
		}
	})
}

func checkKeptClaims(t *testing.T, claims IdentityClaims) {
	t.Helper()
	total := 0
	for name, raw := range claims {
		if !json.Valid(raw) {
			t.Fatalf("claim %s is not JSON: %s", name, raw)
		}
		total += len(raw)
		for _, v := range claims.Values(name) {
			if len(v) > maxClaimValue {
				t.Fatalf("claim %s value of %d bytes", name, len(v))
			}
		}
		if len(claims.Values(name)) > maxClaimValues {
			t.Fatalf("claim %s has %d values", name, len(claims.Values(name)))
		}
	}
}

// FuzzAdminRequest feeds arbitrary bodies to the admin API (with the
// right credential): always a JSON answer with a status, never a panic.
func FuzzAdminRequest(f *testing.F) {
	h := newHarness(f, asConfigJSON(adminMembers(nil)))
	for _, s := range []string{`{"action":"revoke_user","sub":"alice"}`, `{"action":"block_host","host":"a.example"}`,
		`{"action":"revoke_grant","grant":""}`, `{"action":7}`, `[]`, `{"action":"unblock_client","client_id":"` + strings.Repeat("c", 3000) + `"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := h.admin(h.e, adminCredential, string(body))
		if r.Status != 200 && r.Status != 400 && r.Status != 500 {
			t.Fatalf("status %d", r.Status)
		}
		if !json.Valid(r.Body) {
			t.Fatalf("body %q", r.Body)
		}
	})
}
