package authcore

import (
	"strings"
	"testing"
)

// RFC 6750 §2: one method per request. A token in the Authorization header
// plus an access_token form field is 400 invalid_request, not forwarded.
func TestGuardRefusesTwoTokenMethods(t *testing.T) {
	e := newTestEngine(t, "guard")
	tok := mintFor(t, e, "https://mcp.example.com/mcp", "mcp:tools")
	form := func(body string, ct string) *Request {
		r := mcpPost("/mcp", tok, body)
		r.Headers[0][1] = ct
		return r
	}
	cases := []struct {
		name   string
		req    *Request
		status int
	}{
		{"header and form field", form("access_token="+tok+"&x=1", "application/x-www-form-urlencoded"), 400},
		{"header and encoded form field", form("x=1&access%5Ftoken=abc", "application/x-www-form-urlencoded; charset=utf-8"), 400},
		// The form reaches the per-tool rule check, which wants JSON-RPC.
		{"header and a form without a token", form("x=1", "application/x-www-form-urlencoded"), -32700},
		{"json body naming access_token", form(`{"access_token":"x"}`, "application/json"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := run(e, tc.req)
			if tc.status == 0 {
				if _, ok := o.(Forward); !ok {
					t.Fatalf("outcome %T %+v, want Forward", o, o)
				}
				return
			}
			r := mustReply(t, o)
			if tc.status == -32700 {
				if r.Status != 400 || !strings.Contains(string(r.Body), `"code":-32700`) {
					t.Fatalf("status %d body %s, want the rule check's parse error", r.Status, r.Body)
				}
				return
			}
			if r.Status != tc.status || !strings.Contains(string(r.Body), `"error":"invalid_request"`) {
				t.Fatalf("status %d body %s, want %d invalid_request", r.Status, r.Body, tc.status)
			}
			if !strings.Contains(r.Headers.Get("www-authenticate"), `error="invalid_request"`) {
				t.Errorf("www-authenticate %q", r.Headers.Get("www-authenticate"))
			}
		})
	}
}

// A guarded form POST whose resource has per-tool rules reads the body once:
// the rule check gets the same bytes.
func TestFeedBodyAnswersLaterReads(t *testing.T) {
	var got []string
	o := ReadBody{Limit: 10, Resume: func(b []byte) Outcome {
		got = append(got, string(b))
		return Call{Resume: func(CallResult) Outcome {
			return ReadBody{Limit: 10, Resume: func(b []byte) Outcome {
				got = append(got, string(b))
				return Forward{}
			}}
		}}
	}}
	c, ok := feedBody(o, []byte("abc")).(Call)
	if !ok {
		t.Fatal("want the call passed through")
	}
	if _, ok := c.Resume(CallResult{}).(Forward); !ok || strings.Join(got, ",") != "abc,abc" {
		t.Fatalf("got %v", got)
	}
	if r, ok := feedBody(ReadBody{Limit: 2}, []byte("abc")).(Reply); !ok || r.Status != 413 {
		t.Fatalf("over the limit: %+v", r)
	}
}
