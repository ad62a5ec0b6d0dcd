package authcore

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestConsentPage(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	_, ch := pkce()
	b := newBrowser()
	page := h.get(b, authzQuery(confidentialClient, webRedirect, ch, map[string]string{"scope": "mcp:tools mcp:admin"}))
	if page.Status != 200 {
		t.Fatalf("status %d: %s", page.Status, page.Body)
	}
	wantHeaders := map[string]string{
		"content-type":            "text/html; charset=utf-8",
		"cache-control":           "no-store",
		"x-frame-options":         "DENY",
		"content-security-policy": "frame-ancestors 'none'; default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https://app.example.com",
		"referrer-policy":         "same-origin",
	}
	for k, v := range wantHeaders {
		if got := page.Headers.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	sc := page.Headers.Get("set-cookie")
	if !strings.HasPrefix(sc, "__Host-mcpgate-browser=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || !strings.Contains(sc, "Path=/") {
		t.Errorf("set-cookie %q", sc)
	}
	body := string(page.Body)
	for _, want := range []string{"Web App", "registered by the operator", "app.example.com", "mcp:tools", "mcp:admin", testResource, "alice", `action="/oauth/consent"`, "30 days"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "own computer") {
		t.Errorf("page has script or a wrong loopback warning")
	}
	// A browser that already has the cookie keeps it.
	page2 := h.get(b, authzQuery(confidentialClient, webRedirect, ch, nil))
	if page2.Headers.Get("set-cookie") != "" {
		t.Errorf("cookie replaced: %q", page2.Headers.Get("set-cookie"))
	}
}

func TestConsentPageUnverifiedLoopbackClient(t *testing.T) {
	h := newHarness(t, asConfigJSON(nil))
	rr := registered(t, h.register(h.e, `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"<script>alert(1)</script>","token_endpoint_auth_method":"none"}`))
	_, ch := pkce()
	page := h.get(newBrowser(), authzQuery(rr.ClientID, "http://127.0.0.1:4242/cb", ch, nil))
	body := string(page.Body)
	if page.Status != 200 || !strings.Contains(body, "Unverified") || !strings.Contains(body, "own computer") || !strings.Contains(body, "127.0.0.1:4242") {
		t.Errorf("page %d:\n%s", page.Status, body)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("client name not escaped")
	}
	if csp := page.Headers.Get("content-security-policy"); !strings.HasSuffix(csp, "form-action 'self' http://127.0.0.1:4242") {
		t.Errorf("csp %q", csp)
	}
}

// TestConsentSubmission covers the consent post: CSRF, browser binding,
// single use, deny (MCP 2026-07-28 Security Best Practices, "Confused Deputy Problem").
func TestConsentSubmission(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"consent": `{"remember":"0s"}`})))
	_, ch := pkce()
	open := func() (*browser, Reply) {
		b := newBrowser()
		return b, h.get(b, authzQuery(publicClient, loopbackRedirect, ch, nil))
	}
	post := func(b *browser, ticket, csrf, action string, extra ...[2]string) Reply {
		return h.postForm(h.e, b, "/oauth/consent", url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {action}}.Encode(), extra...)
	}

	t.Run("approve", func(t *testing.T) {
		b, page := open()
		q := redirected(t, h.answer(b, page, "approve"), 303)
		if q.Get("code") == "" || q.Get("state") != "st-123" {
			t.Errorf("%v", q)
		}
	})
	t.Run("deny", func(t *testing.T) {
		b, page := open()
		q := redirected(t, h.answer(b, page, "deny"), 303)
		if q.Get("error") != ErrCodeAccessDenied || q.Get("state") != "st-123" || q.Get("code") != "" {
			t.Errorf("%v", q)
		}
	})
	t.Run("twice", func(t *testing.T) {
		b, page := open()
		redirected(t, h.answer(b, page, "approve"), 303)
		errorPageOf(t, h.answer(b, page, "approve"), 400)
		errorPageOf(t, h.answer(b, page, "deny"), 400)
	})
	t.Run("without cookie", func(t *testing.T) {
		_, page := open()
		ticket, csrf := consentFields(t, page)
		errorPageOf(t, post(newBrowser(), ticket, csrf, "approve"), 403)
	})
	t.Run("another browser's cookie", func(t *testing.T) {
		_, page := open()
		other, _ := open()
		ticket, csrf := consentFields(t, page)
		errorPageOf(t, post(other, ticket, csrf, "approve"), 403)
	})
	t.Run("another page's CSRF token", func(t *testing.T) {
		b, page := open()
		page2 := h.get(b, authzQuery(publicClient, loopbackRedirect, ch, nil))
		ticket, _ := consentFields(t, page)
		_, csrf2 := consentFields(t, page2)
		errorPageOf(t, post(b, ticket, csrf2, "approve"), 403)
		// The ticket was not burnt by the failed attempt.
		redirected(t, h.answer(b, page, "approve"), 303)
	})
	t.Run("tampered CSRF token", func(t *testing.T) {
		b, page := open()
		ticket, csrf := consentFields(t, page)
		flipped := "A"
		if csrf[0] == 'A' {
			flipped = "B"
		}
		errorPageOf(t, post(b, ticket, flipped+csrf[1:], "approve"), 403)
		errorPageOf(t, post(b, ticket, "", "approve"), 403)
	})
	t.Run("expired", func(t *testing.T) {
		b, page := open()
		h.advance(consentTicketTTL + time.Second)
		errorPageOf(t, h.answer(b, page, "approve"), 400)
	})
	t.Run("bad action", func(t *testing.T) {
		b, page := open()
		ticket, csrf := consentFields(t, page)
		errorPageOf(t, post(b, ticket, csrf, "maybe"), 400)
	})
	t.Run("duplicate field", func(t *testing.T) {
		b, page := open()
		ticket, csrf := consentFields(t, page)
		body := url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {"deny", "approve"}}.Encode()
		errorPageOf(t, h.postForm(h.e, b, "/oauth/consent", body), 400)
	})
	t.Run("not a form", func(t *testing.T) {
		req := &Request{Method: "POST", Path: "/oauth/consent", Headers: Header{{"content-type", "application/json"}}}
		errorPageOf(t, h.run(h.e, req, []byte(`{}`)), 400)
	})
	t.Run("cookie crumbs", func(t *testing.T) {
		b, page := open()
		ticket, csrf := consentFields(t, page)
		var crumbs Header
		crumbs = append(crumbs, [2]string{"cookie", "a=1"})
		for k, v := range b.cookies {
			crumbs = append(crumbs, [2]string{"cookie", k + "=" + v})
		}
		crumbs = append(crumbs, [2]string{"cookie", "z=2"})
		r := h.postForm(h.e, nil, "/oauth/consent", url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {"approve"}}.Encode(), crumbs...)
		redirected(t, r, 303)
	})
	t.Run("cross-origin post refused", func(t *testing.T) {
		b, page := open()
		ticket, csrf := consentFields(t, page)
		form := url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {"approve"}}.Encode()
		for _, origin := range []string{"https://evil.example", "null", h.e.issuerOrigin() + ".evil.example"} {
			errorPageOf(t, h.postForm(h.e, b, "/oauth/consent", form, [2]string{"origin", origin}), 403)
		}
		redirected(t, h.postForm(h.e, b, "/oauth/consent", form, [2]string{"origin", h.e.issuerOrigin()}), 303)
	})
	t.Run("cookie sent twice", func(t *testing.T) {
		b, page := open()
		ticket, csrf := consentFields(t, page)
		var dup Header
		for k, v := range b.cookies {
			dup = append(dup, [2]string{"cookie", k + "=" + v}, [2]string{"cookie", k + "=" + v})
		}
		errorPageOf(t, h.postForm(h.e, nil, "/oauth/consent", url.Values{"ticket": {ticket}, "csrf": {csrf}, "action": {"approve"}}.Encode(), dup...), 403)
	})
}

