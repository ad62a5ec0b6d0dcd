package authcore

import (
	"testing"
	"time"
)

// Fuzz targets for what trusted issuers send back: metadata documents,
// JWK Sets and introspection responses. None may panic; whatever they
// accept must be usable.

func FuzzParseIssuerMetadata(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://kc.example.com/realms/demo","jwks_uri":"https://kc.example.com/realms/demo/protocol/openid-connect/certs"}`))
	f.Add([]byte(`{"issuer":"https://kc.example.com/realms/demo","jwks_uri":"http://10.0.0.1/keys"}`))
	f.Add([]byte(`{"issuer":["x"],"jwks_uri":7}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		uri, err := parseIssuerMetadata(body, "https://kc.example.com/realms/demo")
		if err == nil {
			if _, msg := checkHTTPSURL(uri); msg != "" {
				t.Fatalf("accepted jwks_uri %q: %s", uri, msg)
			}
		}
	})
}

func FuzzParseIntrospection(f *testing.F) {
	f.Add([]byte(`{"active":true,"iss":"https://idp.example.com","sub":"alice","client_id":"ide","scope":"a b","aud":"https://mcp.example.com/mcp","exp":1900000000}`))
	f.Add([]byte(`{"active":false}`))
	f.Add([]byte(`{"active":true,"sub":"a","aud":["x",1]}`))
	f.Add([]byte(`{"active":"true"}`))
	f.Add([]byte(`{"active":true,"sub":"a","aud":"x","exp":1e300,"nbf":-1}`))
	ti := &TrustedIssuer{Issuer: "https://idp.example.com", Introspection: &IntrospectionConfig{CacheMax: time.Minute}}
	now := time.Unix(1800000000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, reason, err := parseIntrospection(body, ti, now)
		switch {
		case err != nil && (c != nil || reason != ""):
			t.Fatal("error with a result")
		case c != nil && (c.Subject == "" || len(c.Audience) == 0 || c.recheckAt == 0 || c.recheckAt > now.Add(time.Minute).UnixNano()):
			t.Fatalf("accepted claims %+v", c)
		}
	})
}

func FuzzParseIssuerKeySet(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","use":"sig","x":"KeGUvIh9ybGVgIe4ifxoTNNTRSGAMd07DE573Ae4210","y":"fZFy_YVVDRfDMhZ9rardg-dYnPLK290l9roMg2hdb7w"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":{}}`))
	ti := &TrustedIssuer{Issuer: "https://idp.example.com", Algorithms: externalAlgorithms}
	f.Fuzz(func(t *testing.T, body []byte) {
		ks, err := parseIssuerKeySet(body, ti)
		if err == nil && ks == nil {
			t.Fatal("nil key set without error")
		}
	})
}

func FuzzIssuerKeyRecord(f *testing.F) {
	rec := issuerKeyRecord{claimedAt: time.Unix(1, 0), fetchedAt: time.Unix(2, 0), freshUntil: time.Unix(3, 0), jwksURI: "https://a/keys", jwks: []byte(`{"keys":[]}`)}
	f.Add(rec.encode())
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, ok := decodeIssuerKeyRecord(b); ok {
			if again, ok := decodeIssuerKeyRecord(r.encode()); !ok || again.jwksURI != r.jwksURI || string(again.jwks) != string(r.jwks) {
				t.Fatal("record does not round-trip")
			}
		}
	})
}
