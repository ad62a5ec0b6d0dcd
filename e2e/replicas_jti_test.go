package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	harnesstest "github.com/mcpgate/mcpgate/wazero-harness/harnesstest"
	"golang.org/x/oauth2"
)

// TestReplicasAssertionJTI: a private_key_jwt client (a CIMD client with
// its key in an inline jwks) authenticates with a client assertion on A;
// the same assertion on B is invalid_client. Then, five times, one fresh
// assertion is sent to A and B at the same instant: etcd's create-if-absent
// lets exactly one through.
func TestReplicasAssertionJTI(t *testing.T) {
	etcd := oneEtcd(t)
	ca := harnesstest.NewCA(t)
	doh := harnesstest.StartDoH(t, ca)
	docs := startCIMDHost(t, ca, "client.test")
	doh.Set(docs.Hostname, docs.IP)
	cfgText := strings.Replace(readConfig(t, "conformance.json"), "{", "{\n  \"cimd\": "+cimdSection(doh, []string{"client.test"}, `"timeout": "2s"`)+",", 1)
	rp := startReplicasOf(t, wasm, [2]string{etcd.URL(0), etcd.URL(0)}, cfgText, "", cimdClusters(doh, ca))

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding
	redirect := "http://127.0.0.1:45681/callback"
	clientID := docs.url("/replica-pkjwt.json")
	doc := clientDoc(clientID, redirect)
	doc["token_endpoint_auth_method"] = "private_key_jwt"
	doc["jwks"] = map[string]any{"keys": []map[string]any{{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
		"x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])}}}
	docs.serveDoc("/replica-pkjwt.json", doc)
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"mcp:tools"},
		Endpoint: oauth2.Endpoint{AuthURL: rp.base + "/oauth/authorize", TokenURL: rp.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	code := func() url.Values {
		verifier := oauth2.GenerateVerifier()
		rp.route(func(*http.Request) int { return 0 })
		loc, err := newFormBrowser(t).authorize(context.Background(), conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("resource", rp.base+"/mcp")))
		if err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("authorize: %v %v", loc, err)
		}
		return url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "code_verifier": {verifier},
			"redirect_uri": {redirect}, "client_id": {clientID}, "resource": {rp.base + "/mcp"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
	}
	redeem := func(inst int, form url.Values, assertion string) (int, string) {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("client_assertion", assertion)
		req, _ := http.NewRequest("POST", rp.base+"/oauth/token", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Instance", fmt.Sprint(inst))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m.Error
	}
	byHeader := func(r *http.Request) int {
		if r.Header.Get("X-Instance") == "1" {
			return 1
		}
		return 0
	}

	first, second := code(), code()
	assertion := signAssertion(t, key, clientID, rp.base+"/oauth/token", "jti-replica-1")
	rp.route(byHeader)
	if st, e := redeem(0, first, assertion); st != 200 {
		t.Fatalf("assertion on A: %d %s", st, e)
	}
	if st, e := redeem(1, second, assertion); st != 401 || e != "invalid_client" {
		t.Fatalf("the same assertion on B: %d %s, want 401 invalid_client", st, e)
	}
	for round := 0; round < 5; round++ {
		forms := [2]url.Values{code(), code()}
		rp.route(byHeader)
		a := signAssertion(t, key, clientID, rp.base+"/oauth/token", fmt.Sprintf("jti-race-%d-%d", round, time.Now().UnixNano()))
		var wg sync.WaitGroup
		var st [2]int
		var errs [2]string
		start := make(chan struct{})
		for i := range forms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st[i], errs[i] = redeem(i, forms[i], a)
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i := range st {
			switch {
			case st[i] == 200:
				ok++
			case st[i] == 401 && errs[i] == "invalid_client":
			default:
				t.Errorf("round %d instance %c: %d %s", round, 'A'+i, st[i], errs[i])
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of two racing uses of one assertion succeeded, want exactly 1", round, ok)
		}
	}
}
