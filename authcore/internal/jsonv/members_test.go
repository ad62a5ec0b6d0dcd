package jsonv

import (
	"math"
	"testing"
)

// membersAgreeWithForEach walks the document with Members, reading the
// value of every member whose index has bit i%3 set in mask, and holds
// the names and the values read to ForEach's. On text that is not JSON the
// two may read differently (a value skipped is not read the way a value
// parsed is), and the walk must only end; the guard walks a body only
// after strictjson accepted it.
func membersAgreeWithForEach(t *testing.T, doc string, mask uint8) {
	t.Helper()
	v := Parse(doc)
	if !ValidBytes([]byte(doc)) {
		m := v.Members()
		for i := 0; ; i++ {
			if _, ok := m.Next(); !ok {
				return
			}
			if mask&(1<<(i%3)) != 0 {
				m.Value()
			}
		}
	}
	type kv struct {
		k string
		v Result
	}
	var want []kv
	v.ForEach(func(k, val Result) bool {
		if k.Type == String {
			want = append(want, kv{k.Str, val})
		}
		return true
	})
	if !v.IsObject() {
		want = nil
	}
	m := v.Members()
	for i := 0; ; i++ {
		name, ok := m.Next()
		if !ok {
			if i != len(want) {
				t.Fatalf("%q: Members ended after %d members, ForEach read %d", v.Raw, i, len(want))
			}
			return
		}
		if i >= len(want) {
			t.Fatalf("%q: member %d %q past ForEach's end", v.Raw, i, name)
		}
		if name != want[i].k {
			t.Fatalf("%q: member %d is %q, ForEach %q", v.Raw, i, name, want[i].k)
		}
		if mask&(1<<(i%3)) == 0 {
			continue
		}
		got := m.Value()
		w := want[i].v
		if got.Type != w.Type || got.Raw != w.Raw || got.Str != w.Str || math.Float64bits(got.Num) != math.Float64bits(w.Num) {
			t.Fatalf("%q: member %q value %+v, ForEach %+v", v.Raw, name, got, w)
		}
		if again := m.Value(); again.Exists() {
			t.Fatalf("%q: second Value of %q is %+v", v.Raw, name, again)
		}
	}
}

func TestMembers(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `"s"`, `1`, ``, `{"a":1}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{"v":[1,{"a":"}"}]}}}`,
		`{"a\u0062":"\u00e9","c":-1.5e3,"d":true,"e":null,"f":[],"g":{}}`,
		` { "a" : 1 , "b" : [ 1 , 2 ] } `,
		`{"a":1,"b":}`, `{"a":1,"b"}`, `{"a":"x`, `{"a":{"b":1}`,
	} {
		for mask := uint8(0); mask < 8; mask++ {
			membersAgreeWithForEach(t, doc, mask)
		}
	}
	var m Members
	if v := m.Value(); v.Exists() {
		t.Errorf("Value before Next: %+v", v)
	}
}

func FuzzMembers(f *testing.F) {
	f.Add(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}`, uint8(5))
	f.Add(`{"a\u0062":"\u00e9","c":-1.5e3,"d":true}`, uint8(2))
	f.Fuzz(func(t *testing.T, doc string, mask uint8) {
		membersAgreeWithForEach(t, doc, mask)
	})
}
