package authcore

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

func TestAppendHTML(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{`<script>alert("x")</script>`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"},
		{"a&b", "a&amp;b"},
		{"it's", "it&#39;s"},
		{"&amp;", "&amp;amp;"},
		{"nul\x00", "nul\uFFFD"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"ünïcødé ✓", "ünïcødé ✓"},
	}
	for _, tt := range tests {
		if got := string(appendHTML(nil, tt.in)); got != tt.want {
			t.Errorf("appendHTML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// sanitized is what a browser shows for s after appendHTML: s with NUL and
// each byte of invalid UTF-8 replaced by U+FFFD (Go's string-to-rune
// conversion, independent of appendHTML's own loop).
func sanitized(s string) string {
	s = string([]rune(s))
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// parsedPage finds the text of the first element named tag with the given
// attribute value (any when attr is ""), and the value attribute of the
// input named input.
func parsedPage(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for _, c := range findAll(n, func(c *html.Node) bool { return c.Type == html.TextNode }) {
		b.WriteString(c.Data)
	}
	return b.String()
}

func attrOf(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// TestConsentPageParsesBack renders the consent page with hostile values
// and parses it as a browser would: each value comes back as exactly the
// text or attribute value it was, and no element or attribute appears that
// the page does not write itself.
func TestConsentPageParsesBack(t *testing.T) {
	evil := `"><script>x()</script><img src=x onerror='y()'>&amp;`
	v := consentView{
		ClientName: "A " + evil, ClientID: "c", Source: 2, SourceHost: "h" + evil,
		RedirectHost: "r" + evil, AllLoopback: true, Subject: "s" + evil,
		ResourceName: "n" + evil, ResourceURI: "u" + evil,
		Scopes: []string{"a" + evil, "b\x00\xff"}, Action: "/consent?" + evil,
		Ticket: "t" + evil, CSRF: "c" + evil, Remember: "30 days" + evil,
	}
	doc := parsedPage(t, renderConsent(v))
	if n := findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && (n.Data == "script" || n.Data == "img") }); len(n) != 0 {
		t.Fatalf("injected elements parsed: %d", len(n))
	}
	el := func(tag string) []*html.Node {
		return findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == tag })
	}
	if got, want := textOf(el("h1")[0]), "Allow “"+v.ClientName+"” to access "+v.ResourceName+"?"; got != want {
		t.Errorf("h1 %q, want %q", got, want)
	}
	dd := el("dd")
	for i, want := range []string{v.Subject, v.ResourceURI, v.Scopes[0] + sanitized(v.Scopes[1]), v.RedirectHost} {
		if got := textOf(dd[i]); got != want {
			t.Errorf("dd %d: %q, want %q", i, got, want)
		}
	}
	if got := attrOf(el("form")[0], "action"); got != v.Action {
		t.Errorf("form action %q, want %q", got, v.Action)
	}
	inputs := el("input")
	if len(inputs) != 2 || attrOf(inputs[0], "value") != v.Ticket || attrOf(inputs[1], "value") != v.CSRF {
		t.Errorf("hidden inputs %+v", inputs)
	}
	if got := textOf(el("strong")[0]); got != v.SourceHost {
		t.Errorf("source host %q", got)
	}
	for _, n := range el("p") {
		if attrOf(n, "class") == "note" && !strings.Contains(textOf(n), v.Remember) {
			t.Errorf("remember note %q", textOf(n))
		}
	}
	for _, s := range []ClientSource{0, 1} {
		v.Source, v.ClientName, v.ResourceName, v.Scopes, v.AllLoopback, v.Remember = s, "", "", nil, false, ""
		page := string(renderConsent(v))
		if !strings.Contains(page, "an unnamed application") || !strings.Contains(page, "this server?") || !strings.Contains(page, "basic access") || strings.Contains(page, `class="warn"`) || strings.Contains(page, `class="note"`) {
			t.Errorf("source %d page lacks its defaults:\n%s", s, page)
		}
	}
}

func TestErrorPageParsesBack(t *testing.T) {
	desc := `bad <b>request</b> & "quotes"`
	doc := parsedPage(t, renderErrorPage("invalid_request", desc))
	ps := findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "p" })
	if len(ps) != 2 || textOf(ps[0]) != desc || !strings.Contains(textOf(ps[1]), "invalid_request") {
		t.Fatalf("error page paragraphs wrong")
	}
	if n := findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "b" }); len(n) != 0 {
		t.Fatal("markup in the description was parsed")
	}
}

// FuzzAppendHTML checks that any string, escaped, parses back as the same
// text inside an element and inside a quoted attribute value.
func FuzzAppendHTML(f *testing.F) {
	for _, s := range []string{"", "<a>", `"'&`, "\x00", "\xff", "&lt;", "]]>", "<!--", "</p>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := append([]byte(`<p title="`), appendHTML(nil, s)...)
		b = append(b, `">`...)
		b = appendHTML(b, s)
		b = append(b, "</p>"...)
		if !utf8.Valid(b) {
			t.Fatalf("output not UTF-8: %q", b)
		}
		doc, err := html.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		ps := findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "p" })
		if len(ps) != 1 {
			t.Fatalf("%q parsed into %d paragraphs", s, len(ps))
		}
		want := sanitized(s)
		// The HTML parser normalizes CR and CRLF to LF in text and attributes.
		want = strings.ReplaceAll(strings.ReplaceAll(want, "\r\n", "\n"), "\r", "\n")
		if got := attrOf(ps[0], "title"); got != want {
			t.Fatalf("attribute %q, want %q", got, want)
		}
		if got := textOf(ps[0]); got != want {
			t.Fatalf("text %q, want %q", got, want)
		}
	})
}
