package uri

import (
	"net/url"
	"strings"
	"testing"
)

// stricterHost reports the inputs this package refuses on purpose and
// net/url accepts: an authority whose host has a percent-escape or a byte
// outside ASCII.
func stricterHost(s string) bool {
	s, _, _ = strings.Cut(s, "#")
	s, _, _ = strings.Cut(s, "?")
	_, rest, found := strings.Cut(s, "//")
	if !found {
		return false
	}
	a, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		a = a[i+1:]
	}
	for i := 0; i < len(a); i++ {
		if a[i] == '%' || a[i] >= 0x80 {
			return true
		}
	}
	return false
}

// compare fails t unless Parse and net/url.Parse agree on s: both refuse
// it, or both accept it with the same components and derived values; or
// net/url accepts what stricterHost describes.
func compare(t *testing.T, s string) {
	t.Helper()
	mine, err := Parse(s)
	theirs, theirErr := url.Parse(s)
	switch {
	case err != nil && theirErr != nil:
		return
	case err != nil:
		if !stricterHost(s) {
			t.Fatalf("%q: refused (%v), net/url accepts %#v", s, err, theirs)
		}
		return
	case theirErr != nil:
		t.Fatalf("%q: accepted %#v, net/url refuses: %v", s, mine, theirErr)
	}
	got := []string{mine.Scheme, mine.Opaque, mine.Host, mine.Path, mine.RawPath, mine.RawQuery, mine.Fragment,
		mine.Hostname(), mine.Port(), mine.EscapedPath(), mine.RequestURI()}
	want := []string{theirs.Scheme, theirs.Opaque, theirs.Host, theirs.Path, theirs.RawPath, theirs.RawQuery, theirs.Fragment,
		theirs.Hostname(), theirs.Port(), theirs.EscapedPath(), theirs.RequestURI()}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q: component %d is %q, net/url %q", s, i, got[i], want[i])
		}
	}
	if mine.HasUser != (theirs.User != nil) || mine.ForceQuery != theirs.ForceQuery || mine.OmitHost != theirs.OmitHost || mine.IsAbs() != theirs.IsAbs() {
		t.Fatalf("%q: %#v, net/url %#v", s, mine, theirs)
	}
}

var seeds = []string{
	"https://as.example.com", "https://as.example.com/", "https://as.example.com:8443/a/b?x=1&y=2#frag",
	"http://127.0.0.1:51004/callback", "http://[::1]:8080/cb", "http://localhost/cb?",
	"com.example.app:/oauth2redirect", "com.example.app:callback", "urn:ietf:wg:oauth:2.0:oob",
	"https://user:pass@h.example/", "https://u@h@h.example/", "https://h.example:/", "https://h.example:0x1/",
	"https://a:b:80/", "foo://a:b:80/", "https://[fe80::1%25en0]/", "https://[1.2.3.4]/", "https://h[x]/",
	"https://h.example/a%20b/%2F?q=%zz#f%41", "https://h.example/a b", "https://h.example/%", "https://h.example/%4",
	"https://h.example/%41", "//h.example/p", "///p", "/p?x", "p/q", "a:b/c", ":x", "*", "", "?", "#", "#%",
	"HTTPS://H.EXAMPLE/P", "https://h.example/!*'()", "https://h.example/?a;b", "https://h%41.example/",
	"https://\u00e9.example/", "https://h.example/\u00e9", "https://h.example/\x01", "https://h.example/#\x01",
	"mailto:a@b", "https:///p", "https:/p", "https:", "https://", "https://h.example?x", "https://[::1",
	"https://[::1]x/", "https://[::ffff:1.2.3.4]/", "https://h.example/a/./b/../c",
}

func TestAgainstNetURL(t *testing.T) {
	for _, s := range seeds {
		compare(t, s)
	}
}

// FuzzAgainstNetURL: on any input Parse agrees with net/url.Parse, apart
// from the hosts it refuses on purpose.
func FuzzAgainstNetURL(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		compare(t, s)
	})
}

// FuzzParseQuery: ParseQuery gives net/url.ParseQuery's values, and fails
// where it fails.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=1&a=2", "a", "=x", "a=%zz&b=1", "a;b=1", "a+b=c+d", "&&a=%41", "a=1;b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		mine, err := ParseQuery(q)
		theirs, theirErr := url.ParseQuery(q)
		if (err == nil) != (theirErr == nil) || mine.Encode() != theirs.Encode() {
			t.Fatalf("%q: %v %v, net/url %v %v", q, mine, err, theirs, theirErr)
		}
	})
}

func TestParseQueryLimit(t *testing.T) {
	q := strings.Repeat("a=1&", 9999) + "a=1"
	if _, err := ParseQuery(q); err != nil {
		t.Fatalf("10000 pairs: %v", err)
	}
	if _, err := ParseQuery(q + "&b=2"); err == nil {
		t.Fatal("10001 pairs accepted")
	}
	if _, err := url.ParseQuery(q + "&b=2"); err == nil {
		t.Fatal("net/url's limit moved")
	}
}

// FuzzQueryEscapingAgainstNetURL holds QueryUnescape and QueryEscape to
// net/url's: the same result and the same refusals, and what QueryEscape
// writes QueryUnescape reads back.
func FuzzQueryEscapingAgainstNetURL(f *testing.F) {
	for _, s := range []string{"", "a+b%20c", "%zz", "%4", "%41%42+", "é ~-_.!*'()/?#&=;", "+%2B%2b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := QueryUnescape(s)
		want, werr := url.QueryUnescape(s)
		if (err == nil) != (werr == nil) || got != want {
			t.Fatalf("QueryUnescape(%q) = %q, %v; net/url: %q, %v", s, got, err, want, werr)
		}
		if e := QueryEscape(s); e != url.QueryEscape(s) {
			t.Fatalf("QueryEscape(%q) = %q; net/url: %q", s, e, url.QueryEscape(s))
		} else if back, err := QueryUnescape(e); err != nil || back != s {
			t.Fatalf("QueryUnescape(QueryEscape(%q)) = %q, %v", s, back, err)
		}
	})
}
