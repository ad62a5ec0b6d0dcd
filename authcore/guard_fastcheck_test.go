package authcore

import (
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// checkFastCheckedOperation holds fastCheckedOperation to the long way:
// whenever it reads an operation, strictjson.Check accepts the body at the
// same depth limit and oneOperation reads the same operation and refuses
// nothing.
func checkFastCheckedOperation(t *testing.T, body string, maxDepth int) (read bool) {
	t.Helper()
	op, ok := fastCheckedOperation([]byte(body), maxDepth)
	if !ok {
		return false
	}
	if err := strictjson.Check([]byte(body), strictjson.Options{MaxDepth: maxDepth}); err != nil {
		t.Fatalf("fastCheckedOperation accepted %q (depth limit %d), which strictjson refuses: %v", body, maxDepth, err)
	}
	want, bad := oneOperation(jsonv.Parse(body))
	if bad != "" || op != want {
		t.Fatalf("fastCheckedOperation(%s) = %+v, oneOperation reads %+v %q", body, op, want, bad)
	}
	return true
}

var fastCheckSeeds = append([]string{
	`{"a":1,"a":2}`, `{"method":"x","method":"y"}`, `{"params":{"name":"a","name":"b"},"method":"tools/call"}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":-0.0e-10}`, `{"a":tru}`, `{"a":nul}`, `{"a":truex}`,
	`{"a":1}x`, `{"a":1} `, `{"a":[1,2,]}`, `{"a":[,1]}`, `{"a":{"b":1,}}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":"\x01"}`, "{\"a\":\"\x7f\"}",
	`{"a":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}`, `{"a":[[[1]]]}`, `{"m":{"n":{"o":{}}}}`, `{}`, `[]`, `""`, `1`, ``, ` `,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8}`, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}`,
	`{"method":"tools/call","params":{"name":"x","arguments":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}}}`,
	`{"method":"tools/call","params":[]}`, `{"method":"tools/call","params":{"name":{}}}`, `{"method":["x"]}`,
	`{"method":"resources/read","params":{"name":{},"uri":"u"}}`,
}, fastOperationSeeds...)

// TestFastCheckedOperation checks the single pass against the long way at
// several depth limits, that it reads the usual shapes itself, and that it
// leaves every refusal to strictjson.
func TestFastCheckedOperation(t *testing.T) {
	for _, s := range fastCheckSeeds {
		for _, d := range []int{0, 1, 2, 3, 5, 16, 64} {
			checkFastCheckedOperation(t, s, d)
		}
	}
	for _, s := range fastOperationSeeds[1:7] {
		if !checkFastCheckedOperation(t, s, 0) {
			t.Errorf("the usual shape %s went the long way", s)
		}
	}
	for _, s := range fastCheckSeeds[:22] {
		if strictjson.Check([]byte(s), strictjson.Options{}) == nil {
			continue
		}
		if _, ok := fastCheckedOperation([]byte(s), 0); ok {
			t.Errorf("%q, which strictjson refuses, was read", s)
		}
	}
	if _, ok := fastCheckedOperation([]byte(`{"a":{"b":{}}}`), 2); ok {
		t.Error("nesting of 3 read with a limit of 2")
	}
}

func FuzzFastCheckedOperation(f *testing.F) {
	for _, s := range fastCheckSeeds {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, body string, depth uint8) { checkFastCheckedOperation(t, body, int(depth%20)) })
}
