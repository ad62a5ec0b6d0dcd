package jsonw

import (
	"bytes"
	"encoding/json"
	"testing"
)

var stringSeeds = []string{
	"", "plain", `"\`, "<a href='x'>&amp;</a>", "\b\f\n\r\t\x00\x01\x1f\x7f", "\u2028\u2029\u2027\u202a",
	"\xff", "a\xc3", "\xed\xa0\x80", "é日本\U0001F600", "\xf4\x90\x80\x80", "\xe2\x80", "\xe2\x80\xa8x",
}

func checkString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := String(nil, s); !bytes.Equal(got, want) {
		t.Errorf("String(%q) = %s, encoding/json: %s", s, got, want)
	}
}

func TestString(t *testing.T) {
	for _, s := range stringSeeds {
		checkString(t, s)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

var rawSeeds = []string{
	`null`, `1`, `-1.5e+3`, `"x"`, ` [ 1 , "a b" , {"k" : "<&>"} ] `, "{\"\u2028\":\"\\\"\u2029\"}",
	"\t{\n\"a\\\\\" : [ ] ,\r\"b\":{ }}", `"\u003c"`, `true`, `[null,false]`,
}

func checkRaw(t *testing.T, v string) {
	if !json.Valid([]byte(v)) {
		return
	}
	want, err := json.Marshal(json.RawMessage(v))
	if err != nil {
		t.Fatal(err)
	}
	if got := Raw(nil, []byte(v)); !bytes.Equal(got, want) {
		t.Errorf("Raw(%q) = %s, encoding/json: %s", v, got, want)
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, want, "", "  "); err != nil {
		t.Fatal(err)
	}
	if got := Indent(want, "  "); !bytes.Equal(got, ind.Bytes()) {
		t.Errorf("Indent(%s) = %s, encoding/json: %s", want, got, ind.Bytes())
	}
}

func TestRawAndIndent(t *testing.T) {
	for _, v := range rawSeeds {
		checkRaw(t, v)
	}
	if got := Raw(nil, nil); string(got) != "null" {
		t.Errorf("Raw(nil) = %s", got)
	}
}

func FuzzRawAndIndent(f *testing.F) {
	for _, v := range rawSeeds {
		f.Add(v)
	}
	f.Fuzz(checkRaw)
}

func TestObjectAndMap(t *testing.T) {
	type inner struct {
		A string `json:"a,omitempty"`
	}
	type rec struct {
		S  string           `json:"s"`
		OS string           `json:"os,omitempty"`
		I  int64            `json:"i"`
		OI int64            `json:"oi,omitempty"`
		B  bool             `json:"b"`
		OB bool             `json:"ob,omitempty"`
		L  []string         `json:"l"`
		OL []string         `json:"ol,omitempty"`
		M  map[string]int64 `json:"m"`
		N  inner            `json:"n"`
	}
	enc := func(r rec) []byte {
		o := Object{}
		o.String("s", r.S)
		o.OmitString("os", r.OS)
		o.Int("i", r.I)
		o.OmitInt("oi", r.OI)
		o.Bool("b", r.B)
		o.OmitBool("ob", r.OB)
		o.Strings("l", r.L)
		o.OmitStrings("ol", r.OL)
		o.Key("m")
		o.B = Map(o.B, r.M, Int)
		o.Key("n")
		n := Object{B: o.B}
		n.OmitString("a", r.N.A)
		o.B = n.End()
		return o.End()
	}
	for _, r := range []rec{
		{},
		{S: "<x>", OS: "y", I: -9, OI: 1 << 62, B: true, OB: true, L: []string{}, OL: []string{"a", "\xff"},
			M: map[string]int64{"z": 1, "a": 2, "\u2028": 3, "é": 4, "": 5}, N: inner{A: "q"}},
		{L: []string{"1"}, OL: []string{}, M: map[string]int64{}},
	} {
		want, _ := json.Marshal(r)
		if got := enc(r); !bytes.Equal(got, want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		wantIndent, _ := json.MarshalIndent(r, "", "  ")
		if got := Indent(enc(r), "  "); !bytes.Equal(got, wantIndent) {
			t.Errorf("indented: got  %s\nwant %s", got, wantIndent)
		}
	}
}
