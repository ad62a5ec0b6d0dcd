package jsonv

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// gjson is the reader jsonv replaced; these tests hold jsonv to it on every
// text both accept, except for the API differences the package
// documentation lists.

// sameAsGJSON compares a and b, then their members or elements, their
// lookups by every member name (plus extra names), and their accessors.
// budget bounds the values compared, so a fuzz input stays cheap.
func sameAsGJSON(t *testing.T, path string, a Result, b gjson.Result, extra []string, budget *int) {
	t.Helper()
	if *budget--; *budget < 0 {
		return
	}
	if int(a.Type) != int(b.Type) || a.Raw != b.Raw || a.Str != b.Str || math.Float64bits(a.Num) != math.Float64bits(b.Num) {
		t.Fatalf("%s: jsonv %+v, gjson {Type:%d Raw:%q Str:%q Num:%v}", path, a, b.Type, b.Raw, b.Str, b.Num)
	}
	if a.Exists() != b.Exists() || a.IsObject() != b.IsObject() || a.IsArray() != b.IsArray() || a.IsBool() != b.IsBool() {
		t.Fatalf("%s: Exists/IsObject/IsArray/IsBool differ for %q", path, a.Raw)
	}
	if a.Bool() != b.Bool() || a.String() != b.String() {
		t.Fatalf("%s: Bool %v/%v String %q/%q", path, a.Bool(), b.Bool(), a.String(), b.String())
	}
	// ForEach: the same keys (objects) and values, in order.
	type kv struct {
		k Result
		v Result
	}
	var as []kv
	a.ForEach(func(k, v Result) bool { as = append(as, kv{k, v}); return true })
	n := 0
	var names []string
	b.ForEach(func(k, v gjson.Result) bool {
		if n >= len(as) {
			t.Fatalf("%s: gjson ForEach has more than jsonv's %d values", path, len(as))
		}
		if b.IsObject() {
			if int(as[n].k.Type) != int(k.Type) || as[n].k.Raw != k.Raw || as[n].k.Str != k.Str {
				t.Fatalf("%s: key %d: jsonv %+v, gjson %q %q", path, n, as[n].k, k.Raw, k.Str)
			}
			names = append(names, k.Str)
		} else if !reflect.DeepEqual(as[n].k, Result{}) {
			t.Fatalf("%s: key %d of a non-object: %+v", path, n, as[n].k)
		}
		sameAsGJSON(t, path+"/"+strconv.Itoa(n), as[n].v, v, extra, budget)
		n++
		return true
	})
	if n != len(as) {
		t.Fatalf("%s: ForEach: jsonv %d values, gjson %d", path, len(as), n)
	}
	// Array: the same elements.
	aa, ba := a.Array(), b.Array()
	if len(aa) != len(ba) {
		t.Fatalf("%s: Array: jsonv %d elements, gjson %d", path, len(aa), len(ba))
	}
	if a.IsArray() {
		for i := range aa {
			sameAsGJSON(t, path+"["+strconv.Itoa(i)+"]", aa[i], ba[i], extra, budget)
		}
	}
	// Get: on objects the first member of the name; on anything else
	// nothing (gjson differs there: see the package documentation).
	for _, name := range append(names, extra...) {
		ag := a.Get(name)
		if !a.IsObject() {
			if ag.Exists() {
				t.Fatalf("%s: Get(%q) of a non-object exists: %+v", path, name, ag)
			}
			continue
		}
		sameAsGJSON(t, path+"."+name, ag, b.Get(gjson.Escape(name)), nil, budget)
	}
}

// compareWithGJSON checks ValidBytes against gjson.ValidBytes and, on a
// valid text, every reading of it; on any text, reading must not panic.
func compareWithGJSON(t *testing.T, data []byte, extra ...string) {
	t.Helper()
	valid := ValidBytes(data)
	if g := gjson.ValidBytes(data); valid != g {
		t.Fatalf("ValidBytes(%q) = %v, gjson %v", data, valid, g)
	}
	if !valid {
		// Unspecified but safe: walk it all the same.
		budget := 1000
		walk(ParseBytes(data), extra, &budget)
		for _, name := range extra {
			GetBytes(data, name)
		}
		return
	}
	budget := 1000
	sameAsGJSON(t, "$", ParseBytes(data), gjson.ParseBytes(data), extra, &budget)
	if ParseBytes(data).IsObject() {
		for _, name := range extra {
			sameAsGJSON(t, "GetBytes "+name, GetBytes(data, name), gjson.GetBytes(data, gjson.Escape(name)), nil, &budget)
		}
	}
}

