package authcore

import (
	"net/url"
	"strings"
	"testing"
)

// TestAuthorizeErrorPages: until client and redirect URI are verified, no
// error is redirected (OAuth 2.1 §2.3.5, §4.1.2.1).
func TestAuthorizeErrorPages(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	_, ch := pkce()
	q := func(over map[string]string) string { return authzQuery(publicClient, loopbackRedirect, ch, over) }
	cases := []struct {
		name, target string
		status       int
	}{
		{"missing client_id", q(map[string]string{"client_id": ""}), 400},
		{"unknown client_id", q(map[string]string{"client_id": "nobody"}), 400},
		{"unsupported CIMD client", q(map[string]string{"client_id": "https://app.example.com/client.json"}), 400},
		{"forged dynamic client", q(map[string]string{"client_id": "dcr.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}), 400},
		{"duplicate client_id", q(nil) + "&client_id=ide", 400},
		{"duplicate redirect_uri", q(nil) + "&redirect_uri=" + url.QueryEscape(loopbackRedirect), 400},
		{"duplicate state", q(nil) + "&state=other", 400},
		{"malformed query", q(nil) + "&x=%zz", 400},
		{"unregistered redirect_uri", q(map[string]string{"redirect_uri": "https://evil.example/cb"}), 400},
		{"loopback host swapped", q(map[string]string{"redirect_uri": "http://localhost/callback"}), 400},
		{"loopback path changed", q(map[string]string{"redirect_uri": "http://127.0.0.1:5000/callback/x"}), 400},
		{"loopback query added", q(map[string]string{"redirect_uri": "http://127.0.0.1:5000/callback?a=1"}), 400},
		{"loopback scheme changed", q(map[string]string{"redirect_uri": "https://127.0.0.1/callback"}), 400},
		{"redirect_uri omitted with several registered", authzQuery(confidentialClient, "", ch, map[string]string{"redirect_uri": ""}), 400},
		{"state too long", q(map[string]string{"state": strings.Repeat("s", maxStateLen+1)}), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errorPageOf(t, h.get(newBrowser(), tc.target), tc.status)
		})
	}
	t.Run("POST is 405", func(t *testing.T) {
		r := h.run(h.e, &Request{Method: "POST", Path: "/oauth/authorize"}, nil)
		if r.Status != 405 || r.Headers.Get("location") != "" {
			t.Errorf("%+v", r)
		}
	})
}

// TestAuthorizeRedirectedErrors: once client and redirect URI are verified,
// errors go back to the client with error, state and exactly one iss
// (OAuth 2.1 §4.1.1-§4.1.2.1; RFC 7636; RFC 8707; RFC 9207).
func TestAuthorizeRedirectedErrors(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	_, ch := pkce()
	q := func(over map[string]string) string { return authzQuery(publicClient, loopbackRedirect, ch, over) }
	cases := []struct {
		name, target, code string
	}{
		{"response_type missing", q(map[string]string{"response_type": ""}), ErrCodeInvalidRequest},
		{"response_type token", q(map[string]string{"response_type": "token"}), ErrCodeUnsupportedResponseType},
		{"response_type code id_token", q(map[string]string{"response_type": "code id_token"}), ErrCodeUnsupportedResponseType},
		{"code_challenge missing", q(map[string]string{"code_challenge": ""}), ErrCodeInvalidRequest},
		{"method missing means plain", q(map[string]string{"code_challenge_method": ""}), ErrCodeInvalidRequest},
		{"method plain", q(map[string]string{"code_challenge_method": "plain"}), ErrCodeInvalidRequest},
		{"method unknown", q(map[string]string{"code_challenge_method": "S512"}), ErrCodeInvalidRequest},
		{"method lower case", q(map[string]string{"code_challenge_method": "s256"}), ErrCodeInvalidRequest},
		{"challenge 42 chars", q(map[string]string{"code_challenge": strings.Repeat("a", 42)}), ErrCodeInvalidRequest},
		{"challenge 129 chars", q(map[string]string{"code_challenge": strings.Repeat("a", 129)}), ErrCodeInvalidRequest},
		{"challenge bad char", q(map[string]string{"code_challenge": strings.Repeat("a", 42) + "+"}), ErrCodeInvalidRequest},
		{"resource unknown", q(map[string]string{"resource": "https://mcp.example.com/other"}), ErrCodeInvalidTarget},
		{"resource other host", q(map[string]string{"resource": "https://evil.example.com/mcp"}), ErrCodeInvalidTarget},
		{"resource with fragment", q(map[string]string{"resource": testResource + "#frag"}), ErrCodeInvalidTarget},
		{"resource with empty fragment", q(map[string]string{"resource": testResource + "#"}), ErrCodeInvalidTarget},
		{"resource trailing slash", q(map[string]string{"resource": testResource + "/"}), ErrCodeInvalidTarget},
		{"resource with query", q(map[string]string{"resource": testResource + "?a=1"}), ErrCodeInvalidTarget},
		{"resource relative", q(map[string]string{"resource": "/mcp"}), ErrCodeInvalidTarget},
		{"resource http", q(map[string]string{"resource": "http://mcp.example.com/mcp"}), ErrCodeInvalidTarget},
		{"resource encoded path", q(map[string]string{"resource": "https://mcp.example.com/%6Dcp"}), ErrCodeInvalidTarget},
		{"resource repeated", q(nil) + "&resource=" + url.QueryEscape(testResource), ErrCodeInvalidTarget},
		{"scope unknown", q(map[string]string{"scope": "mcp:tools files:write"}), ErrCodeInvalidScope},
		{"scope syntax", q(map[string]string{"scope": "mcp:tools  mcp:admin"}), ErrCodeInvalidScope},
		{"scope repeated", q(nil) + "&scope=mcp:admin", ErrCodeInvalidRequest},
		{"response_mode fragment", q(map[string]string{"response_mode": "fragment"}), ErrCodeInvalidRequest},
		{"request object", q(map[string]string{"request": "eyJ.x.y"}), ErrCodeInvalidRequest},
		{"request_uri", q(map[string]string{"request_uri": "urn:x"}), ErrCodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get(newBrowser(), tc.target)
			got := redirected(t, r, 302)
			if got.Get("error") != tc.code || got.Get("state") != "st-123" || got.Get("code") != "" {
				t.Errorf("redirect %v, want error %s with state", got, tc.code)
			}
			if u, _ := url.Parse(r.Headers.Get("location")); u.Host != "127.0.0.1" || u.Path != "/callback" {
				t.Errorf("redirected to %s", u)
			}
		})
	}
	t.Run("no state, no state echoed", func(t *testing.T) {
		got := redirected(t, h.get(newBrowser(), q(map[string]string{"state": "", "response_type": "token"})), 302)
		if _, ok := got["state"]; ok {
			t.Errorf("state invented: %v", got)
		}
	})
	t.Run("state echoed unchanged", func(t *testing.T) {
		odd := "a b&c=d/é+%"
		got := redirected(t, h.get(newBrowser(), q(map[string]string{"state": odd, "response_type": "token"})), 302)
		if got.Get("state") != odd {
			t.Errorf("state %q, want %q", got.Get("state"), odd)
		}
	})
}

// TestAuthorizeSuccess covers what must be accepted.
func TestAuthorizeSuccess(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"consent": `{"remember":"0s"}`})))
	_, ch := pkce()
	cases := []struct {
		name, client, redirect string
		over                   map[string]string
		wantScopes             string
		wantPrefix             string // of the final Location
	}{
		{"defaults", publicClient, loopbackRedirect, nil, "mcp:tools", "http://127.0.0.1/callback?code="},
		{"loopback any port", publicClient, "http://127.0.0.1:54321/callback", nil, "mcp:tools", "http://127.0.0.1:54321/callback?code="},
		{"redirect_uri omitted, one registered", publicClient, "", map[string]string{"redirect_uri": ""}, "mcp:tools", "http://127.0.0.1/callback?code="},
		{"upper-case scheme and host", publicClient, loopbackRedirect, map[string]string{"resource": "HTTPS://MCP.Example.COM/mcp"}, "mcp:tools", ""},
		{"default port", publicClient, loopbackRedirect, map[string]string{"resource": "https://mcp.example.com:443/mcp"}, "mcp:tools", ""},
		{"origin alias", publicClient, loopbackRedirect, map[string]string{"resource": "https://mcp.example.com"}, "mcp:tools", ""},
		{"origin alias with slash", publicClient, loopbackRedirect, map[string]string{"resource": "https://mcp.example.com/"}, "mcp:tools", ""},
		{"resource omitted", publicClient, loopbackRedirect, map[string]string{"resource": ""}, "mcp:tools", ""},
		{"scope omitted is the baseline", publicClient, loopbackRedirect, map[string]string{"scope": ""}, "mcp:tools", ""},
		{"rule scope and offline_access", publicClient, loopbackRedirect, map[string]string{"scope": "mcp:tools mcp:admin offline_access"}, "mcp:tools mcp:admin offline_access", ""},
		{"registered query kept", confidentialClient, "https://app.example.com/cb2?x=1", nil, "mcp:tools", "https://app.example.com/cb2?x=1&code="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser()
			page := h.get(b, authzQuery(tc.client, tc.redirect, ch, tc.over))
			if page.Status != 200 {
				t.Fatalf("status %d %v %s", page.Status, page.Headers, page.Body)
			}
			ticket, _ := consentFields(t, page)
			var rec consentTicket
			v, _, err := h.e.unseal(sealConsentTicket, "", ticket)
			if err != nil {
				t.Fatal(err)
			}
			jsonUnmarshal(t, v, &rec)
			// Showing the page stored nothing.
			h.store.Get(consentTicketKey(ticket), func(_ []byte, _ uint64, err error) Outcome {
				if err != ErrNotFound {
					t.Fatalf("consent page stored a ticket record: %v", err)
				}
				return nil
			})
			if strings.Join(rec.AR.Scopes, " ") != tc.wantScopes || rec.AR.Resource != testResource || rec.Subject != "alice" {
				t.Errorf("pending request %+v", rec)
			}
			r := h.answer(b, page, "approve")
			q := redirected(t, r, 303)
			if q.Get("code") == "" || q.Get("state") != "st-123" {
				t.Errorf("success redirect %v", q)
			}
			if tc.wantPrefix != "" && !strings.HasPrefix(r.Headers.Get("location"), tc.wantPrefix) {
				t.Errorf("location %s, want prefix %s", r.Headers.Get("location"), tc.wantPrefix)
			}
		})
	}
}

