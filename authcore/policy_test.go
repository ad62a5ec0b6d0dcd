package authcore

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// policyAS is the standard AS test config in header mode with claims from
// trusted headers and a policy: only example.com accounts sign in, and
// mcp:admin needs the mcp-admins group; the admin_* tools also need the
// "ops" role in the access token.
func policyAS() map[string]string {
	m := withAS(map[string]string{
		"identity": `{"mode":"header","header":{"name":"x-user"}}`,
		"claims": `{"names":["groups","email","roles"],"headers":{"groups":"x-groups","email":"x-email","roles":"x-roles"},
			"access_token":["groups","roles"],"identity_headers":{"groups":"x-mcpgate-groups"}}`,
		"policy": `{"login":{"claim":"email","suffix":"@example.com"},
			"scopes":[{"scopes":["mcp:admin"],"when":{"claim":"groups","any_of":["mcp-admins"]}}]}`,
	})
	m["resources"] = `[{"resource":"https://mcp.example.com/mcp","name":"Tools","scopes":["mcp:tools"],
		"rules":[{"method":"tools/call","name":"admin_*","scopes":["mcp:admin"],"when":{"claim":"roles","any_of":["ops"]}},
			{"method":"resources/*","scopes":["mcp:read"]}]}]`
	return m
}

func TestPolicyAtAuthorize(t *testing.T) {
	h := newHarness(t, asConfigJSON(policyAS()))
	_, ch := pkce()
	cases := []struct {
		name    string
		headers Header
		scope   string
		shown   []string // scopes on the consent page; nil: denied
		hidden  []string
	}{
		{"admin asks for admin", Header{{"x-email", "a@example.com"}, {"x-groups", "mcp-admins, dev"}}, "mcp:tools mcp:admin", []string{"mcp:tools", "mcp:admin"}, nil},
		// A step-up to a scope the user may not have is refused...
		{"non-admin asks for both", Header{{"x-email", "b@example.com"}, {"x-groups", "dev"}}, "mcp:tools mcp:admin", nil, nil},
		// ... but another extra scope that remains is granted without it.
		{"non-admin asks for three", Header{{"x-email", "b@example.com"}, {"x-groups", "dev"}}, "mcp:tools mcp:admin mcp:read", []string{"mcp:tools", "mcp:read"}, []string{"mcp:admin"}},
		{"non-admin asks for the baseline", Header{{"x-email", "b@example.com"}, {"x-groups", "dev"}}, "mcp:tools", []string{"mcp:tools"}, []string{"mcp:admin"}},
		{"non-admin asks for admin only", Header{{"x-email", "b@example.com"}, {"x-groups", "dev"}}, "mcp:admin", nil, nil},
		{"no groups header asks for admin", Header{{"x-email", "b@example.com"}}, "mcp:admin", nil, nil},
		{"other domain", Header{{"x-email", "c@evil.example"}, {"x-groups", "mcp-admins"}}, "mcp:tools", nil, nil},
		{"no email", Header{{"x-groups", "mcp-admins"}}, "mcp:tools", nil, nil},
		{"group name is not a prefix match", Header{{"x-email", "d@example.com"}, {"x-groups", "mcp-admins-not"}}, "mcp:admin", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := authzQuery(publicClient, loopbackRedirect, ch, map[string]string{"scope": tc.scope})
			hd := append(Header{{"x-user", "user"}}, tc.headers...)
			r := h.run(h.e, &Request{Method: "GET", Path: target, Headers: hd}, nil)
			body := string(r.Body)
			if tc.shown == nil {
				// access_denied with iss, on a page that says why.
				q := errorLinkOf(t, r, 403, "127.0.0.1")
				if q.Get("error") != ErrCodeAccessDenied || q.Get("iss") != testIssuer || q.Get("state") != "st-123" {
					t.Errorf("link %v", q)
				}
				if !strings.Contains(body, "needs groups includes one of") && !strings.Contains(body, "The operator requires") {
					t.Errorf("the page does not say why:\n%s", body)
				}
				return
			}
			if r.Status != 200 {
				t.Fatalf("status %d %s", r.Status, body)
			}
			for _, s := range tc.shown {
				if !strings.Contains(body, "<li><code>"+s+"</code></li>") {
					t.Errorf("consent page lacks %s", s)
				}
			}
			for _, s := range tc.hidden {
				if strings.Contains(body, s) {
					t.Errorf("consent page shows %s", s)
				}
			}
		})
	}
}

