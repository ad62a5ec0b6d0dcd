package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// This file holds the package's verdicts against go-jose, a well-kept JOSE
// library, used in tests only: it is never linked into the filter
// (authcore's TestWasmLinksNoTestOnlyDeps checks).

// goJoseAlgs is the algorithm set both implementations are restricted to.
var goJoseAlgs = []gojose.SignatureAlgorithm{gojose.RS256, gojose.RS384, gojose.RS512, gojose.PS256,
	gojose.PS384, gojose.PS512, gojose.ES256, gojose.ES384, gojose.EdDSA}

// oursVerifies is this package's verdict on token with pub.
func oursVerifies(token string, pub crypto.PublicKey) bool {
	t, err := Parse(token, 1<<16, Algorithms)
	return err == nil && Verify(t.Alg, ours(pub), t.SigningInput, t.Signature) == nil
}

// goJoseVerifies is go-jose's verdict on token with pub.
func goJoseVerifies(token string, pub crypto.PublicKey) bool {
	obj, err := gojose.ParseSignedCompact(token, goJoseAlgs)
	if err != nil {
		return false
	}
	_, err = obj.Verify(std(pub))
	return err == nil
}

// deliberatelyStricter reports the documented classes of input this
// package refuses and go-jose accepts:
//   - base64url with non-zero unused bits (RFC 7515 §2 and RFC 4648 §3.5:
//     one encoding per value);
//   - any "crit" header (go-jose understands "b64" of RFC 7797);
//   - an embedded key or certificate chain ("jwk", "x5c"), which go-jose
//     checks and this package refuses unread;
//   - a "typ" that is not a string (go-jose ignores "typ");
//   - a header over maxHeaderLen bytes, or one strictjson refuses beyond
//     duplicate names (invalid UTF-8, escaped lone surrogates, nesting
//     deeper than maxDepth), which go-jose's decoder repairs or allows;
//   - RSASSA-PSS with a salt other than the hash length (RFC 7518 §3.5).
func deliberatelyStricter(token string, pub crypto.PublicKey) bool {
	parts := strings.Split(token, ".")
	for _, p := range parts {
		if _, err := b64.DecodeString(p); err != nil {
			return true
		}
	}
	hb, _ := b64.DecodeString(parts[0])
	h := jsonv.ParseBytes(hb)
	if h.Get("crit").Exists() || h.Get("jwk").Exists() || h.Get("x5c").Exists() || h.Get("typ").Exists() && h.Get("typ").Type != jsonv.String ||
		len(hb) > maxHeaderLen || strictjson.Check(hb, strictjson.Options{MaxDepth: maxDepth}) != nil {
		return true
	}
	if alg := h.Get("alg").Str; strings.HasPrefix(alg, "PS") {
		if rk, ok := pub.(*rsa.PublicKey); ok {
			sig, _ := b64.DecodeString(parts[2])
			hash := algHash(alg)
			return rsa.VerifyPSS(rk, hash, digest(hash, []byte(parts[0]+"."+parts[1])), sig, nil) == nil
		}
	}
	return false
}

// FuzzDifferentialJWS: on any input and for each test key, this package
// accepts only what go-jose accepts, and go-jose accepts only what this
// package accepts or deliberately refuses (deliberatelyStricter).
func FuzzDifferentialJWS(f *testing.F) {
	for _, alg := range Algorithms {
		f.Add(signed(alg, `{"alg":"`+alg+`","kid":"k"}`, `{"sub":"a"}`))
		f.Add(signed(alg, `{"alg":"`+alg+`","crit":["b64"],"b64":false}`, `{}`))
		f.Add(signed(alg, `{"alg":"`+alg+`","alg":"`+alg+`"}`, `x`))
		f.Add(signed(alg, `{"alg":"`+alg+`","jwk":{"kty":"oct","k":"AA"}}`, `x`))
	}
	// Algorithm confusion: the RSA public key's bytes as an HMAC secret.
	f.Add(enc(`{"alg":"HS256"}`) + "." + enc(`{}`) + ".AAAA")
	f.Add(enc(`{"alg":"none"}`) + "." + enc(`{}`) + ".")
	k := loadKeys()
	pubs := []crypto.PublicKey{k.rsa.Public(), k.es256.Public(), k.es384.Public(), k.ed.Public()}
	f.Fuzz(func(t *testing.T, token string) {
		if len(token) > 1<<16 {
			return
		}
		for _, pub := range pubs {
			ours, theirs := oursVerifies(token, pub), goJoseVerifies(token, pub)
			if ours && !theirs {
				t.Fatalf("accepted with %T what go-jose refuses: %q", pub, token)
			}
			if theirs && !ours && !deliberatelyStricter(token, pub) {
				t.Fatalf("refused with %T what go-jose accepts: %q", pub, token)
			}
		}
	})
}

