package authcore

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseAccessToken feeds arbitrary strings to the JWT parser: it must
// never panic, and must never accept anything but a token signed by one of
// the configured keys.
func FuzzParseAccessToken(f *testing.F) {
	e := newTestEngine(f, "guard")
	good := mintFor(f, e, "https://mcp.example.com/mcp", "mcp:tools")
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat("A", 9000))
	f.Add(good[:len(good)-4] + "AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := e.parseAccessToken(tok)
		if err == nil {
			if c.Issuer != e.cfg.Issuer {
				t.Fatalf("accepted foreign issuer %q", c.Issuer)
			}
			if tok != good && !strings.HasPrefix(tok, good[:strings.LastIndexByte(good, '.')]) {
				// Only re-encodings of the signed token can verify.
				if _, err2 := e.parseAccessToken(tok); err2 != nil {
					t.Fatal("non-deterministic verification")
				}
			}
			_ = c.checkTime(time.Now())
		}
	})
}

// FuzzBearerToken feeds arbitrary Authorization header values.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc==", "Basic YTpi", "Bearer", "Bearer a b", "Bearer =abc", "Bearer\tabc", ""} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, v string, twice bool) {
		h := Header{{"authorization", v}}
		if twice {
			h = append(h, [2]string{"authorization", v})
		}
		tok, desc := bearerToken(h)
		if tok != "" && (desc != "" || !isB64Token(tok) || twice) {
			t.Fatalf("token %q desc %q twice %v", tok, desc, twice)
		}
		if tok != "" && strings.ContainsAny(tok, " \t\r\n\"") {
			t.Fatalf("token with separator accepted: %q", tok)
		}
	})
}

// FuzzJSONRPCOperations feeds arbitrary bodies to the JSON-RPC extraction.
func FuzzJSONRPCOperations(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_x"}}`,
		`[{"method":"tools/list"},{"method":"resources/read","params":{"uri":"file:///a"}}]`,
		`[]`, `{"method":1}`, `"x"`, `{"jsonrpc":`, `{"method":"tools/call","params":{"name":{"a":1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, _, bad := jsonRPCOperations(nil, body, 0, nil)
		if bad != "" && ops != nil {
			t.Fatalf("both ops and error: %v %q", ops, bad)
		}
		if bad == "" && len(ops) == 0 {
			t.Fatalf("no operations and no error for %q", body)
		}
	})
}

// FuzzRequestPath checks that no request target crashes routing and that
// every path that normalises onto a resource is intercepted.
func FuzzRequestPath(f *testing.F) {
	e := newTestEngine(f, "guard")
	for _, s := range []string{"/mcp", "/%6dcp", "/a/../mcp", "//mcp", "/mcp?access_token=x", "/%zz", "/.well-known/x", "/mcp%2F..%2Fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		req := &Request{Method: "GET", Path: target}
		o := e.Handle(req)
		path, _, _ := strings.Cut(target, "?")
		if norm, ok := normalizePath(path); ok && (norm == "/mcp" || strings.HasPrefix(norm, "/mcp/")) {
			if _, fwd := o.(Forward); fwd {
				t.Fatalf("%q normalises to %q but was forwarded without a token", target, norm)
			}
		}
	})
}

// FuzzParseConfig feeds arbitrary documents to the config parser: it must
// never panic and must return either a config or an error.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"example", "minimal", "issuer-path", "guard"} {
		f.Add(readTestdata(f, "config/"+name+".json"))
	}
	f.Add([]byte(`{"issuer":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v, error %v", c, err)
		}
		if c != nil {
			if _, err := New(c, Options{}); err != nil {
				t.Fatalf("valid config, engine fails: %v", err)
			}
		}
	})
}
