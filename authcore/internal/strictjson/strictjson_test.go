package strictjson

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckAccepts(t *testing.T) {
	for _, s := range []string{
		`0`, `-0`, `1.5e+10`, `-12.0E-3`, `"x"`, `true`, `false`, `null`, ` {} `, `[]`,
		"\t[1, 2 ,3]\r\n",
		`{"a":{"b":[{"c":null}]},"d":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t"}`,
		`{"name":1,"nam":2,"names":3}`,
		`[{"a":1},{"a":2}]`,                  // same name in different objects
		`{"a":{"a":{"a":1}}}`,                // same name at different levels
		`{"a":{"x":1,"y":2},"b":{"x":1}}`,    // a closed object's names are forgotten
		"{\"\u00e9\":1,\"e\\u0301\":2}",      // no Unicode normalisation (RFC 8259 §8.3)
		`{"":1,"\u0000":2}`,                  // empty name and NUL differ
		`"` + strings.Repeat("é", 100) + `"`, // multi-byte UTF-8
	} {
		if err := Check([]byte(s), Options{}); err != nil {
			t.Errorf("Check(%q) = %v, want nil", s, err)
		}
		if !json.Valid([]byte(s)) {
			t.Errorf("test input %q is not JSON for encoding/json", s)
		}
	}
}

func TestCheckSyntax(t *testing.T) {
	for _, s := range []string{
		``, ` `, `{`, `[`, `]`, `}`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `[1 2]`,
		`{"a":1 "b":2}`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `NaN`, `Infinity`, `tru`, `nul`,
		`"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01\"", "\"\xff\"", "\"\xc3\"", "\xef\xbb\xbf{}",
		`{} {}`, `[] x`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`, `{"\udfff":1}`,
		`[1}`, `{"a":1]`, `'a'`,
	} {
		err := Check([]byte(s), Options{})
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Check(%q) = %v, want *SyntaxError", s, err)
		}
	}
}

func TestCheckDuplicates(t *testing.T) {
	for _, tc := range []struct{ in, path, name string }{
		{`{"name":"echo","name":"admin_stats"}`, "name", "name"},
		{`{"params":{"name":"echo","n\u0061me":"admin"}}`, "params.name", "name"},
		{`{"jsonrpc":"2.0","method":"a","id":1,"method":"b"}`, "method", "method"},
		{`[{"ok":1},{"params":{"x":1},"params":{"y":2}}]`, "[1].params", "params"},
		{`{"a":[1,{"b":[{"c":1,"\u0063":2}]}]}`, "a[1].b[0].c", "c"},
		{`{"\ud83d\ude00":1,"😀":2}`, `😀`, "😀"},
		{`{"":1,"":2}`, `""`, ""},
		{`{"a.b":1,"a.b":2}`, `"a.b"`, "a.b"},
		{`{"x":{"\/":1,"/":2}}`, `x./`, "/"},
	} {
		err := Check([]byte(tc.in), Options{})
		var de *DuplicateError
		if !errors.As(err, &de) {
			t.Errorf("Check(%q) = %v, want *DuplicateError", tc.in, err)
			continue
		}
		if de.Path != tc.path || de.Name != tc.name {
			t.Errorf("Check(%q): path %q name %q, want %q %q", tc.in, de.Path, de.Name, tc.path, tc.name)
		}
		if de.Offset <= 0 || tc.in[de.Offset] != '"' {
			t.Errorf("Check(%q): offset %d is not a member name", tc.in, de.Offset)
		}
		if err := Check([]byte(tc.in), Options{AllowDuplicates: true}); err != nil {
			t.Errorf("Check(%q, AllowDuplicates) = %v", tc.in, err)
		}
	}
}

// TestCheckDuplicatesManyNames: a large object is checked in n log n, and
// the second occurrence is the one reported.
func TestCheckDuplicatesManyNames(t *testing.T) {
	name := func(i int) string { return "k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i) }
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 50000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + name(i) + `":0`)
	}
	ok := b.String() + "}"
	if err := Check([]byte(ok), Options{}); err != nil {
		t.Fatalf("unique names: %v", err)
	}
	dup := b.String() + `,"` + name(12345) + `":1}`
	var de *DuplicateError
	if err := Check([]byte(dup), Options{}); !errors.As(err, &de) || de.Name != name(12345) || de.Offset != len(b.String())+1 {
		t.Fatalf("duplicate at the end: %v", err)
	}
}

func TestCheckDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	if err := Check([]byte(nest(DefaultMaxDepth)), Options{}); err != nil {
		t.Fatalf("depth %d: %v", DefaultMaxDepth, err)
	}
	var de *DepthError
	if err := Check([]byte(nest(DefaultMaxDepth+1)), Options{}); !errors.As(err, &de) || de.Limit != DefaultMaxDepth || de.Offset != DefaultMaxDepth {
		t.Fatalf("depth %d: %v", DefaultMaxDepth+1, err)
	}
	if err := Check([]byte(`{"a":[{"b":[1]}]}`), Options{MaxDepth: 3}); !errors.As(err, &de) || de.Path != "a[0].b" {
		t.Fatalf("path of the too-deep value: %v", err)
	}
	if err := Check([]byte(`{"a":[{"b":1}]}`), Options{MaxDepth: 3}); err != nil {
		t.Fatal(err)
	}
	if err := Check([]byte(`1`), Options{MaxDepth: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestCheckWorstShapes: a MiB of the shapes that break recursive
// readers are refused quickly and without growing the stack (a recursive
// reader needs a frame per level; this one keeps MaxDepth frames).
func TestCheckWorstShapes(t *testing.T) {
	const size = 1 << 20
	for name, in := range map[string]string{
		"open arrays":   strings.Repeat("[", size),
		"open objects":  strings.Repeat(`{"a":`, size/5),
		"nested closed": strings.Repeat("[", size/2) + strings.Repeat("]", size/2),
		"many members":  "{" + strings.Repeat(`"a":0,`, size/6) + `"b":0}`,
		"long string":   `"` + strings.Repeat(`\u00e9`, size/6) + `"`,
		"wide array":    "[" + strings.Repeat("0,", size/2) + "0]",
	} {
		err := Check([]byte(in), Options{MaxDepth: 1 << 30})
		if name == "nested closed" || name == "long string" || name == "wide array" {
			if err != nil {
				t.Errorf("%s with no depth limit: %v", name, err)
			}
		}
		if err := Check([]byte(in), Options{}); err == nil && name != "long string" && name != "wide array" {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`"abc"`: "abc", `"n\u0061me"`: "name", `"\ud83d\ude00"`: "😀", `"\"\\\/"`: `"\/`, `""`: "",
	} {
		if got := Unquote([]byte(in)); got != want {
			t.Errorf("Unquote(%s) = %q, want %q", in, got, want)
		}
	}
}

// tokenWalk is an independent reading of data with encoding/json's
// tokenizer: it reports whether some object repeats a name (as
// encoding/json decodes names) and the deepest nesting.
func tokenWalk(data []byte) (dup bool, depth int, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type level struct {
		obj     bool
		names   map[string]bool
		wantKey bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return dup, depth, nil
		}
		if err != nil {
			return dup, depth, err
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top != nil && top.obj && top.wantKey {
			name := tok.(string)
			if top.names[name] {
				dup = true
			}
			top.names[name] = true
			top.wantKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &level{obj: d == '{', names: map[string]bool{}, wantKey: d == '{'})
			depth = max(depth, len(stack))
			continue
		}
		if top != nil && top.obj {
			top.wantKey = true
		}
	}
}

// FuzzCheck holds Check against encoding/json: what Check accepts is valid
// JSON without repeated names within its depth; what it refuses as a
// duplicate or too deep is valid JSON with a repeated name or deeper
// nesting; what it refuses as syntax is either not JSON for encoding/json
// or holds invalid UTF-8 or a lone surrogate, which encoding/json replaces
// with U+FFFD instead of refusing.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`,
		`{"params":{"n\u0061me":"a","name":"b"}}`, `[[[[[]]]]]`, `[{"a":1},{"a":1,"b":[{"a":1,"a":2}]}]`,
		`"\ud800"`, `"\ud83d\ude00"`, "\"\xff\"", `1e5`, `-0.0`, `{"a":1,}`, `{"\u00e9":1,"é":2}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, depth uint8) {
		maxDepth := int(depth % 12)
		err := Check(data, Options{MaxDepth: maxDepth})
		if maxDepth == 0 {
			maxDepth = DefaultMaxDepth
		}
		valid := json.Valid(data)
		var se *SyntaxError
		var de *DepthError
		var du *DuplicateError
		switch {
		case err == nil:
			if !valid {
				t.Fatalf("accepted what encoding/json refuses: %q", data)
			}
			dup, d, werr := tokenWalk(data)
			if werr != nil || dup || d > maxDepth {
				t.Fatalf("accepted %q: duplicate %v depth %d (limit %d) walk error %v", data, dup, d, maxDepth, werr)
			}
			if !utf8.Valid(data) {
				t.Fatalf("accepted invalid UTF-8: %q", data)
			}
		case errors.As(err, &se):
			if valid && utf8.Valid(data) && !strings.Contains(se.Msg, "surrogate") {
				t.Fatalf("syntax error %v for valid JSON %q", err, data)
			}
		case errors.As(err, &de):
			if !valid {
				// Depth is checked while reading: invalid text after a
				// too-deep prefix is fine.
				return
			}
			if _, d, _ := tokenWalk(data); d <= maxDepth {
				t.Fatalf("depth error %v but depth is %d: %q", err, d, data)
			}
		case errors.As(err, &du):
			if valid && utf8.Valid(data) {
				if dup, _, _ := tokenWalk(data); !dup {
					t.Fatalf("duplicate error %v but no repeated name: %q", err, data)
				}
			}
		default:
			t.Fatalf("unexpected error type %T", err)
		}
	})
}

// TestImportsOnlyStdlib: strictjson is a leaf of authcore: the standard
// library and the heapsort leaf, nothing else of authcore.
func TestImportsOnlyStdlib(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/mcpgate/mcpgate/authcore/internal/strictjson": true,
		"github.com/mcpgate/mcpgate/authcore/internal/heapsort":   true,
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		if !allowed[d] {
			t.Fatalf("strictjson depends on %v; only the standard library and heapsort are allowed", deps)
		}
	}
}

// A JSON-RPC message is checked without a heap allocation: in wasm each
// allocation costs the guarded request more than the check itself.
func TestCheckSmallDocumentDoesNotAllocate(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true,"n\u0061me":1}}}`)
	if err := Check(body, Options{}); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _ = Check(body, Options{}) }); n != 0 {
		t.Errorf("Check allocated %v times per call, want 0", n)
	}
	// A document deeper and wider than the checker's buffers still checks,
	// and the grown checker is not kept for the next one.
	big := []byte(`[[[[[[[[[[{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":0}]]]]]]]]]`)
	if _, ok := Check(big, Options{}).(*DuplicateError); !ok {
		t.Fatalf("duplicate in a large document: %v", Check(big, Options{}))
	}
	if err := Check(body, Options{}); err != nil {
		t.Fatal(err)
	}
}