func walk(v Result, names []string, budget *int) {
	if *budget--; *budget < 0 {
		return
	}
	_, _, _, _ = v.Exists(), v.Bool(), v.String(), v.Array()
	for _, n := range names {
		walk(v.Get(n), nil, budget)
	}
	v.ForEach(func(k, x Result) bool {
		walk(v.Get(k.Str), nil, budget)
		walk(x, names, budget)
		return true
	})
}

var corpus = []string{
	// Structure and whitespace.
	`{}`, `[]`, ` { } `, "\t[\n]\r\n", `{"a":1}`, ` {"a" : 1 , "b" :[ 1 , 2 ] } `,
	`[1,"a",true,false,null,{},[],{"x":[{"y":"z"}]}]`,
	`{"a":{"b":{"c":{"d":[[[[{"e":1}]]]]}}}}`,
	`{"a":"{\"b\":1}","b":"[1,2]","c":"}]","d":"\\","e":"\\\"}"}`,
	// Duplicate names: the first wins, also when spelled with escapes.
	`{"a":1,"a":2}`, `{"a":{"x":1},"a":{"y":2}}`, `{"n\u0061me":"first","name":"second"}`,
	`{"name":"first","n\u0061me":"second"}`,
	// Scalars at the top level.
	`1`, ` -0 `, `1.5e3`, `1E-2`, `-12.340`, `0.1`, `123456789012345678901234567890`,
	`1e400`, `-1e400`, `9007199254740993`, `-9223372036854775808`, `18446744073709551616`,
	`"str"`, `"a\"b"`, `true`, `false`, `null`, ` null `,
	// Strings: escapes, surrogates, invalid UTF-8 (gjson does not check it).
	`"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u20ac"`, `"\ud83d\ude00"`, `"\uD834\uDD1E"`,
	`"\ud800"`, `"\udc00"`, `"\ud800x"`, `"\ud800\u0041"`, `"\udc00\ud800\udc00"`,
	`"\ud800\ud800"`, `"a\ud800\\"`, `"\ud800\"12345"`, `"\u0000"`, "\"\xff\xfe\"", "\"\xed\xa0\x80\"",
	`{"k\u00e9y":"v","k\ud800":"w"}`,
	// Bool and String of strings and numbers.
	`["1","t","T","TRUE","true","True","yes","0","f","FALSE","", 0, 1, -0, 0.0, 2, 1e-400]`,
	`[1, 1.0, 1e2, -5, -5.5, 0.000001, 1e21, 12345678901234567890]`,
	// Path syntax characters are ordinary in names.
	`{"a.b":1,"a":{"b":2},"*":3,"?":4,"#":5,"|":6,"@this":7,"\\":8,"!x":9,"[a]":10,"":11,"..":12}`,
	// Invalid texts (ValidBytes must agree; reading must not panic).
	``, ` `, `{`, `}`, `[`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `NaN`, `Infinity`, `tru`, `nul`, `truex`, `[true false]`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01\"", `"\`, `{"a":1}x`, `{"a":1} {}`, `[1]]`, `[1}`,
	`{"a":1]`, "\xef\xbb\xbf{}", `{"a":"b" "c":1}`, `'a'`, `{a:1}`, `[-]`, `[--1]`, `[1.e5]`, `[0x10]`,
	`{"a":tru,"b":1}`, `{"a":[1,2}`, `[{"a":1]}`, `{"a":"\u00"}`,
}

func TestMatchesGJSONOnCorpus(t *testing.T) {
	extra := []string{"a", "b", "name", "a.b", "*", "", "x", "0", "k\u00e9y", "k\ufffd"}
	for _, s := range corpus {
		t.Run(strconv.Quote(s), func(t *testing.T) { compareWithGJSON(t, []byte(s), extra...) })
	}
}

// TestReadings pins readings that matter to authcore.
func TestReadings(t *testing.T) {
	for _, tc := range []struct {
		json, name string
		want       Result
	}{
		{`{"a":1,"a":2}`, "a", Result{Type: Number, Raw: "1", Num: 1}},
		{`{"n\u0061me":"x","name":"y"}`, "name", Result{Type: String, Raw: `"x"`, Str: "x"}},
		{`{"a.b":1,"a":{"b":2}}`, "a.b", Result{Type: Number, Raw: "1", Num: 1}},
		{`{"a":null}`, "a", Result{Type: Null, Raw: "null"}},
		{`{"a":null}`, "b", Result{}},
		{`{"s":"\ud83d\ude00 \ud800\u0041 \udc00"}`, "s", Result{Type: String, Raw: `"\ud83d\ude00 \ud800\u0041 \udc00"`, Str: "\U0001F600 \uFFFDA \uFFFD"}},
		{`{"n":1e400}`, "n", Result{Type: Number, Raw: "1e400", Num: math.Inf(1)}},
		{` {"o" : { "p" : [ 1 ] } } `, "o", Result{Type: JSON, Raw: `{ "p" : [ 1 ] }`}},
		{`{"s":"{\"a\":1}"}`, "a", Result{}},
		{`[{"a":1}]`, "a", Result{}},
	} {
		if got := ParseBytes([]byte(tc.json)).Get(tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s Get(%q) = %+v, want %+v", tc.json, tc.name, got, tc.want)
		}
	}
	if v := Parse(`{"params":{"name":"echo"}}`).Get("params").Get("name"); v.Str != "echo" {
		t.Errorf("chained Get = %+v", v)
	}
	if v := Parse(`{"s":"{\"a\":1}"}`).Get("s").Get("a"); v.Exists() {
		t.Errorf("Get of a string = %+v, want none", v)
	}
	if v := Parse(`[1,2]`).Get("0"); v.Exists() {
		t.Errorf("Get of an array = %+v, want none", v)
	}
	if r := Parse(" {\"a\":1} \n"); r.Raw != "{\"a\":1} \n" {
		t.Errorf("Parse keeps the rest of the text as Raw: %q", r.Raw)
	}
	for s, want := range map[string]string{`1`: "1", `-0`: "-0", `1.50`: "1.5", `1e2`: "100", `12345678901234567890`: "12345678901234567890", `1e400`: "+Inf"} {
		if got := Parse(s).String(); got != want {
			t.Errorf("Parse(%s).String() = %q, want %q", s, got, want)
		}
	}
	for s, want := range map[string]bool{`"1"`: true, `"TRUE"`: true, `"yes"`: false, `0`: false, `0.5`: true, `null`: false, `true`: true, `{}`: false} {
		if got := Parse(s).Bool(); got != want {
			t.Errorf("Parse(%s).Bool() = %v, want %v", s, got, want)
		}
	}
	if !Parse(`null`).Exists() || Parse(``).Exists() || Parse(` `).Exists() || (Result{}).Exists() {
		t.Error("Exists: a null exists, nothing does not")
	}
	if a := Parse(`null`).Array(); a == nil || len(a) != 0 {
		t.Errorf("Array of null = %#v, want empty", a)
	}
	if a := Parse(`"x"`).Array(); len(a) != 1 || a[0].Str != "x" {
		t.Errorf("Array of a string = %#v, want itself", a)
	}
	calls := 0
	Parse(`"x"`).ForEach(func(k, v Result) bool { calls++; return reflect.DeepEqual(k, Result{}) && v.Str == "x" })
	Result{}.ForEach(func(_, _ Result) bool { calls += 10; return true })
	if calls != 1 {
		t.Errorf("ForEach of a string: %d calls, want 1", calls)
	}
}

// TestValidDeep: ValidBytes does not recurse, so depth costs no stack.
func TestValidDeep(t *testing.T) {
	const n = 1 << 20
	deep := strings.Repeat("[", n) + strings.Repeat("]", n)
	if !ValidBytes([]byte(deep)) {
		t.Error("deep array refused")
	}
	if ValidBytes([]byte(deep[:len(deep)-1])) {
		t.Error("unclosed deep array accepted")
	}
	obj := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	if !ValidBytes([]byte(obj)) {
		t.Error("deep object refused")
	}
	if v := Parse(obj).Get("a").Get("a").Get("a"); !v.IsObject() {
		t.Errorf("deep Get = %.20q", v.Raw)
	}
}

// FuzzMatchesGJSON is the differential fuzz target: on any input jsonv and
// gjson agree on validity, and on a valid text on every reading authcore
// makes (see sameAsGJSON); on an invalid one jsonv must not panic.
func FuzzMatchesGJSON(f *testing.F) {
	for _, s := range corpus {
		f.Add([]byte(s), "a")
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`), "method")
	f.Add([]byte(`{"iss":"https://as.example","sub":"u1","aud":["r1","r2"],"exp":1900000000,"scope":"a b","groups":["x"]}`), "aud")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		compareWithGJSON(t, data, name)
	})
}
