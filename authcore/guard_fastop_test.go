package authcore

import (
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// checkFastOperation holds fastOperation to oneOperation over jsonv: on a
// body strictjson accepts, whenever the fast reading reads an operation,
// oneOperation reads the same one and refuses nothing.
func checkFastOperation(t *testing.T, body string) (read bool) {
	t.Helper()
	if strictjson.Check([]byte(body), strictjson.Options{}) != nil {
		return false
	}
	op, ok := fastOperation([]byte(body))
	if !ok {
		return false
	}
	want, bad := oneOperation(jsonv.Parse(body))
	if bad != "" || op != want {
		t.Fatalf("fastOperation(%s) = %+v, oneOperation reads %+v %q", body, op, want, bad)
	}
	return true
}

var fastOperationSeeds = append([]string{
	` { "jsonrpc" : "2.0" , "id" : 2 , "method" : "tools/call" , "params" : { "name" : "admin_stats" , "arguments" : { "a" : [ 1 , "}" , { "b" : "\"]" } ] } } } `,
	`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
	`{"params":{"uri":"file:///a","name":"n"},"method":"resources/read","id":null}`,
	`{"method":"prompts/get","params":{"name":"p","arguments":{}}}`,
	`{"method":"tools/call"}`,
	`{"method":"tools/call","params":{}}`,
	`{"id":1,"result":{"content":[]}}`,
	`{"method":"tools/call","params":{"NAME":"x"}}`,
	`{"method":"tools/call","params":{"name":"a\u0062"}}`,
	`{"method":"tools/call","params":{"name":"\u00e9"}}`,
	`{"method":"tools/call","params":{"na\u006de":"x"}}`,
	`{"method":"tools/list","params":{"Name":"x"}}`,
	`{"Method":"x"}`,
	`{"method":"tools/call","params":{"name":true}}`,
	`{"method":"tools/call","params":"name"}`,
	`[{"method":"tools/call","params":{"name":"a"}}]`,
	`{"method":"tools/call","params":{"name":"a","x":-1.5e+3,"y":false,"z":null}}`,
}, oneOperationSeeds...)

// TestFastOperation checks the fast reading against oneOperation, and that
// it reads the usual shapes itself rather than leaving them to jsonv.
func TestFastOperation(t *testing.T) {
	for _, s := range fastOperationSeeds {
		checkFastOperation(t, s)
	}
	for _, s := range fastOperationSeeds[:7] {
		if !checkFastOperation(t, s) {
			t.Errorf("the usual shape %s was left to jsonv", s)
		}
	}
	for _, s := range []string{`{"Method":"x"}`, `{"method":"tools/call","params":{"NAME":"x"}}`, `[{"method":"tools/call","params":{"name":"a"}}]`,
		`{"method":"tools/call","params":{"na\u006de":"x"}}`, `{"method":"tools/call","params":{"name":true}}`} {
		if _, ok := fastOperation([]byte(s)); ok {
			t.Errorf("%s was read by the fast path; oneOperation must decide it", s)
		}
	}
}

func FuzzFastOperation(f *testing.F) {
	for _, s := range fastOperationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkFastOperation(t, body) })
}