// checkBothWays checks data with small objects compared pairwise (the
// default) and with every object hashed and sorted, and fails if the two
// differ in any way: verdict, error type, offset, path or name.
func checkBothWays(t *testing.T, data []byte) {
	t.Helper()
	pairwise := Check(data, Options{})
	saved := smallObject
	smallObject = 0
	hashed := Check(data, Options{})
	smallObject = saved
	if (pairwise == nil) != (hashed == nil) || pairwise != nil && pairwise.Error() != hashed.Error() {
		t.Fatalf("%q: pairwise %v, hashed %v", data, pairwise, hashed)
	}
	var a, b *DuplicateError
	if errors.As(pairwise, &a) && errors.As(hashed, &b) && !reflect.DeepEqual(*a, *b) {
		t.Fatalf("%q: pairwise %+v, hashed %+v", data, *a, *b)
	}
}

func TestSmallObjectsAsHashed(t *testing.T) {
	for _, s := range []string{
		`{"a":1,"b":2,"a":3}`, `{"a":1,"b":2,"b":3,"a":4}`, `{"n\u0061me":1,"name":2}`, `{"\u00e9":1,"é":2}`,
		`{"a":{"x":1,"y":2,"x":3},"a":2}`, `[{"a":1},{"b":1,"c":2,"d":3,"e":4,"f":5,"g":6,"h":7,"b":8}]`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":0}`, `{"ab":1,"ba":2,"a\u0062":3}`,
	} {
		checkBothWays(t, []byte(s))
	}
}

func FuzzSmallObjectsAsHashed(f *testing.F) {
	f.Add([]byte(`{"params":{"n\u0061me":"a","name":"b"}}`))
	f.Add([]byte(`{"a":1,"b":{"c":1,"c":2},"b":3}`))
	f.Fuzz(checkBothWays)
}

// FuzzSortEntries: sortEntries orders any entries as slices.SortFunc does
// by hash, then offset.
func FuzzSortEntries(f *testing.F) {
	f.Add([]byte{3, 1, 2, 2, 9, 0, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		ks := make([]keyEntry, len(b))
		for i, x := range b {
			ks[i] = keyEntry{hash: uint64(x % 5), off: i}
		}
		want := append([]keyEntry(nil), ks...)
		slices.SortFunc(want, func(a, b keyEntry) int {
			if a.hash != b.hash {
				return cmp.Compare(a.hash, b.hash)
			}
			return a.off - b.off
		})
		sortEntries(ks)
		if !slices.Equal(ks, want) {
			t.Fatalf("%v, want %v", ks, want)
		}
	})
}
