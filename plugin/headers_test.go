package main

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestParseHeaderPairs(t *testing.T) {
	for _, h := range [][][2]string{
		{},
		{{":path", "/mcp"}},
		{{":authority", "mcp.example.com"}, {":path", "/mcp?x=1"}, {":method", "POST"}, {"authorization", "Bearer abc.def.ghi"}, {"x-empty", ""}, {"", "v"}},
	} {
		got, err := parseHeaderPairs(nil, serializeHeaderPairs(h))
		if err != nil || !reflect.DeepEqual(got, h) && !(len(got) == 0 && len(h) == 0) {
			t.Errorf("parse(serialize(%q)) = %q, %v", h, got, err)
		}
	}
	// Pairs go into dst's array when they fit, into a new one otherwise.
	var store [2][2]string
	two := [][2]string{{"a", "bc"}, {"de", "f"}}
	if got, err := parseHeaderPairs(store[:0], serializeHeaderPairs(two)); err != nil || !reflect.DeepEqual(got, two) || &got[0] != &store[0] {
		t.Errorf("two pairs with room for two: %q, %v, in dst's array: %v", got, err, err == nil && &got[0] == &store[0])
	}
	three := append(two, [2]string{"g", "h"})
	if got, err := parseHeaderPairs(store[:0], serializeHeaderPairs(three)); err != nil || !reflect.DeepEqual(got, three) || store[1] != two[1] {
		t.Errorf("three pairs with room for two: %q, %v; dst's array now %q", got, err, store)
	}
	good := serializeHeaderPairs([][2]string{{"a", "bc"}, {"de", "f"}})
	bad := map[string][]byte{
		"empty":           nil,
		"short count":     {1, 0},
		"count too large": binary.LittleEndian.AppendUint32(nil, 1<<30),
		"truncated":       good[:len(good)-1],
		"missing NUL":     append(append([]byte{}, good[:len(good)-1]...), 'x'),
		"length past end": func() []byte {
			b := append([]byte{}, good...)
			binary.LittleEndian.PutUint32(b[4:], 1<<31)
			return b
		}(),
	}
	for name, b := range bad {
		if h, err := parseHeaderPairs(nil, b); err == nil {
			t.Errorf("%s: parsed as %q", name, h)
		}
	}
}

// FuzzParseHeaderPairs: any bytes parse or fail without panicking, and
// what parses re-encodes to the same bytes.
func FuzzParseHeaderPairs(f *testing.F) {
	f.Add(serializeHeaderPairs([][2]string{{":path", "/mcp"}, {"authorization", "Bearer x"}}))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte{}, b...)
		h, err := parseHeaderPairs(nil, in)
		if err != nil {
			return
		}
		if re := serializeHeaderPairs(h); len(re) > len(b) || string(re) != string(b[:len(re)]) {
			t.Fatalf("parse(%x) = %q, re-encodes to %x", b, h, re)
		}
	})
}
