package authcore

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseForm(t *testing.T) {
	cases := []struct {
		in   string
		want form
		dup  string
		bad  bool
	}{
		{"", form{}, "", false},
		{"a=1&b=x+y&c=%2F", form{"a": "1", "b": "x y", "c": "/"}, "", false},
		{"a=&b=2", form{"b": "2"}, "", false}, // empty value = omitted
		{"a&b=2", form{"b": "2"}, "", false},
		{"&&a=1&", form{"a": "1"}, "", false},
		{"a=1&a=2", form{"a": "1"}, "a", false},
		{"a=1&b=2&a=", form{"a": "1", "b": "2"}, "a", false},
		{"a=%zz", nil, "", true},
		{"a%=1", nil, "", true},
		{"a=1;b=2", form{"a": "1;b=2"}, "", false},
		{strings.Repeat("x=1&", 1) + strings.Repeat("y", maxFormLen), nil, "", true},
	}
	for _, tc := range cases {
		f, err := parseForm(tc.in)
		var fe *formError
		switch {
		case tc.bad:
			if err == nil || f != nil {
				t.Errorf("%.40q: accepted", tc.in)
			}
		case tc.dup != "":
			if !errors.As(err, &fe) || fe.Param != tc.dup || !errors.Is(err, errDuplicateParam) || !reflect.DeepEqual(f, tc.want) {
				t.Errorf("%q: %v %v", tc.in, f, err)
			}
		default:
			if err != nil || !reflect.DeepEqual(f, tc.want) {
				t.Errorf("%q: %v %v, want %v", tc.in, f, err, tc.want)
			}
		}
	}
	many := strings.Repeat("a=1&", 0)
	for i := 0; i <= maxFormParams; i++ {
		many += "p" + itoa64(int64(i)) + "=1&"
	}
	if _, err := parseForm(many); err == nil {
		t.Errorf("more than %d parameters accepted", maxFormParams)
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string][]string{
		"":          nil,
		"a":         {"a"},
		"a b a":     {"a", "b"},
		"mcp:tools": {"mcp:tools"},
	} {
		got, ok := parseScope(in)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("parseScope(%q) = %v %v", in, got, ok)
		}
	}
	for _, in := range []string{"a  b", " a", "a ", "a\tb", `a"b`, "a\\b", "é"} {
		if _, ok := parseScope(in); ok {
			t.Errorf("parseScope(%q) accepted", in)
		}
	}
}

func TestAppendQuery(t *testing.T) {
	p := [][2]string{{"code", "a b"}, {"iss", "https://x/"}}
	for in, want := range map[string]string{
		"https://c/cb":       "https://c/cb?code=a+b&iss=https%3A%2F%2Fx%2F",
		"https://c/cb?x=1":   "https://c/cb?x=1&code=a+b&iss=https%3A%2F%2Fx%2F",
		"https://c/cb?":      "https://c/cb?code=a+b&iss=https%3A%2F%2Fx%2F",
		"com.example.app:/c": "com.example.app:/c?code=a+b&iss=https%3A%2F%2Fx%2F",
	} {
		if got := appendQuery(in, p); got != want {
			t.Errorf("appendQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContentTypes(t *testing.T) {
	if !isFormContentType("application/x-www-form-urlencoded; charset=UTF-8") || !isFormContentType("Application/X-WWW-Form-Urlencoded") ||
		isFormContentType("application/json") || isFormContentType("") || isFormContentType("multipart/form-data; boundary=x") {
		t.Errorf("isFormContentType")
	}
	if !isJSONContentType("application/json; charset=utf-8") || isJSONContentType("text/json") {
		t.Errorf("isJSONContentType")
	}
}
