package authcore

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The records' hand-written JSON against encoding/json on the tagged
// structs: the same bytes written, the same inputs accepted and the same
// values read.

// recordsFrom builds one value of every encoded type from the fuzzer's
// strings, number and flag (empty values exercise omitempty).
func recordsFrom(s, t string, n int64, b bool) []any {
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	claims := IdentityClaims{}
	for i, raw := range []string{`["a",  "<b>"]`, ` "\u2028&" `, `{"x" : [1, 2.5e3, null, true]}`} {
		if i < len(t)%4 {
			claims[s+strings.Repeat("k", i)] = RawJSON(raw)
		}
	}
	if len(claims) == 0 {
		claims = nil
	}
	ar := authzRequest{ClientID: s, RedirectURI: t, Explicit: b, State: t, Challenge: s, Resource: t,
		Scopes: list(s), ErrCode: t, ErrDesc: s, Claims: claims, Upstream: t}
	if b {
		ar = authzRequest{ClientID: s}
	}
	exp := n
	var ptr *int64
	if b {
		ptr = &exp
	}
	m := map[string]int64{s: n, t: -n, s + t: 1}
	if b {
		m = nil
	}
	return []any{
		&ar,
		&grantRecord{State: s, ClientID: t, Subject: s, Resource: t, Scopes: list(t), Created: n, Exp: -n, Refresh: b,
			LastUsed: n, Current: s, Previous: t, RotatedAt: n, Successor: s, Claims: claims, Upstream: t, Rotated: list(s)},
		&codeRecord{AR: ar, Subject: s, GID: t, Used: b, Exp: n},
		&consentTicket{AR: ar, Subject: s, Bind: t, Exp: n},
		&upstreamState{AR: ar, Nonce: s, Verifier: t, Bind: s, Exp: n},
		&upstreamToken{AccessToken: s, Sub: t},
		&sealedClient{Name: s, RedirectURIs: list(t), GrantTypes: []string{}, AuthMethod: s, AppType: t, Scope: list(s), IssuedAt: n},
		&adminState{Subjects: m, Clients: m, BlockedClients: map[string]int64{}, BlockedHosts: m},
		&ProtectedResourceMetadata{Resource: s, AuthorizationServers: list(t), ScopesSupported: list(s), BearerMethodsSupported: []string{"header"}, ResourceName: t},
		&AuthorizationServerMetadata{Issuer: s, AuthorizationEndpoint: t, TokenEndpoint: s, JWKSURI: t, RegistrationEndpoint: s,
			ScopesSupported: list(s), ResponseTypesSupported: []string{"code"}, ResponseModesSupported: list(t), GrantTypesSupported: list(s),
			TokenEndpointAuthMethodsSupported: list(t), TokenEndpointAuthSigningAlgValuesSupported: list(s), RevocationEndpoint: t,
			RevocationEndpointAuthMethodsSupported: list(s), RevocationEndpointAuthSigningAlgValues: list(t), CodeChallengeMethodsSupported: list(s),
			AuthorizationResponseIssParameterSupported: b, ClientIDMetadataDocumentSupported: !b, ProtectedResources: list(t)},
		&RegistrationResponse{ClientID: s, ClientIDIssuedAt: n, ClientSecret: t, ClientSecretExpiresAt: ptr, ClientName: s,
			RedirectURIs: list(t), GrantTypes: list(s), ResponseTypes: []string{}, TokenEndpointAuthMethod: s, ApplicationType: t, Scope: s},
		&TokenResponse{AccessToken: s, TokenType: t, ExpiresIn: n, Scope: s, RefreshToken: t},
	}
}

// encodeRecord is the hand-written encoding of one of recordsFrom's values.
func encodeRecord(v any) []byte {
	switch r := v.(type) {
	case *authzRequest:
		return r.appendJSON(nil)
	case interface{ marshal() []byte }:
		return r.marshal()
	}
	panic("no encoder")
}

func checkRecordsEncode(t *testing.T, s, u string, n int64, b bool) {
	for _, v := range recordsFrom(s, u, n, b) {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got := encodeRecord(v)
		if !bytes.Equal(got, want) {
			t.Errorf("%T:\n got %s\nwant %s", v, got, want)
		}
		wantIndent, _ := json.MarshalIndent(v, "", "  ")
		if gotIndent := indentedJSON(got); !bytes.Equal(gotIndent, append(wantIndent, '\n')) {
			t.Errorf("%T indented:\n got %s\nwant %s", v, gotIndent, wantIndent)
		}
	}
}

