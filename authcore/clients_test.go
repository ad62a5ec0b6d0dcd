package authcore

import (
	"strings"
	"testing"
)

func TestResolveClientOrder(t *testing.T) {
	h := newHarness(t, asConfigJSON(withAS(map[string]string{"clients": `[
		{"client_id":"https://app.example.com/client.json","redirect_uris":["https://app.example.com/cb"]}]`})))
	resolve := func(id string) (*Client, *Error) {
		var c *Client
		var oe *Error
		o := h.e.resolveClient(id, func(cl *Client, e *Error) Outcome { c, oe = cl, e; return Reply{} })
		// A metadata document fetch fails: there is no network here.
		for {
			call, ok := o.(Call)
			if !ok {
				break
			}
			o = call.Resume(CallResult{Err: errInjected})
		}
		return c, oe
	}
	// A registry entry wins over fetching, even for an https URL (CIMD-01 §6.10).
	if c, oe := resolve("https://app.example.com/client.json"); oe != nil || c.Source != ClientPreRegistered {
		t.Errorf("pre-registered URL: %v %v", c, oe)
	}
	// An unknown URL goes to the CIMD resolver, and fails here.
	if _, oe := resolve("https://other.example.com/client.json"); oe == nil || oe.Code != ErrCodeInvalidClient {
		t.Errorf("CIMD hook: %v", oe)
	}
	for _, id := range []string{"", "nobody", "dcr.", "dcr.AAAA", "dcr." + strings.Repeat("A", maxClientIDLen)} {
		if c, oe := resolve(id); oe == nil || oe.Code != ErrCodeInvalidClient || c != nil {
			t.Errorf("%.20q: %v %v", id, c, oe)
		}
	}
}