func TestAuthorizeSeveralResources(t *testing.T) {
	h := newHarness(t, asConfigJSON(map[string]string{
		"resources": `[{"resource":"https://mcp.example.com/a/mcp","scopes":["a"]},{"resource":"https://mcp.example.com/b/mcp","scopes":["b"]}]`,
	}))
	_, ch := pkce()
	for name, over := range map[string]map[string]string{
		"resource required":   {"resource": "", "scope": ""},
		"origin is ambiguous": {"resource": "https://mcp.example.com", "scope": ""},
		"scope of the other":  {"resource": "https://mcp.example.com/a/mcp", "scope": "b"},
	} {
		t.Run(name, func(t *testing.T) {
			q := redirected(t, h.get(newBrowser(), authzQuery(publicClient, loopbackRedirect, ch, over)), 302)
			want := ErrCodeInvalidTarget
			if name == "scope of the other" {
				want = ErrCodeInvalidScope
			}
			if q.Get("error") != want {
				t.Errorf("error %q, want %q", q.Get("error"), want)
			}
		})
	}
	page := h.get(newBrowser(), authzQuery(publicClient, loopbackRedirect, ch, map[string]string{"resource": "https://mcp.example.com/b/mcp", "scope": ""}))
	if page.Status != 200 || !strings.Contains(string(page.Body), "https://mcp.example.com/b/mcp") {
		t.Errorf("resource b: %d", page.Status)
	}
}