var recordSeeds = []struct {
	s, t string
	n    int64
	b    bool
}{
	{"", "", 0, false}, {"a", "b", 1, true}, {"a,b,<c>", "x\u2028y&\"\\\n\x01\x7f", -1 << 63, false},
	{"\xff\xfe", "é,日本", 1<<63 - 1, true}, {"k", "kk,", 42, false},
}

func TestRecordsEncodeAsEncodingJSON(t *testing.T) {
	for _, sd := range recordSeeds {
		checkRecordsEncode(t, sd.s, sd.t, sd.n, sd.b)
	}
}

func FuzzRecordsEncodeAsEncodingJSON(f *testing.F) {
	for _, sd := range recordSeeds {
		f.Add(sd.s, sd.t, sd.n, sd.b)
	}
	f.Fuzz(checkRecordsEncode)
}

// decodable pairs a fresh value for encoding/json with the hand-written
// decoder of the same type.
func decodable() []struct {
	ref    any
	mine   any
	decode func([]byte) error
} {
	var (
		g1, g2 grantRecord
		c1, c2 codeRecord
		t1, t2 consentTicket
		s1, s2 upstreamState
		u1, u2 upstreamToken
		k1, k2 sealedClient
		a1, a2 adminState
	)
	return []struct {
		ref    any
		mine   any
		decode func([]byte) error
	}{
		{&g1, &g2, g2.unmarshal}, {&c1, &c2, c2.unmarshal}, {&t1, &t2, t2.unmarshal}, {&s1, &s2, s2.unmarshal},
		{&u1, &u2, u2.unmarshal}, {&k1, &k2, k2.unmarshal}, {&a1, &a2, a2.unmarshal},
	}
}

func checkRecordsDecode(t *testing.T, data []byte) {
	// encoding/json turns invalid UTF-8 and lone surrogates into U+FFFD
	// where gjson keeps the bytes: only the verdicts are compared then.
	sameValues := utf8.Valid(data) && !bytes.Contains(bytes.ToLower(data), []byte(`\ud`))
	for _, d := range decodable() {
		errRef := json.Unmarshal(data, d.ref)
		err := d.decode(data)
		if (err == nil) != (errRef == nil) {
			t.Errorf("%T from %q: error %v, encoding/json: %v", d.mine, data, err, errRef)
			continue
		}
		if err == nil && sameValues && !reflect.DeepEqual(d.ref, d.mine) {
			t.Errorf("%T from %q:\n got %+v\nwant %+v", d.mine, data, d.mine, d.ref)
		}
	}
}

var decodeSeeds = []string{
	`null`, ` {} `, `[]`, `"x"`, `1`, `{`, `{"st":"active","c":"c1","u":"u","a":"r","o":["a",null],"t":1,"e":2,"rt":true,"cl":{"g":["x"],"n":null}}`,
	`{"ST":"x","St":"y","C":5}`, `{"o":["a"],"o":null}`, `{"o":"a"}`, `{"o":[1]}`, `{"t":1.0}`, `{"t":1e3}`, `{"t":-0}`,
	`{"t":99999999999999999999}`, `{"r":{"c":"a"},"r":{"s":"b"},"u":"x","x":true,"e":1}`, `{"r":[]}`, `{"r":null}`,
	`{"cl":{"a":1},"cl":{"b":2}}`, `{"cl":[]}`, `{"u":{"s":1,"t":null},"bc":{},"bh":{"h":"x"}}`, `{"u":[]}`,
	`{"r":["a"],"g":[],"i":7,"n":"x","s":null}`, `{"t":"tok","s":"sub","x":{"deep":[[[]]]}}`, `{"rt":"true"}`, `{"x":1}`,
	`{"\u0063":"esc"}`, "{\"c\":\"\xff\"}", `{"c":"\ud800"}`, `{"ſt":"long s","K":1}`,
}

func TestRecordsDecodeAsEncodingJSON(t *testing.T) {
	for _, d := range decodeSeeds {
		checkRecordsDecode(t, []byte(d))
	}
	// Round trip: what the writer wrote reads back the same.
	for _, sd := range recordSeeds {
		for _, v := range recordsFrom(sd.s, sd.t, sd.n, sd.b) {
			checkRecordsDecode(t, encodeRecord(v))
		}
	}
}

func FuzzRecordsDecodeAsEncodingJSON(f *testing.F) {
	for _, d := range decodeSeeds {
		f.Add([]byte(d))
	}
	f.Fuzz(checkRecordsDecode)
}
