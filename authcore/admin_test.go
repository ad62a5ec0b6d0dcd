package authcore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

const adminCredential = "admin-credential-0123456789abcdef"

func adminMembers(over map[string]string) map[string]string {
	h := sha256.Sum256([]byte(adminCredential))
	m := map[string]string{"admin": `{"path":"/mcpgate/admin","token_sha256":"` + hex.EncodeToString(h[:]) + `"}`}
	for k, v := range over {
		m[k] = v
	}
	return m
}

func (h *harness) admin(e *Engine, credential, body string) Reply {
	req := &Request{Method: "POST", Path: "/mcpgate/admin", Headers: Header{{"authorization", "Bearer " + credential}, {"content-type", "application/json"}, {"x-request-id", "req-42"}}}
	return h.run(e, req, []byte(body))
}

// TestAdminRevocationAndBlocking: an operator revokes a user's grants and
// blocks a client; a second VM sharing the store applies both within
// adminRecheck, at the guard, the token endpoint and /authorize. Every
// action is one audit line without the credential.
func TestAdminRevocationAndBlocking(t *testing.T) {
	var lines []string
	h, first := refreshHarness(t, adminMembers(nil))
	cfg := h.e.cfg
	vm2, _ := New(cfg, Options{Now: h.clk.Now, Store: h.store, Audit: func(l []byte) { lines = append(lines, string(l)) }})
	h.e.auditSink = vm2.auditSink

	if !h.guardAllows(vm2, first.AccessToken) {
		t.Fatal("token refused before any revocation")
	}
	// Wrong or missing credential.
	for _, cred := range []string{"", "wrong"} {
		if r := h.admin(h.e, cred, `{"action":"revoke_user","sub":"alice"}`); r.Status != 401 || r.Headers.Get("www-authenticate") == "" {
			t.Fatalf("credential %q: %d", cred, r.Status)
		}
	}
	if r := h.admin(h.e, adminCredential, `{"action":"explode"}`); r.Status != 400 {
		t.Fatalf("unknown action: %d", r.Status)
	}
	if r := h.admin(h.e, adminCredential, `{"action":"revoke_user","sub":"alice"}`); r.Status != 200 {
		t.Fatalf("revoke_user: %d %s", r.Status, r.Body)
	}
	// The other VM trusts its last read for at most adminRecheck.
	h.advance(adminRecheck)
	if h.guardAllows(vm2, first.AccessToken) {
		t.Error("a revoked user's token still accepted after the recheck")
	}
	oauthErr(t, h.refresh(vm2, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
	// Revocation is not a ban: a new authorization works.
	h.advance(time.Second)
	code, verifier := h.getCode(newBrowser(), confidentialClient, webRedirect, map[string]string{"scope": "mcp:tools"})
	tr := tokenOK(t, h.tokenReq(h.e, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {webRedirect}}, confidentialClient, confidentialSecret))
	if !h.guardAllows(h.e, tr.AccessToken) {
		t.Fatal("a grant made after the revocation is refused")
	}

	// Blocking the client stops its tokens, its token requests and its
	// authorization requests.
	if r := h.admin(h.e, adminCredential, `{"action":"block_client","client_id":"web-app"}`); r.Status != 200 {
		t.Fatalf("block_client: %d %s", r.Status, r.Body)
	}
	h.advance(adminRecheck)
	if h.guardAllows(vm2, tr.AccessToken) {
		t.Error("a blocked client's token still accepted")
	}
	oauthErr(t, h.refresh(vm2, tr.RefreshToken, nil), 401, ErrCodeInvalidClient)
	_, ch := pkce()
	errorPageOf(t, h.get(newBrowser(), authzQuery(confidentialClient, webRedirect, ch, nil)), 400)
	// Unblocked, it works again.
	if r := h.admin(h.e, adminCredential, `{"action":"unblock_client","client_id":"web-app"}`); r.Status != 200 {
		t.Fatal(r.Status)
	}
	h.advance(adminRecheck)
	if !h.guardAllows(vm2, tr.AccessToken) {
		t.Error("an unblocked client's token refused")
	}

	var actions []string
	for _, l := range lines {
		if strings.Contains(l, adminCredential) || strings.Contains(l, first.RefreshToken) || strings.Contains(l, first.AccessToken) {
			t.Errorf("secret in audit line %s", l)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if ev["event"] == "admin_action" {
			action, _ := ev["action"].(string)
			actions = append(actions, action+":"+itoa64(int64(ev["status"].(float64))))
			if ev["request_id"] != "req-42" {
				t.Errorf("request id missing: %s", l)
			}
		}
	}
	want := ":401,:401,explode:400,revoke_user:200,block_client:200,unblock_client:200"
	if strings.Join(actions, ",") != want {
		t.Errorf("admin audit lines %v, want %s", actions, want)
	}
}

// A blocked CIMD host refuses every client id under it; revoke_grant uses
// the grant revocation of replay detection.
func TestAdminBlockHostAndRevokeGrant(t *testing.T) {
	h, first := refreshHarness(t, adminMembers(nil))
	if r := h.admin(h.e, adminCredential, `{"action":"block_host","host":"Evil.Example"}`); r.Status != 200 {
		t.Fatalf("block_host: %d %s", r.Status, r.Body)
	}
	st := h.e.admin.st
	h.e.adminView(func(s *adminState, _ error) Outcome { st = s; return nil })
	if !st.clientBlocked("https://evil.example/client.json") || st.clientBlocked("https://good.example/client.json") || st.clientBlocked("web-app") {
		t.Error("host block")
	}
	if r := h.admin(h.e, adminCredential, `{"action":"block_host","host":"evil/../x"}`); r.Status != 400 {
		t.Errorf("bad host accepted: %d", r.Status)
	}
	gid := claimsOf(t, h.e, first.AccessToken).GrantID
	if r := h.admin(h.e, adminCredential, `{"action":"revoke_grant","grant":"`+gid+`"}`); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if h.guardAllows(h.e, first.AccessToken) {
		t.Error("revoked grant's token accepted")
	}
	oauthErr(t, h.refresh(h.e, first.RefreshToken, nil), 400, ErrCodeInvalidGrant)
}

// The native + https setting: refused at registration and for clients
// registered before it was set.
func TestNativeHTTPSRedirectSetting(t *testing.T) {
	body := `{"application_type":"native","redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none"}`
	h := newHarness(t, asConfigJSON(nil))
	rr := registered(t, h.register(h.e, body))
	strict := newHarness(t, asConfigJSON(withAS(map[string]string{"native_https_redirect_uris": "false"})))
	if r := strict.register(strict.e, body); r.Status != 400 || !strings.Contains(string(r.Body), "invalid_redirect_uri") {
		t.Errorf("strict registration: %d %s", r.Status, r.Body)
	}
	// Loopback stays fine for native clients.
	registered(t, strict.register(strict.e, `{"application_type":"native","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`))
	_, ch := pkce()
	errorPageOf(t, strict.get(newBrowser(), authzQuery(rr.ClientID, "https://app.example.com/cb", ch, nil)), 400)
	if r := h.get(newBrowser(), authzQuery(rr.ClientID, "https://app.example.com/cb", ch, nil)); r.Status != 200 {
		t.Errorf("default setting refused it: %d", r.Status)
	}
}