// TestDifferentialSignatures: signatures made by go-jose verify here, and
// signatures made here verify in go-jose, for every algorithm.
func TestDifferentialSignatures(t *testing.T) {
	k := loadKeys()
	for _, alg := range Algorithms {
		priv := k.stdSigner(alg)
		s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.SignatureAlgorithm(alg), Key: priv}, nil)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := s.Sign([]byte(`{"sub":"a"}`))
		if err != nil {
			t.Fatal(err)
		}
		theirs, _ := obj.CompactSerialize()
		if !oursVerifies(theirs, priv.Public()) {
			t.Errorf("%s: go-jose's signature does not verify here", alg)
		}
		ours := signed(alg, `{"alg":"`+alg+`"}`, `{"sub":"a"}`)
		if !goJoseVerifies(ours, priv.Public()) {
			t.Errorf("%s: this package's signature does not verify in go-jose", alg)
		}
		for _, other := range pubs(k) {
			if fitsSame(other, priv.Public()) {
				continue
			}
			if oursVerifies(ours, other) || goJoseVerifies(ours, other) {
				t.Errorf("%s: verified with another key %T", alg, other)
			}
		}
	}
	_ = rand.Reader
}

// pubs are the test keys' public halves in this package's form.
func pubs(k *testKeys) []crypto.PublicKey {
	return []crypto.PublicKey{ours(k.rsa.Public()), ours(k.es256.Public()), ours(k.es384.Public()), k.ed.Public()}
}

// std converts a key of this package's form into the standard library's,
// for go-jose.
func std(k crypto.PublicKey) crypto.PublicKey {
	keys := loadKeys()
	for _, s := range []crypto.Signer{keys.rsa, keys.es256, keys.es384, keys.ed} {
		if fitsSame(k, s.Public()) {
			return s.Public()
		}
	}
	return k
}

// FuzzDifferentialSignedHeader: header and payload bytes are signed with
// the test key for the header's "alg" (ES256 when it names none of ours),
// so that the header parsers, not a broken signature, decide the verdicts,
// which must agree as in FuzzDifferentialJWS.
func FuzzDifferentialSignedHeader(f *testing.F) {
	for _, alg := range Algorithms {
		f.Add([]byte(`{"alg":"`+alg+`","kid":"k","typ":"JWT"}`), []byte(`{"sub":"a"}`))
	}
	f.Add([]byte(`{"alg":"ES256","nonce":1}`), []byte(`{}`))
	f.Add([]byte(`{"alg":"ES256","alg":"ES256"}`), []byte(`{}`))
	f.Add([]byte(`{"alg":"ES256","b64":false}`), []byte(`{}`))
	f.Add([]byte(`{"alg":"ES256","kid":"\u00e9\ud800"}`), []byte(`x`))
	f.Add([]byte(` {"alg":"EdDSA"} `), []byte(``))
	k := loadKeys()
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		if len(header) > 4096 || len(payload) > 4096 {
			return
		}
		alg := jsonv.GetBytes(header, "alg").Str
		if !contains(Algorithms, alg) {
			alg = ES256
		}
		token, err := Compact(header, payload, func(in []byte) ([]byte, error) { return testSign(alg, k.signer(alg), in) })
		if err != nil {
			t.Fatal(err)
		}
		for _, pub := range pubs(k) {
			ours, theirs := oursVerifies(token, pub), goJoseVerifies(token, pub)
			if ours && !theirs {
				t.Fatalf("accepted with %T what go-jose refuses: header %q", pub, header)
			}
			if theirs && !ours && !deliberatelyStricter(token, pub) {
				t.Fatalf("refused with %T what go-jose accepts: header %q", pub, header)
			}
		}
	})
}