// The scopes removed by policy are never granted; claims travel into the
// access token, to the guard's per-tool rules and the identity headers.
func TestPolicyGrantAndGuard(t *testing.T) {
	h := newHarness(t, asConfigJSON(policyAS()))
	token := func(sub string, hd Header, scope string) TokenResponse {
		verifier, ch := pkce()
		b := newBrowser()
		target := authzQuery(publicClient, loopbackRedirect, ch, map[string]string{"scope": scope})
		page := h.run(h.e, &Request{Method: "GET", Path: target, Headers: append(append(Header{{"x-user", sub}}, hd...), b.header()...)}, nil)
		b.take(page)
		q := redirected(t, h.answer(b, page, "approve"), 303)
		return tokenOK(t, h.exchange2(q.Get("code"), verifier))
	}
	call := func(tok, tool string) Reply {
		req := &Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: "/mcp",
			Headers: Header{{"authorization", "Bearer " + tok}, {"content-type", "application/json"}, {"x-mcpgate-groups", "forged"}}}
		return h.run(h.e, req, []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`"}}`))
	}
	dev := token("dev", Header{{"x-email", "b@example.com"}, {"x-groups", "dev"}}, "mcp:tools mcp:read mcp:admin")
	if dev.Scope != "mcp:tools mcp:read" {
		t.Errorf("non-admin granted %q", dev.Scope)
	}
	if r := call(dev.AccessToken, "admin_stats"); r.Status != 403 || !strings.Contains(r.Headers.Get("www-authenticate"), "insufficient_scope") {
		t.Errorf("non-admin admin call: %d %v", r.Status, r.Headers)
	}
	admin := token("admin", Header{{"x-email", "a@example.com"}, {"x-groups", "mcp-admins"}}, "mcp:tools mcp:admin")
	if admin.Scope != "mcp:tools mcp:admin" {
		t.Errorf("admin granted %q", admin.Scope)
	}
	// The admin lacks the ops role the admin tools also require.
	if r := call(admin.AccessToken, "admin_stats"); r.Status != 403 || !strings.Contains(string(r.Body), "roles includes one of") {
		t.Errorf("admin without ops role: %d %s", r.Status, r.Body)
	}
	ops := token("ops", Header{{"x-email", "o@example.com"}, {"x-groups", "mcp-admins"}, {"x-roles", "ops"}}, "mcp:tools mcp:admin")
	if r := call(ops.AccessToken, "admin_stats"); r.Status != -1 {
		t.Errorf("admin with ops role refused: %d %s", r.Status, r.Body)
	}
	// The groups claim is in the access token and forwarded as a header,
	// replacing the client's forged copy.
	parts := strings.Split(ops.AccessToken, ".")
	payload, _ := b64.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	// One header value without a comma is a string claim.
	if g, _ := claims["groups"].(string); g != "mcp-admins" {
		t.Errorf("access token groups %v", claims["groups"])
	}
	if _, ok := claims["email"]; ok {
		t.Error("email is not configured for the access token")
	}
	o := run(h.e, &Request{Method: "POST", Path: "/mcp", Headers: Header{{"authorization", "Bearer " + ops.AccessToken}, {"content-type", "application/json"}, {"x-mcpgate-groups", "forged"}},
		Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)})
	fw, ok := o.(Forward)
	if !ok || fw.Set.Get("x-mcpgate-groups") != "mcp-admins" || !containsString(fw.Remove, "x-mcpgate-groups") {
		t.Errorf("forward %+v", o)
	}
}

// exchange2 redeems a code of the public client and returns the reply.
func (h *harness) exchange2(code, verifier string) Reply {
	return h.tokenReq(h.e, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"client_id": {publicClient}, "redirect_uri": {loopbackRedirect},
	})
}

