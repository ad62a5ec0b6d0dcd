package authcore

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

const introConfig = `{
  "resources": [
    {"resource": "https://mcp.example.com/mcp", "scopes": ["mcp:tools"]},
    {"resource": "https://mcp.example.com/jwt-only", "authorization_servers": ["https://jwt.example.com"]}
  ],
  "trusted_issuers": [
    {"issuer": "https://idp.example.com", "cluster": "idp", "jwks_uri": "https://idp.example.com/jwks",
     "introspection": {"endpoint": "https://idp.example.com/oauth/introspect", "client_id": "mcp gateway", "client_secret": "s3cr:et",
       "cache_max": "2m", "negative_cache": "10s"}},
    {"issuer": "https://jwt.example.com", "cluster": "jwt", "jwks_uri": "https://jwt.example.com/jwks"}
  ]
}`

func introAnswer(active bool, exp time.Time, extra string) string {
	if !active {
		return `{"active":false}`
	}
	return `{"active":true,"iss":"https://idp.example.com","sub":"alice","client_id":"ide","scope":"mcp:tools","aud":"https://mcp.example.com/mcp","exp":` + strconv.FormatInt(exp.Unix(), 10) + extra + `}`
}

// TestIntrospection: opaque tokens through RFC 7662 by callout.
func TestIntrospection(t *testing.T) {
	idp := newTestIdP(t)
	h := newIssuerHarness(t, introConfig, map[string]*testIdP{"idp": idp, "jwt": newTestIdP(t)})
	now := h.clk.Now()
	const intro = "POST /oauth/introspect"
	idp.introspection["opaque-live"] = introAnswer(true, now.Add(time.Hour), "")
	idp.introspection["opaque-other-aud"] = `{"active":true,"sub":"a","aud":["https://elsewhere.example.com"],"exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `}`
	idp.introspection["opaque-other-iss"] = `{"active":true,"iss":"https://jwt.example.com","sub":"a","aud":"https://mcp.example.com/mcp"}`
	idp.introspection["opaque-no-scope"] = `{"active":true,"sub":"a","aud":"https://mcp.example.com/mcp"}`
	idp.introspection["opaque-garbage"] = `{"active":"yes"}`

	t.Run("active", func(t *testing.T) {
		o := h.access(h.e, "/mcp", "opaque-live")
		f, ok := o.(Forward)
		if !ok {
			t.Fatalf("%+v", o)
		}
		if f.Set[0] != [2]string{"x-mcpgate-subject", "alice"} {
			t.Errorf("identity %v", f.Set)
		}
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("mcp+gateway:s3cr%3Aet"))
		if idp.lastAuth != want {
			t.Errorf("introspection authorization %q, want %q (RFC 6749 §2.3.1 form-encoding)", idp.lastAuth, want)
		}
		// Cached: no second introspection for cache_max.
		mustForward(t, "cached", h.access(h.e, "/mcp", "opaque-live"))
		if n := idp.count(intro); n != 1 {
			t.Fatalf("introspections %d, want 1", n)
		}
		h.advance(2*time.Minute + time.Second)
		mustForward(t, "after cache_max", h.access(h.e, "/mcp", "opaque-live"))
		if n := idp.count(intro); n != 2 {
			t.Fatalf("introspections %d, want 2 after cache_max", n)
		}
		// Revoked at the provider: found out at the next introspection.
		idp.introspection["opaque-live"] = introAnswer(false, time.Time{}, "")
		h.advance(2*time.Minute + time.Second)
		mustStatus(t, "revoked", h.access(h.e, "/mcp", "opaque-live"), 401)
	})
	t.Run("cached until exp", func(t *testing.T) {
		idp.introspection["opaque-short"] = introAnswer(true, h.clk.Now().Add(time.Minute), "")
		mustForward(t, "short", h.access(h.e, "/mcp", "opaque-short"))
		before := idp.count(intro)
		h.advance(time.Minute)
		idp.introspection["opaque-short"] = introAnswer(false, time.Time{}, "")
		mustStatus(t, "past exp", h.access(h.e, "/mcp", "opaque-short"), 401)
		if idp.count(intro) != before+1 {
			t.Error("a token past its exp was not introspected again")
		}
	})
	t.Run("inactive cached briefly", func(t *testing.T) {
		before := idp.count(intro)
		for i := 0; i < 5; i++ {
			r := mustStatus(t, "inactive", h.access(h.e, "/mcp", "opaque-dead"), 401)
			if !strings.Contains(r.Headers.Get("www-authenticate"), `error="invalid_token"`) {
				t.Fatalf("challenge %q", r.Headers.Get("www-authenticate"))
			}
		}
		if idp.count(intro) != before+1 {
			t.Errorf("introspections %d, want 1 for 5 requests", idp.count(intro)-before)
		}
		h.advance(11 * time.Second)
		mustStatus(t, "inactive again", h.access(h.e, "/mcp", "opaque-dead"), 401)
		if idp.count(intro) != before+2 {
			t.Errorf("negative answer cached past negative_cache")
		}
	})
	for name, want := range map[string]string{"opaque-other-aud": denyWrongAudience, "opaque-other-iss": denyUnknownIssuer} {
		t.Run(name, func(t *testing.T) {
			before := h.denials()[want]
			mustStatus(t, name, h.access(h.e, "/mcp", name), 401)
			if h.denials()[want] != before+1 {
				t.Errorf("denials %v, want one more %s", h.denials(), want)
			}
		})
	}
	t.Run("scope missing: 403 step-up", func(t *testing.T) {
		r := mustStatus(t, "no scope", h.access(h.e, "/mcp", "opaque-no-scope"), 403)
		if !strings.Contains(r.Headers.Get("www-authenticate"), `scope="mcp:tools"`) {
			t.Errorf("challenge %q", r.Headers.Get("www-authenticate"))
		}
	})
	t.Run("not a response", func(t *testing.T) {
		mustStatus(t, "garbage", h.access(h.e, "/mcp", "opaque-garbage"), 503)
	})
	t.Run("resource without introspection", func(t *testing.T) {
		before := idp.count(intro)
		mustStatus(t, "opaque at jwt-only", h.access(h.e, "/jwt-only", "opaque-live-2"), 401)
		if idp.count(intro) != before || h.denials()[denyOpaque] != 1 {
			t.Errorf("introspected for a resource whose issuers do not introspect; denials %v", h.denials())
		}
	})
	t.Run("down: fail closed", func(t *testing.T) {
		idp.down = true
		defer func() { idp.down = false }()
		r := mustStatus(t, "down", h.access(h.e, "/mcp", "opaque-while-down"), 503)
		if !strings.Contains(string(r.Body), ErrCodeTemporarilyUnavailable) {
			t.Errorf("body %s", r.Body)
		}
	})
	t.Run("token never logged", func(t *testing.T) {
		for _, l := range h.logs {
			if strings.Contains(l, "opaque-") {
				t.Errorf("log line carries a token: %q", l)
			}
		}
	})
}

// TestIntrospectionShared: concurrent requests with one unknown token
// share one introspection.
func TestIntrospectionShared(t *testing.T) {
	idp := newTestIdP(t)
	h := newIssuerHarness(t, introConfig, map[string]*testIdP{"idp": idp})
	idp.introspection["opaque-1"] = introAnswer(true, h.clk.Now().Add(time.Hour), "")
	req := func() *Request {
		return &Request{Method: "GET", Path: "/mcp", Headers: Header{{"authorization", "Bearer opaque-1"}}}
	}
	lead, ok := h.e.Handle(req()).(Call)
	if !ok {
		t.Fatal("first request did not introspect")
	}
	var waits []uint64
	for i := 0; i < 10; i++ {
		w, ok := h.e.Handle(req()).(Wait)
		if !ok {
			t.Fatalf("request %d did not wait", i)
		}
		waits = append(waits, w.Ticket)
	}
	// One waiter's stream ends early.
	h.e.Cancel(waits[0])
	mustForward(t, "leader", h.access2(lead.Resume(idp.serve(lead))))
	woken := h.e.Woken()
	if len(woken) != 9 {
		t.Fatalf("woken %d, want 9", len(woken))
	}
	for _, tk := range woken {
		mustForward(t, "waiter", h.e.Continue(tk))
	}
	if n := idp.count("POST /oauth/introspect"); n != 1 {
		t.Errorf("introspections %d, want 1", n)
	}
	// A leader that never resumes is given up; its waiters retry.
	idp.introspection["opaque-2"] = introAnswer(true, h.clk.Now().Add(time.Hour), "")
	r2 := func() *Request {
		return &Request{Method: "GET", Path: "/mcp", Headers: Header{{"authorization", "Bearer opaque-2"}}}
	}
	if _, ok := h.e.Handle(r2()).(Call); !ok {
		t.Fatal("no call")
	}
	w, ok := h.e.Handle(r2()).(Wait)
	if !ok {
		t.Fatal("no wait")
	}
	h.advance(10 * time.Second)
	woken = h.e.Woken()
	if len(woken) != 1 || woken[0] != w.Ticket {
		t.Fatalf("woken %v", woken)
	}
	c, ok := h.e.Continue(w.Ticket).(Call)
	if !ok {
		t.Fatal("the waiter of a vanished leader did not introspect itself")
	}
	mustForward(t, "retry", h.access2(c.Resume(idp.serve(c))))
}