// FuzzDifferentialJWK: a JWK this package accepts, go-jose accepts as the
// same public key; a public JWK go-jose accepts whose type and size this
// package supports, without "use", "key_ops" or "alg" to disqualify it,
// is accepted here too.
func FuzzDifferentialJWK(f *testing.F) {
	k := loadKeys()
	for _, priv := range []crypto.Signer{k.rsa, k.es256, k.es384, k.ed} {
		f.Add(jsonOf(publicJWK(priv, map[string]any{"kid": "a"})))
		f.Add(jsonOf(publicJWK(priv, map[string]any{"use": "sig", "alg": AlgFor(ours(priv.Public()))})))
	}
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":""}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	p := &Policy{Algs: Algorithms}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8192 {
			return
		}
		mine, err := ParseJWK(jsonv.ParseBytes(data), p)
		var theirs gojose.JSONWebKey
		theirsErr := theirs.UnmarshalJSON(data)
		if err == nil {
			if theirsErr != nil {
				t.Fatalf("accepted what go-jose refuses (%v): %s", theirsErr, data)
			}
			if !fitsSame(mine.Public, theirs.Key) {
				t.Fatalf("go-jose reads another key from %s: %T", data, theirs.Key)
			}
			return
		}
		if theirsErr != nil || !theirs.IsPublic() || !theirs.Valid() || strictjson.Check(data, strictjson.Options{MaxDepth: maxDepth}) != nil {
			return
		}
		v := jsonv.ParseBytes(data)
		if v.Get("use").Exists() || v.Get("key_ops").Exists() || v.Get("alg").Exists() || v.Get("kid").Exists() && v.Get("kid").Type != jsonv.String {
			return
		}
		supported := false
		switch pub := theirs.Key.(type) {
		case *rsa.PublicKey:
			// An even modulus is refused here (RFC 8017 §3.1).
			supported = pub.N.BitLen() >= MinRSABits && pub.N.BitLen() <= defaultMaxRSABits && pub.E >= 3 && pub.E%2 == 1 && pub.N.Bit(0) == 1 &&
				// go-jose tolerates leading zero octets and a padded
				// exponent; RFC 7518 §6.3.1 does not.
				b64.EncodeToString(pub.N.Bytes()) == v.Get("n").Str && b64.EncodeToString(bigEndian(pub.E)) == v.Get("e").Str
		case ed25519.PublicKey:
			// go-jose decodes base64url with non-zero unused bits; this
			// package takes one encoding per value (RFC 4648 §3.5).
			supported = b64.EncodeToString(pub) == v.Get("x").Str
		case *ecdsa.PublicKey:
			raw, _ := pub.Bytes()
			size := (len(raw) - 1) / 2
			supported = AlgFor(ours(pub)) != "" &&
				b64.EncodeToString(raw[1:1+size]) == v.Get("x").Str && b64.EncodeToString(raw[1+size:]) == v.Get("y").Str
		default:
			supported = AlgFor(ours(pub)) != ""
		}
		if supported {
			t.Fatalf("refused (%v) a key go-jose accepts: %s", err, data)
		}
	})
}

// bigEndian is e in the minimum number of octets.
func bigEndian(e int) []byte {
	var b []byte
	for ; e > 0; e >>= 8 {
		b = append([]byte{byte(e)}, b...)
	}
	return b
}
