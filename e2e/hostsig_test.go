package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/mcpgate/mcpgate/authcore"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
	"golang.org/x/oauth2"
)

// serveVM sends one MCP request with tok to VM i of tg and returns the
// status.
func serveVM(tg *target, i int, tok string) int {
	r := httptest.NewRequest("POST", tg.base+"/mcp", strings.NewReader(initializeBody))
	for k, v := range mcpHeaders(tok) {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	tg.host.VM(i).ServeHTTP(w, r)
	return w.Code
}

// signatureMetric is how many signatures the filter checked, all VMs.
func signatureMetric(h *harness.Host) uint64 {
	v, _ := h.Metric("mcpgate.signature.verified")
	return v
}

// TestOneVerificationPerEnvoy: eight VMs see one new token; its signature
// is checked once in all (by the host's verify_signature, or in wasm on a
// host without it), the other seven take it from shared data.
func TestOneVerificationPerEnvoy(t *testing.T) {
	for _, noHost := range []bool{false, true} {
		name := map[bool]string{false: "host signatures", true: "no host signatures"}[noHost]
		t.Run(name, func(t *testing.T) {
			tg := startTarget(t, wasm, readConfig(t, "conformance.json"), targetOptions{vms: 8, noHostSignatures: noHost})
			tok := tg.mint(t, tg.base+"/mcp", "mcp:tools")
			for i := 0; i < 8; i++ {
				if st := serveVM(tg, i, tok); st != 200 {
					t.Fatalf("VM %d: status %d", i, st)
				}
			}
			if n := signatureMetric(tg.host); n != 1 {
				t.Errorf("8 VMs checked the signature %d times, want 1", n)
			}
			wantHost := int64(1)
			if noHost {
				wantHost = 0
			}
			if n := tg.host.ForeignCalls(harness.ForeignVerifySignature); n != wantHost {
				t.Errorf("host verify_signature calls %d, want %d", n, wantHost)
			}
			said := 0
			for _, e := range tg.host.Logs() {
				if strings.Contains(e.Msg, "signatures verified") {
					said++
					if got, want := strings.Contains(e.Msg, "verified by the host"), !noHost; got != want {
						t.Errorf("start log %q does not say where signatures are checked", e.Msg)
					}
				}
			}
			if said != 8 {
				t.Errorf("%d VMs logged where signatures are checked, want 8", said)
			}
		})
	}
}

// TestHostSignatureVerdicts sends valid and broken ES256 tokens and an
// EdDSA token through the compiled filter on hosts with and without the
// signature functions: the same statuses on both; EdDSA never reaches the
// host.
func TestHostSignatureVerdicts(t *testing.T) {
	cfgText := readConfig(t, "conformance.json")
	type result struct {
		statuses  []int
		hostCalls int64
	}
	run := func(noHost bool) result {
		tg := startTarget(t, wasm, cfgText, targetOptions{vms: 1, noHostSignatures: noHost})
		good := tg.mint(t, tg.base+"/mcp", "mcp:tools")
		parts := strings.Split(good, ".")
		h, p, s := parts[0], parts[1], parts[2]
		sig, _ := base64.RawURLEncoding.DecodeString(s)
		enc := func(b []byte) string { return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(b) }
		flip := append([]byte(nil), sig...)
		flip[10] ^= 1
		zeroR := append(make([]byte, 32), sig[32:]...)
		otherClaims := h + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`)) + "." + s
		var r result
		for _, tok := range []string{good, enc(flip), enc(sig[:63]), enc(append(sig, 0)), enc(zeroR), enc(nil), otherClaims} {
			r.statuses = append(r.statuses, serveVM(tg, 0, tok))
		}
		r.hostCalls = tg.host.ForeignCalls(harness.ForeignVerifySignature)
		// An EdDSA token: verified in wasm on both hosts.
		edText := strings.Replace(strings.Replace(strings.ReplaceAll(cfgText, "{{BASE}}", tg.base),
			`"kid": "es", "active": true`, `"kid": "es"`, 1), `"kid": "ed",`, `"kid": "ed", "active": true,`, 1)
		edCfg, err := authcore.ParseConfig([]byte(edText))
		if err != nil {
			t.Fatal(err)
		}
		edEng, _ := authcore.New(edCfg, authcore.Options{})
		now := time.Now()
		edTok, err := edEng.MintAccessToken(authcore.AccessTokenClaims{Issuer: tg.base, Subject: "alice", Audience: []string{tg.base + "/mcp"},
			ClientID: "test-client", Scope: []string{"mcp:tools"}, IssuedAt: now, Expiry: now.Add(time.Minute), JTI: "ed"})
		if err != nil || !strings.Contains(edText, `"kid": "ed", "active": true`) {
			t.Fatalf("EdDSA token: %v", err)
		}
		r.statuses = append(r.statuses, serveVM(tg, 0, edTok))
		if n := tg.host.ForeignCalls(harness.ForeignVerifySignature); n != r.hostCalls {
			t.Errorf("an EdDSA token reached the host's verify_signature")
		}
		return r
	}
	on, off := run(false), run(true)
	want := []int{200, 401, 401, 401, 401, 401, 401, 200}
	for i := range want {
		if on.statuses[i] != want[i] || off.statuses[i] != want[i] {
			t.Errorf("token %d: host %d, wasm %d, want %d", i, on.statuses[i], off.statuses[i], want[i])
		}
	}
	// The valid, flipped and other-claims tokens are well-formed and reach
	// the host; the others are refused before (length, r = 0).
	if on.hostCalls != 3 || off.hostCalls != 0 {
		t.Errorf("host verify calls: %d with, %d without; want 3 and 0", on.hostCalls, off.hostCalls)
	}
}

// TestTokenEndpointSignsByHost: access tokens from the token endpoint are
// signed by the host's sign function when it has one, and work at the
// resource either way.
func TestTokenEndpointSignsByHost(t *testing.T) {
	for _, noHost := range []bool{false, true} {
		tg := startTarget(t, wasm, readConfig(t, "conformance.json"), targetOptions{vms: 1, noHostSignatures: noHost})
		code, verifier, cfg := pkceCode(t, tg, "mcp:tools")
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(1)
		if noHost {
			want = 0
		}
		if n := tg.host.ForeignCalls(harness.ForeignSign); n != want {
			t.Errorf("noHost=%v: host sign calls %d, want %d", noHost, n, want)
		}
		if st := serveVM(tg, 0, tok.AccessToken); st != 200 {
			t.Errorf("noHost=%v: issued token refused: %d", noHost, st)
		}
	}
}

// TestIssuerAlgorithmsInWasm: a trusted issuer publishes an RSA, a P-256, a
// P-384 and an Ed25519 key; tokens signed by go-jose in each of the seven
// algorithms a trusted issuer may use are accepted by the compiled filter, on a
// host with Envoy's signature functions and on one without (where RSA,
// RSA-PSS and ECDSA run in wasm on nistec and bigmod), and the same tokens
// with one bit of the signature changed are refused on both. RS* and ES*
// reach the host when it has the functions; PS256 and EdDSA never do.
func TestIssuerAlgorithmsInWasm(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ked, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]crypto.Signer{"rsa": rk, "p256": k256, "p384": k384, "ed": ked}
	set := jose.JSONWebKeySet{}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Use: "sig"})
	}
	jwks, _ := json.Marshal(set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	algs := map[jose.SignatureAlgorithm]string{jose.RS256: "rsa", jose.RS384: "rsa", jose.RS512: "rsa", jose.PS256: "rsa",
		jose.ES256: "p256", jose.ES384: "p384", jose.EdDSA: "ed"}
	cfg := `{"resources": [{"resource": "{{BASE}}/mcp", "scopes": ["mcp:tools"]}],
  "trusted_issuers": [{"issuer": "` + srv.URL + `", "cluster": "algs", "jwks_uri": "` + srv.URL + `/jwks",
    "audiences": ["{{BASE}}/mcp"], "algorithms": ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]}]}`
	for _, noHost := range []bool{false, true} {
		tg := startTarget(t, wasm, cfg, targetOptions{vms: 1, noHostSignatures: noHost, clusters: map[string]string{"algs": srv.URL}})
		now := time.Now()
		payload, _ := json.Marshal(map[string]any{"iss": srv.URL, "sub": "alice", "aud": tg.base + "/mcp", "scope": "mcp:tools",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		hostWanted := int64(0)
		for alg, kid := range algs {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: keys[kid]}, (&jose.SignerOptions{}).WithHeader("kid", kid).WithType("JWT"))
			if err != nil {
				t.Fatal(err)
			}
			obj, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := obj.CompactSerialize()
			parts := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			bad := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
			if st := serveVM(tg, 0, bad); st != 401 {
				t.Errorf("noHost=%v %s: a changed signature got %d, want 401", noHost, alg, st)
			}
			if st := serveVM(tg, 0, tok); st != 200 {
				t.Errorf("noHost=%v %s: a valid token got %d, want 200", noHost, alg, st)
			}
			if !noHost && (alg[0] == 'R' || alg[0] == 'E' && alg != jose.EdDSA) {
				hostWanted += 2
			}
		}
		if n := tg.host.ForeignCalls(harness.ForeignVerifySignature); n != hostWanted {
			t.Errorf("noHost=%v: host verify_signature calls %d, want %d", noHost, n, hostWanted)
		}
	}
}
