package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// sdkSerialize is the header map format as documented by the SDK's
// SerializeMap, written independently for the test.
func sdkSerialize(pairs [][2]string) []byte {
	var sizes, data bytes.Buffer
	for _, p := range pairs {
		_ = binary.Write(&sizes, binary.LittleEndian, uint32(len(p[0])))
		_ = binary.Write(&sizes, binary.LittleEndian, uint32(len(p[1])))
		data.WriteString(p[0])
		data.WriteByte(0)
		data.WriteString(p[1])
		data.WriteByte(0)
	}
	var out bytes.Buffer
	_ = binary.Write(&out, binary.LittleEndian, uint32(len(pairs)))
	out.Write(sizes.Bytes())
	out.Write(data.Bytes())
	return out.Bytes()
}

func TestPairsRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][2]string
	}{
		{"empty", [][2]string{}},
		{"one", [][2]string{{":path", "/a?b=c"}}},
		{"repeated and empty values", [][2]string{{"set-cookie", "a=1"}, {"set-cookie", "b=2"}, {"x-empty", ""}}},
		{"binary-ish", [][2]string{{"k", "v\x01\xff"}, {"", "empty key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodePairs(tt.pairs)
			if want := sdkSerialize(tt.pairs); !bytes.Equal(enc, want) {
				t.Fatalf("encodePairs = %x, want SDK format %x", enc, want)
			}
			// Module memory is not zeroed: the terminators must be written.
			dirty := bytes.Repeat([]byte{0xff}, pairsSize(tt.pairs))
			if encodePairsInto(dirty, tt.pairs); !bytes.Equal(dirty, enc) {
				t.Fatalf("encodePairsInto over dirty memory = %x, want %x", dirty, enc)
			}
			dec, err := decodePairs(enc)
			if err != nil {
				t.Fatal(err)
			}
			if len(dec) != len(tt.pairs) || (len(dec) > 0 && !reflect.DeepEqual(dec, tt.pairs)) {
				t.Fatalf("decodePairs = %q, want %q", dec, tt.pairs)
			}
		})
	}
}

func TestDecodePairsMalformed(t *testing.T) {
	good := encodePairs([][2]string{{"key", "value"}})
	tests := map[string][]byte{
		"short count":     {1, 0},
		"count too large": {0xff, 0xff, 0xff, 0x7f},
		"truncated data":  good[:len(good)-3],
		"key size past end": func() []byte {
			b := append([]byte(nil), good...)
			binary.LittleEndian.PutUint32(b[4:], 1000)
			return b
		}(),
	}
	for _, name := range sortedKeys(tests) {
		if _, err := decodePairs(tests[name]); !errors.Is(err, errBadPairs) {
			t.Errorf("%s: err = %v, want errBadPairs", name, err)
		}
	}
	if p, err := decodePairs(nil); err != nil || p != nil {
		t.Errorf("decodePairs(nil) = %v, %v", p, err)
	}
}

func TestHeaderMapOperations(t *testing.T) {
	m := headerMap{{":path", "/"}, {"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}}
	if v, ok := m.get("X-A"); !ok || v != "1" {
		t.Errorf("get returns %q, %v; want the first value, as Envoy", v, ok)
	}
	if got := m.values("x-a"); !reflect.DeepEqual(got, []string{"1", "3"}) {
		t.Errorf("values = %q", got)
	}
	m.replace("X-A", "new")
	if want := (headerMap{{":path", "/"}, {"x-a", "new"}, {"x-b", "2"}}); !reflect.DeepEqual(m, want) {
		t.Errorf("after replace: %q, want %q", m, want)
	}
	m.replace("x-c", "added")
	m.add("X-D", "d")
	m.remove("x-b")
	if want := (headerMap{{":path", "/"}, {"x-a", "new"}, {"x-c", "added"}, {"x-d", "d"}}); !reflect.DeepEqual(m, want) {
		t.Errorf("after replace-absent, add, remove: %q, want %q", m, want)
	}
	m.set([][2]string{{"K", "v"}})
	if want := (headerMap{{"k", "v"}}); !reflect.DeepEqual(m, want) {
		t.Errorf("after set: %q, want %q", m, want)
	}
}
