package authcore

import (
	"mime"
	"testing"
)

var mediaTypeSeeds = []string{
	"", " ", ";", "application/json", "Application/JSON ; charset=UTF-8", "application/json;",
	"application/json; ", "application/json;;", "application/json; charset", "application/json; charset=",
	`application/json; charset=""`, `application/json; charset="utf\-8"`, `application/json; charset="a\"b"`,
	"application/json; charset=\"a\rb\"", `application/json; charset="unterminated`,
	"application/json; charset=utf-8; charset=utf-8", "application/json; charset=utf-8; CHARSET=latin1",
	"application/json; a*=x; a*=y", "application/json; a*0=x; a*1=y", "application/json; a=b c",
	"application/x-www-form-urlencoded", "application/x-www-form-urlencoded;charset=utf-8",
	"application", "application/", "/json", "application/json/x", "application/js on", "application /json",
	"\u00a0application/json\u00a0", "application/json;\u0085charset=x", "applic\u212aation/json",
	"text/plain; =x", "text/plain; x==y", "text/plain; x=(y)", "text/plain ;x=y ; ", "a/b; x=\"\\\\\"",
	"a/b;x=\"é\"", "a\x00/b",
}

// TestParseMediaTypeAsMime: parseMediaType accepts and rejects what
// mime.ParseMediaType does, with the same media type.
func TestParseMediaTypeAsMime(t *testing.T) {
	for _, ct := range mediaTypeSeeds {
		checkMediaTypeAsMime(t, ct)
	}
}

func FuzzParseMediaTypeAsMime(f *testing.F) {
	for _, ct := range mediaTypeSeeds {
		f.Add(ct)
	}
	f.Fuzz(checkMediaTypeAsMime)
}

func checkMediaTypeAsMime(t *testing.T, ct string) {
	want, _, err := mime.ParseMediaType(ct)
	got, ok := parseMediaType(ct)
	if ok != (err == nil) || ok && got != want {
		t.Errorf("parseMediaType(%q) = %q, %v; mime.ParseMediaType: %q, %v", ct, got, ok, want, err)
	}
}
