package authcore

import (
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// oneOperationReference is oneOperation as first written, with a scan for
// case variants and a Get per member: the reference for pick's one walk.
func oneOperationReference(v jsonv.Result) (rpcOp, string) {
	caseVariant := func(v jsonv.Result, names ...string) string {
		if !v.IsObject() {
			return ""
		}
		bad := ""
		v.ForEach(func(k, _ jsonv.Result) bool {
			for _, n := range names {
				if key := k.String(); key != n && strings.EqualFold(key, n) {
					bad = caseVariantMessage(key, n)
					return false
				}
			}
			return true
		})
		return bad
	}
	if !v.IsObject() {
		return rpcOp{}, "JSON-RPC message is not an object"
	}
	if bad := caseVariant(v, "method", "params"); bad != "" {
		return rpcOp{}, bad
	}
	m := v.Get("method")
	if !m.Exists() {
		return rpcOp{}, ""
	}
	if m.Type != jsonv.String {
		return rpcOp{}, "JSON-RPC method is not a string"
	}
	op := rpcOp{method: m.Str}
	member, named := targetMember(m.Str)
	if !named {
		return op, ""
	}
	params := v.Get("params")
	if bad := caseVariant(params, member); bad != "" {
		return rpcOp{}, bad
	}
	n := params.Get(member)
	if n.Exists() && n.Type != jsonv.String {
		return rpcOp{}, "JSON-RPC params." + member + " is not a string"
	}
	op.name = n.Str
	return op, ""
}

func checkOneOperation(t *testing.T, body string) {
	t.Helper()
	if strictjson.Check([]byte(body), strictjson.Options{}) != nil {
		return // the guard reads only bodies strictjson accepted
	}
	v := jsonv.Parse(body)
	gotOp, gotBad := oneOperation(v)
	wantOp, wantBad := oneOperationReference(v)
	if gotOp != wantOp || gotBad != wantBad {
		t.Fatalf("oneOperation(%s) = %+v %q, the reference reads %+v %q", body, gotOp, gotBad, wantOp, wantBad)
	}
}

var oneOperationSeeds = []string{
	`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`,
	`{"method":"tools/call","Params":{"name":"x"}}`,
	`{"METHOD":"tools/call","method":"tools/list"}`,
	`{"params":{"Name":"a","name":"b"},"method":"tools/call"}`,
	`{"method":"resources/read","params":{"uri":"file:///x","URI":"y"}}`,
	`{"m\u0065thod":"prompts/get","p\u0061rams":{"n\u0061me":"p"}}`,
	`{"method":"tools/call","params":["name"]}`,
	`{"method":"tools/call","params":{"name":7}}`,
	`{"method":"tools/call","params":null}`,
	`{"method":1}`,
	`{"result":{}}`,
	`{"method":"tools/call","params":{"\u212Aey":1,"name":"k"}}`,
}

func TestOneOperationMatchesReference(t *testing.T) {
	for _, s := range oneOperationSeeds {
		checkOneOperation(t, s)
	}
}

func FuzzOneOperationMatchesReference(f *testing.F) {
	for _, s := range oneOperationSeeds {
		f.Add(s)
	}
	f.Fuzz(checkOneOperation)
}

// The operations read from a body do not point into it: the body is the
// caller's buffer (the host's, in the filter), and the method and name
// reach the audit trail and filter state after it is gone. Overwriting
// the body must leave them as read, whether or not a name is present.
func TestOperationsDoNotAliasTheBody(t *testing.T) {
	for _, doc := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///x"}}]`,
	} {
		body := []byte(doc)
		ops, _, bad := jsonRPCOperations(nil, body, 0, nil)
		if bad != "" {
			t.Fatalf("%s: %s", doc, bad)
		}
		want := append([]rpcOp(nil), ops...)
		for i := range want {
			want[i] = rpcOp{strings.Clone(want[i].method), strings.Clone(want[i].name)}
		}
		for i := range body {
			body[i] = 'X'
		}
		for i := range ops {
			if ops[i] != want[i] {
				t.Errorf("%s: operation %d became %+v after the body was overwritten, read as %+v", doc, i, ops[i], want[i])
			}
		}
	}
}
