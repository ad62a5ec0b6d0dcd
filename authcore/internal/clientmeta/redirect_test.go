package clientmeta

import (
	"strings"
	"testing"
)

func TestCheckRedirectURI(t *testing.T) {
	cases := []struct {
		uri, appType string
		kind         Kind
		msg          string // fragment of the message when refused
	}{
		{"https://app.example.com/cb", "", HTTPS, ""},
		{"https://app.example.com/cb", AppTypeWeb, HTTPS, ""},
		{"https://app.example.com/cb", AppTypeNative, HTTPS, ""},
		{"https://app.example.com/cb?tenant=1", "", HTTPS, ""},
		{"https://app.example.com:8443/cb", "", HTTPS, ""},
		{"http://127.0.0.1/cb", "", Loopback, ""},
		{"http://127.0.0.1:3000/cb", AppTypeNative, Loopback, ""},
		{"http://127.0.0.1:1/cb", "", Loopback, ""},
		{"http://127.0.0.1:65535/cb", "", Loopback, ""},
		{"http://localhost/cb", "", Loopback, ""},
		{"http://[::1]:8080/cb", "", Loopback, ""},
		{"http://[::1]/cb", "", Loopback, ""},
		{"com.example.app:/oauth", "", PrivateUse, ""},
		{"com.example.app://callback", AppTypeNative, PrivateUse, ""},
		{"http://127.0.0.1/cb", AppTypeWeb, Invalid, "web"},
		{"https://localhost/cb", AppTypeWeb, Invalid, "loopback"},
		{"com.example.app:/oauth", AppTypeWeb, Invalid, "web"},
		{"http://app.example.com/cb", "", Invalid, "loopback"},
		{"http://127.0.0.1.nip.io/cb", "", Invalid, "loopback"},
		{"https://app.example.com/cb#frag", "", Invalid, "fragment"},
		{"https://app.example.com/cb#", "", Invalid, "fragment"},
		{"https://user@app.example.com/cb", "", Invalid, "userinfo"},
		{"https://u:p@client.example.com/cb", "", Invalid, "userinfo"},
		{"/cb", "", Invalid, "absolute"},
		{"myapp:/cb", "", Invalid, "reverse domain"},
		{"javascript:alert(1)", "", Invalid, "reverse domain"},
		{"data:text/html,x", "", Invalid, "reverse domain"},
		{"file:///etc/passwd", "", Invalid, "reverse domain"},
		{"HTTPS://app.example.com/cb", "", Invalid, "lower case"},
		{"https://app.example.com/c b", "", Invalid, "spaces"},
		{"https://app.example.com/\u202ecb", "", Invalid, "non-ASCII"},
		{"https://app.example.com/cb?state=x", "", Invalid, "state"},
		{"https://app.example.com/cb?iss=x", "", Invalid, "iss"},
		{"https://app.example.com/cb?code", "", Invalid, "code"},
		{"https:///cb", "", Invalid, "host"},
		{"", "", Invalid, "empty"},
		{"https://a.example/" + strings.Repeat("x", MaxRedirectURILen), "", Invalid, "too long"},
		// Ports: 1 to 65535, no leading zeros, no bare colon.
		{"http://127.0.0.1:0/cb", "", Invalid, "port"},
		{"http://127.0.0.1:65536/cb", "", Invalid, "port"},
		{"http://127.0.0.1:99999/cb", "", Invalid, "port"},
		{"http://127.0.0.1:080/cb", "", Invalid, "port"},
		{"http://127.0.0.1:/cb", "", Invalid, "port"},
		{"http://[::1]:0/cb", "", Invalid, "port"},
		{"https://app.example.com:0/cb", "", Invalid, "port"},
		{"https://app.example.com:70000/cb", "", Invalid, "port"},
	}
	for _, tc := range cases {
		kind, msg := CheckRedirectURI(tc.uri, tc.appType)
		if kind != tc.kind || (tc.msg == "") != (msg == "") || !strings.Contains(msg, tc.msg) {
			t.Errorf("CheckRedirectURI(%.60q, %q) = %d %q, want %d ...%s...", tc.uri, tc.appType, kind, msg, tc.kind, tc.msg)
		}
	}
}

