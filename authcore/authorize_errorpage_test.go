package authcore

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var errorLinkRE = regexp.MustCompile(`<a href="([^"]*)">Return to ([^<]*)</a>`)

// errorLinkOf checks that r is the error page with a link (never a
// Location) that names host, and returns the link's query.
func errorLinkOf(t testing.TB, r Reply, status int, host string) url.Values {
	t.Helper()
	if r.Status != status || r.Headers.Get("location") != "" || !strings.HasPrefix(r.Headers.Get("content-type"), "text/html") {
		t.Fatalf("want a %d error page without Location, got %d %v", status, r.Status, r.Headers)
	}
	m := errorLinkRE.FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no link on the page:\n%s", r.Body)
	}
	if string(m[2]) != host || !strings.Contains(string(r.Body), "<strong>"+host+"</strong>") {
		t.Errorf("page names %q, want %q", m[2], host)
	}
	u, err := url.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != host && u.Scheme+":" != host {
		t.Errorf("link %s does not go to %s", u, host)
	}
	return u.Query()
}

// A private-use scheme survives html/template's URL filter; javascript: is
// never a link.
func TestErrorLinkPageSchemes(t *testing.T) {
	e := newTestEngine(t, "as-dev")
	c := &Client{Name: "X", Source: ClientDynamic}
	for uri, want := range map[string]bool{
		"com.example.app:/cb":    true,
		"https://app.example/cb": true,
		"javascript:alert(1)":    false,
	} {
		ar := &authzRequest{RedirectURI: uri, State: "s"}
		r := e.authorizeErrorFor(c, ar, ErrCodeInvalidScope, "bad scope", 400)
		has := errorLinkRE.Match(r.Body)
		if has != want || r.Headers.Get("location") != "" {
			t.Errorf("%s: link %v, want %v\n%s", uri, has, want, r.Body)
		}
		if want && !strings.Contains(string(r.Body), "iss=") {
			t.Errorf("%s: the link lacks iss", uri)
		}
	}
}