func TestConditionTable(t *testing.T) {
	claims := IdentityClaims{
		"groups":         RawJSON(`["a","b"]`),
		"email":          RawJSON(`"x@corp.example"`),
		"email_verified": RawJSON(`true`),
		"hd":             RawJSON(`"corp.example"`),
		"level":          RawJSON(`3`),
	}
	cases := []struct {
		cond string
		want bool
	}{
		{`{"claim":"groups","any_of":["b","z"]}`, true},
		{`{"claim":"groups","any_of":["z"]}`, false},
		{`{"claim":"groups","all_of":["a","b"]}`, true},
		{`{"claim":"groups","all_of":["a","z"]}`, false},
		{`{"claim":"email_verified","equals":true}`, true},
		{`{"claim":"email_verified","equals":"true"}`, true},
		{`{"claim":"email_verified","equals":false}`, false},
		{`{"claim":"level","equals":3}`, true},
		{`{"claim":"email","suffix":"@corp.example"}`, true},
		{`{"claim":"email","suffix":"corp.example.evil"}`, false},
		{`{"claim":"missing","any_of":["a"]}`, false},
		{`{"not":{"claim":"missing","any_of":["a"]}}`, true},
		{`{"all_of":[{"claim":"hd","equals":"corp.example"},{"claim":"email_verified","equals":true}]}`, true},
		{`{"all_of":[{"claim":"hd","equals":"corp.example"},{"claim":"groups","any_of":["z"]}]}`, false},
		{`{"any_of":[{"claim":"hd","equals":"other"},{"claim":"groups","any_of":["a"]}]}`, true},
		{`{"any_of":[{"claim":"hd","equals":"other"},{"not":{"claim":"groups","any_of":["a"]}}]}`, false},
	}
	for _, tc := range cases {
		p := &cfgParser{}
		c := p.condition("c", parseJSON(tc.cond), 1)
		if err := p.err(); err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		if got := c.Holds(claims); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.cond, got, tc.want)
		}
	}
	for _, bad := range []string{
		`{"claim":"groups"}`,
		`{"claim":"groups","any_of":["a"],"all_of":["b"]}`,
		`{"claim":"groups","any_of":[]}`,
		`{"claim":"a.b","any_of":["x"]}`,
		`{"any_of":[]}`,
		`{"not":{"claim":"g","any_of":["a"]},"any_of":[{"claim":"g","any_of":["a"]}]}`,
		`{"claim":"g","equals":null}`,
		`{"claim":"g","regex":".*"}`,
		`"groups"`,
		strings.Repeat(`{"not":`, 10) + `{"claim":"g","any_of":["a"]}` + strings.Repeat(`}`, 10),
	} {
		p := &cfgParser{}
		p.condition("c", parseJSON(bad), 1)
		if p.err() == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestPolicyConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		over map[string]string
		msg  string
	}{
		"policy names a claim not kept":   {withAS(map[string]string{"policy": `{"login":{"claim":"hd","any_of":["x"]}}`}), `tests claim "hd"`},
		"claim headers in dev mode":       {withAS(map[string]string{"claims": `{"names":["g"],"headers":{"g":"x-g"}}`}), `needs identity mode "header"`},
		"reserved access token claim":     {withAS(map[string]string{"claims": `{"names":["sub"],"access_token":["sub"]}`}), "registered access token claim"},
		"identity header not in token":    {withAS(map[string]string{"claims": `{"names":["g"],"identity_headers":{"g":"x-g"}}`}), "must be in"},
		"rule tests a claim not in token": {map[string]string{"resources": `[{"resource":"https://mcp.example.com/mcp","scopes":["mcp:tools"],"rules":[{"method":"tools/call","when":{"claim":"g","any_of":["x"]}}]}]`}, `tests claim "g"`},
		"admin hash malformed":            {map[string]string{"admin": `{"path":"/admin","token_sha256":"abc"}`}, "64 hex digits"},
		"admin path taken":                {map[string]string{"admin": `{"path":"/mcp","token_sha256":"` + strings.Repeat("a", 64) + `"}`}, "already used"},
	} {
		_, err := ParseConfig([]byte(asConfigJSON(tc.over)))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", name, err, tc.msg)
		}
	}
}

func parseJSON(s string) jsonv.Result { return jsonv.Parse(s) }