// TestMatchRedirectURI: exact match, except any port for loopback http
// (RFC 8252 §7.3), as long as it is a port.
func TestMatchRedirectURI(t *testing.T) {
	registered := []string{
		"http://127.0.0.1/cb", "http://localhost:8080/cb?x=1", "http://[::1]/cb",
		"https://app.example.com/cb", "com.example.app:/oauth",
	}
	ok := []string{
		"http://127.0.0.1/cb", "http://127.0.0.1:54321/cb", "http://127.0.0.1:1/cb", "http://127.0.0.1:65535/cb",
		"http://localhost/cb?x=1", "http://localhost:9/cb?x=1", "http://[::1]:443/cb",
		"https://app.example.com/cb", "com.example.app:/oauth",
	}
	bad := []string{
		"http://127.0.0.1:54321/cb/", "http://127.0.0.1:54321/cb?x=1", "http://127.0.0.1:54321/CB",
		"http://localhost:54321/cb", "http://127.0.0.2/cb", "http://[::1]:1/cb?", "https://127.0.0.1:54321/cb",
		"http://127.0.0.1:54321/cb#f", "http://127.0.0.1:x/cb", "http://127.0.0.1:/cb", "http://127.0.0.1:123456/cb",
		"http://127.0.0.1:0/cb", "http://127.0.0.1:65536/cb", "http://127.0.0.1:080/cb", "http://[::1]:0/cb",
		"http://evil@127.0.0.1/cb", "http://127.0.0.1%2f@evil/cb", "http://localhost:8080/cb", "http://localhost:8080/cb?x=2",
		"https://app.example.com:443/cb", "https://app.example.com/cb/", "https://APP.example.com/cb",
		"https://app.example.com/cb?", "com.example.app:/oauth/", "HTTP://127.0.0.1/cb", "http://127.0.0.1",
	}
	for _, u := range ok {
		if MatchRedirectURI(registered, u) == "" {
			t.Errorf("%s refused", u)
		}
	}
	for _, u := range bad {
		if got := MatchRedirectURI(registered, u); got != "" {
			t.Errorf("%s accepted as %s", u, got)
		}
	}
}

func TestAllLoopback(t *testing.T) {
	if !AllLoopback([]string{"http://127.0.0.1/cb", "http://localhost:1/x"}) {
		t.Errorf("loopback client not recognised")
	}
	if AllLoopback([]string{"http://127.0.0.1/cb", "https://a.example/cb"}) || AllLoopback(nil) {
		t.Errorf("mixed or empty client counted as loopback")
	}
}

// FuzzCheckRedirectURI: what is accepted is printable ASCII without a
// fragment, selects itself, and, when it is a loopback URI, is selected
// with any other valid port and no invalid one.
func FuzzCheckRedirectURI(f *testing.F) {
	f.Add("http://127.0.0.1:3000/cb", "")
	f.Add("https://app.example.com/cb?x=1", "web")
	f.Add("com.example.app:/oauth", "native")
	f.Add("http://[::1]/cb", "")
	f.Fuzz(func(t *testing.T, raw, appType string) {
		kind, msg := CheckRedirectURI(raw, appType)
		if (kind == Invalid) != (msg != "") {
			t.Fatalf("%q: kind %d, message %q", raw, kind, msg)
		}
		if kind == Invalid {
			MatchRedirectURI([]string{raw}, raw)
			return
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] <= ' ' || raw[i] >= 0x7f || raw[i] == '#' {
				t.Fatalf("%q accepted", raw)
			}
		}
		if MatchRedirectURI([]string{raw}, raw) != raw {
			t.Fatalf("%q does not select itself", raw)
		}
		if kind == Loopback {
			host, rest, ok := splitLoopbackURI(raw)
			if !ok {
				t.Fatalf("loopback %q does not split", raw)
			}
			if MatchRedirectURI([]string{raw}, "http://"+host+":65535"+rest) != raw || MatchRedirectURI([]string{raw}, "http://"+host+":0"+rest) != "" {
				t.Fatalf("port rule broken for %q", raw)
			}
		}
	})
}