// TestConsentRemembered: per user, client, resource and scopes.
func TestConsentRemembered(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"identity": `{"mode":"header","header":{"name":"x-user"}}`})))
	_, ch := pkce()
	as := func(user string, client, redirect string, over map[string]string) Reply {
		req := &Request{Method: "GET", Path: authzQuery(client, redirect, ch, over), Headers: Header{{"x-user", user}}}
		return h.run(h.e, req, nil)
	}
	b := newBrowser()
	page := as("dave", publicClient, loopbackRedirect, nil)
	b.take(page)
	redirected(t, h.answer(b, page, "approve"), 303)
	// Again: straight to the code.
	q := redirected(t, as("dave", publicClient, loopbackRedirect, nil), 302)
	if q.Get("code") == "" || q.Get("state") != "st-123" {
		t.Errorf("remembered consent: %v", q)
	}
	// Another user, client or scope set asks again.
	for name, r := range map[string]Reply{
		"user":   as("erin", publicClient, loopbackRedirect, nil),
		"client": as("dave", confidentialClient, webRedirect, nil),
		"scopes": as("dave", publicClient, loopbackRedirect, map[string]string{"scope": "mcp:tools mcp:admin"}),
	} {
		if r.Status != 200 {
			t.Errorf("other %s: status %d", name, r.Status)
		}
	}
	// A denial is not remembered.
	page = as("frank", publicClient, loopbackRedirect, nil)
	b.take(page)
	redirected(t, h.answer(b, page, "deny"), 303)
	if r := as("frank", publicClient, loopbackRedirect, nil); r.Status != 200 {
		t.Errorf("denial remembered: %d", r.Status)
	}
	// It expires.
	h.advance(721 * time.Hour)
	if r := as("dave", publicClient, loopbackRedirect, nil); r.Status != 200 {
		t.Errorf("consent remembered past its time: %d", r.Status)
	}
}
