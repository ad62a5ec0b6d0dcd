package authcore

import (
	"errors"
	"testing"

	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

func TestIsCIMDURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/x": true, "https://": true,
		"HTTPS://example.com/x": false, "http://example.com/x": false, "mcp_abc": false, "": false,
	} {
		if isCIMDURL(s) != want {
			t.Errorf("isCIMDURL(%q) = %v", s, !want)
		}
	}
}

func TestVetURLPolicy(t *testing.T) {
	cfg := &CIMDConfig{
		AllowHosts:   []string{"*.example.com", "client.test"},
		DenyHosts:    []string{"evil.example.com", "*.bad.example.com"},
		AllowedPorts: []int{443, 8443},
	}
	cases := []struct{ url, rule string }{
		{"https://a.example.com/x", ""},
		{"https://A.Example.com/x", ""},
		{"https://deep.a.example.com/x", ""},
		{"https://client.test/x", ""},
		{"https://a.example.com:8443/x", ""},
		{"https://example.com/x", netguard.RuleHostNotAllowed},        // "*.example.com" does not match the apex
		{"https://xexample.com/x", netguard.RuleHostNotAllowed},       // nor a name that merely ends alike
		{"https://sub.client.test/x", netguard.RuleHostNotAllowed},    // exact entries are exact
		{"https://other.org/x", netguard.RuleHostNotAllowed},          // not listed
		{"https://evil.example.com/x", netguard.RuleHostDenied},       // deny wins over allow
		{"https://EVIL.example.com/x", netguard.RuleHostDenied},       // case-insensitive
		{"https://x.bad.example.com/x", netguard.RuleHostDenied},      // suffix deny
		{"https://a.example.com:8080/x", netguard.RulePortNotAllowed}, // port list
		{"https://a.example.com/x#f", netguard.RuleFragment},          // syntax still applies
	}
	for _, tc := range cases {
		_, err := cfg.vetURL(tc.url, true)
		var re *cimdURLError
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.rule != "" && (!errors.As(err, &re) || re.Rule != tc.rule):
			t.Errorf("%s: err %v, want rule %s", tc.url, err, tc.rule)
		}
	}
	// Without lists, any public host and port.
	if _, err := (&CIMDConfig{}).vetURL("https://anything.example.org:1234/x", true); err != nil {
		t.Error(err)
	}
}