// TestAuthorizeUntrustedClientError: a self-registered client's broken
// request is never redirected automatically (O21 §7.12.2): an error page,
// and once the user is signed in, one with a link to the client's host.
func TestAuthorizeUntrustedClientError(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"identity": `{"mode":"header","header":{"name":"x-user"}}`})))
	rr := registered(t, h.register(h.e, `{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none"}`))
	_, ch := pkce()
	target := authzQuery(rr.ClientID, "https://app.example.com/cb", ch, map[string]string{"scope": "nope"})
	// Not signed in: an error page, not a redirect to the client.
	errorPageOf(t, h.get(newBrowser(), target), 401)
	// Signed in: a page with a link carrying the error, state and iss.
	req := &Request{Method: "GET", Path: target, Headers: Header{{"x-user", "bob"}}}
	q := errorLinkOf(t, h.run(h.e, req, nil), 400, "app.example.com")
	if q.Get("error") != ErrCodeInvalidScope || q.Get("state") != "st-123" || q.Get("iss") != testIssuer {
		t.Errorf("redirect %v", q)
	}
	// A pre-registered client's is redirected at once, signed in or not.
	q = redirected(t, h.get(newBrowser(), authzQuery(publicClient, loopbackRedirect, ch, map[string]string{"scope": "nope"})), 302)
	if q.Get("error") != ErrCodeInvalidScope {
		t.Errorf("redirect %v", q)
	}
}

func TestAuthorizeHeaderIdentity(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"identity": `{"mode":"header","header":{"name":"x-user","trusted":["10.0.0.0/8"]}}`})))
	_, ch := pkce()
	target := authzQuery(publicClient, loopbackRedirect, ch, nil)
	run := func(source string, hd Header) Reply {
		return h.run(h.e, &Request{Method: "GET", Path: target, Headers: hd, Source: source}, nil)
	}
	if r := run("10.1.2.3:1", Header{{"x-user", "carol"}}); r.Status != 200 || !strings.Contains(string(r.Body), "carol") {
		t.Errorf("trusted header: %d", r.Status)
	}
	errorPageOf(t, run("192.0.2.1:1", Header{{"x-user", "carol"}}), 401)
	errorPageOf(t, run("10.1.2.3:1", nil), 401)
	errorPageOf(t, run("10.1.2.3:1", Header{{"x-user", "carol"}, {"x-user", "mallory"}}), 400)
	errorPageOf(t, run("10.1.2.3:1", Header{{"x-user", "a\x01b"}}), 401)
}

func TestAuthorizeDevModeLogsLoudly(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	_, ch := pkce()
	h.logs = nil
	h.get(newBrowser(), authzQuery(publicClient, loopbackRedirect, ch, nil))
	found := false
	for _, l := range h.logs {
		if strings.Contains(l, "DEV IDENTITY") && strings.Contains(l, "alice") {
			found = true
		}
	}
	if !found {
		t.Errorf("dev identity not logged: %q", h.logs)
	}
}
