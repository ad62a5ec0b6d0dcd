package strictjson

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkCheck checks documents the filter meets on its hot path (a
// JSON-RPC tools/call, a JWT claims set) and one object with many members.
func BenchmarkCheck(b *testing.B) {
	var wide strings.Builder
	wide.WriteString("{")
	for i := 0; i < 40; i++ {
		if i > 0 {
			wide.WriteString(",")
		}
		wide.WriteString(`"member` + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	wide.WriteString("}")
	for _, c := range []struct{ name, doc string }{
		{"tools-call", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`},
		{"claims", `{"iss":"https://mcp.example.com","sub":"alice","aud":["https://mcp.example.com/mcp"],"client_id":"client-1","scope":"mcp:tools mcp:admin","iat":1765000000,"exp":1765000300,"jti":"j1","grant":"g-1"}`},
		{"wide", wide.String()},
	} {
		doc := []byte(c.doc)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := Check(doc, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
