package jsonv

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// The guard's readings, with jsonv and with gjson it replaced: a
// tools/call body as guard.go's oneOperation reads it, and a JWT claims set
// as guard_external.go's claims and claims.go's accessTokenIdentity read
// it. Compare in one run: go test -bench . -count 5.

var (
	benchToolsCall = []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Berlin","units":"metric","days":3},"_meta":{"progressToken":"abc-123"}}}`)
	benchClaims    = []byte(`{"iss":"https://idp.example.com/realms/mcp","sub":"248289761001","aud":["https://mcp.example.com/mcp","account"],"exp":1900000000,"iat":1899999400,"nbf":1899999400,"jti":"b6c1d9e0-4f0e-4c83-9a0d-6f1a2c3b4d5e","azp":"mcp-client","client_id":"mcp-client","scope":"openid profile tools:read tools:call","groups":["mcp-users","mcp-admins"],"email":"user@example.com","email_verified":true}`)
)

var sink int

func BenchmarkToolsCall(b *testing.B) {
	caseVariant := func(key string, names ...string) bool {
		for _, n := range names {
			if key != n && strings.EqualFold(key, n) {
				return true
			}
		}
		return false
	}
	b.Run("gjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := gjson.ParseBytes(benchToolsCall)
			if v.IsArray() || !v.IsObject() {
				b.Fatal("not an object")
			}
			bad := false
			v.ForEach(func(k, _ gjson.Result) bool { bad = bad || caseVariant(k.String(), "method", "params"); return !bad })
			m := v.Get("method")
			if m.Type != gjson.String || m.Str != "tools/call" {
				b.Fatal("method")
			}
			v.Get("params").ForEach(func(k, _ gjson.Result) bool { bad = bad || caseVariant(k.String(), "name"); return !bad })
			n := v.Get("params.name")
			if bad || n.Type != gjson.String {
				b.Fatal("name")
			}
			sink += len(n.Str)
		}
	})
	b.Run("jsonv", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := ParseBytes(benchToolsCall)
			if v.IsArray() || !v.IsObject() {
				b.Fatal("not an object")
			}
			bad := false
			v.ForEach(func(k, _ Result) bool { bad = bad || caseVariant(k.String(), "method", "params"); return !bad })
			m := v.Get("method")
			if m.Type != String || m.Str != "tools/call" {
				b.Fatal("method")
			}
			v.Get("params").ForEach(func(k, _ Result) bool { bad = bad || caseVariant(k.String(), "name"); return !bad })
			n := v.Get("params").Get("name")
			if bad || n.Type != String {
				b.Fatal("name")
			}
			sink += len(n.Str)
		}
	})
}

func BenchmarkClaims(b *testing.B) {
	b.Run("gjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := gjson.ParseBytes(benchClaims)
			if !v.IsObject() {
				b.Fatal("not an object")
			}
			for _, n := range []string{"iss", "sub", "jti"} {
				sink += len(v.Get(n).Str)
			}
			v.Get("aud").ForEach(func(_, a gjson.Result) bool { sink += len(a.Str); return true })
			for _, n := range []string{"exp", "iat", "nbf"} {
				sink += int(v.Get(n).Num)
			}
			for _, n := range []string{"client_id", "azp", "appid", "cid"} {
				if s := v.Get(n).Str; s != "" {
					sink += len(s)
					break
				}
			}
			sink += len(strings.Fields(v.Get("scope").Str))
			sink += len(v.Get("groups").Raw)
		}
	})
	b.Run("jsonv", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := ParseBytes(benchClaims)
			if !v.IsObject() {
				b.Fatal("not an object")
			}
			for _, n := range []string{"iss", "sub", "jti"} {
				sink += len(v.Get(n).Str)
			}
			v.Get("aud").ForEach(func(_, a Result) bool { sink += len(a.Str); return true })
			for _, n := range []string{"exp", "iat", "nbf"} {
				sink += int(v.Get(n).Num)
			}
			for _, n := range []string{"client_id", "azp", "appid", "cid"} {
				if s := v.Get(n).Str; s != "" {
					sink += len(s)
					break
				}
			}
			sink += len(strings.Fields(v.Get("scope").Str))
			sink += len(v.Get("groups").Raw)
		}
	})
}

func BenchmarkValidBytes(b *testing.B) {
	b.Run("gjson", func(b *testing.B) {
		for b.Loop() {
			if !gjson.ValidBytes(benchClaims) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("jsonv", func(b *testing.B) {
		for b.Loop() {
			if !ValidBytes(benchClaims) {
				b.Fatal("invalid")
			}
		}
	})
}
