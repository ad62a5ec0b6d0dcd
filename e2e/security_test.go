package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestGuardRefusesAmbiguousBodies reproduces the per-tool scope bypass:
// with a token holding only mcp:tools, a body repeating "name", "method"
// or "params" (alone, escaped, in a batch, or with Mcp-Method/Mcp-Name
// headers agreeing with the first spelling) used to reach the MCP server,
// which keeps the last occurrence and ran admin_stats. Now each is a 400
// JSON-RPC error and the MCP server sees nothing.
func TestGuardRefusesAmbiguousBodies(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		tools := tg.mint(t, tg.base+"/mcp", "mcp:tools")
		for _, tc := range []struct {
			name, body string
			extra      []string
		}{
			{"repeated name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`, nil},
			{"escaped repeated name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"admin_stats","arguments":{}}}`, nil},
			{"repeated method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"admin_stats","arguments":{}},"method":"tools/call"}`, nil},
			{"repeated params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"admin_stats","arguments":{}}}`, nil},
			{"in a batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}]`, nil},
			{"name differing only by case", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"admin_stats","arguments":{}}}`, nil},
			{"headers agree with the first", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"admin_stats","arguments":{}}}`,
				[]string{"Mcp-Method", "tools/call", "Mcp-Name", "echo"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tg.demo.Main.ResetSeen()
				st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(tc.body), mcpHeaders(tools, tc.extra...))
				var rpc struct {
					Error struct {
						Code int `json:"code"`
					} `json:"error"`
				}
				if st != http.StatusBadRequest || json.Unmarshal(body, &rpc) != nil || rpc.Error.Code != -32600 {
					t.Fatalf("status %d body %s, want 400 with JSON-RPC error -32600", st, body)
				}
				if seen := tg.demo.Main.Seen(); len(seen) != 0 {
					t.Fatalf("the MCP server received %d request(s)", len(seen))
				}
			})
		}
	})
}

// TestConsentRefusesCrossOriginPost: a consent form posted with an Origin
// other than the issuer's (a page on another site submitting the user's
// open consent form) is refused with 403; the issuer's own origin and no
// Origin at all still work.
func TestConsentRefusesCrossOriginPost(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		cfg := &oauth2.Config{
			ClientID:    "test-client",
			Endpoint:    oauth2.Endpoint{AuthURL: tg.base + "/oauth/authorize", TokenURL: tg.base + "/oauth/token"},
			RedirectURL: "http://127.0.0.1:50123/callback",
		}
		authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		for _, tc := range []struct {
			origin string
			ok     bool
		}{{"https://evil.example", false}, {"null", false}, {tg.base, true}, {"", true}} {
			b := newFormBrowser(t)
			b.origin = tc.origin
			loc, err := b.authorize(context.Background(), authURL)
			if tc.ok && (err != nil || loc.Query().Get("code") == "") {
				t.Errorf("Origin %q: %v %v", tc.origin, loc, err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "consent: 403")) {
				t.Errorf("Origin %q: %v %v, want consent: 403", tc.origin, loc, err)
			}
		}
	})
}

// TestRegistrationLimiterAdmitsNewcomers reproduces the limiter lock-out:
// once 4096 source addresses had registered within a minute, every new
// address got 429. Each request here comes from its own loopback address
// (127.1.x.y) to one VM; after 4096 of them, newcomers still get 201 while
// a source over its own limit still gets 429.
func TestRegistrationLimiterAdmitsNewcomers(t *testing.T) {
	if testing.Short() {
		t.Skip("4100 connections")
	}
	forEachKind(t, func(t *testing.T, kind string) {
		cfg := strings.Replace(readConfig(t, "conformance.json"), `"rate_limit": 1000`, `"rate_limit": 1`, 1)
		tg := startTarget(t, kind, cfg, targetOptions{vms: 1})
		register := func(i int) int {
			ip := net.IPv4(127, 1, byte(i>>8), byte(i))
			client := &http.Client{Transport: &http.Transport{
				DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext,
				DisableKeepAlives: true,
			}}
			res, err := client.Post(tg.base+"/oauth/register", "application/json",
				strings.NewReader(`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		for i := 1; i <= 4096; i++ {
			if st := register(i); st != 201 {
				t.Fatalf("source %d: %d", i, st)
			}
		}
		for i := 4097; i < 4100; i++ {
			if st := register(i); st != 201 {
				t.Fatalf("newcomer %d after a full table: %d, want 201", i, st)
			}
		}
		if st := register(4099); st != 429 {
			t.Fatalf("a source over its limit: %d, want 429", st)
		}
	})
}

// TestNearMissPathsNeverForwarded reproduces the near-miss paths that
// reached the upstream unguarded (/MCP, /Mcp, /mcp;x, /mcp%3bx, /mcp%00,
// /mcp.): each is now a 400 and the MCP server sees nothing; and a
// loopback redirect URI with port 99999 is refused at registration.
func TestNearMissPathsNeverForwarded(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		for _, p := range []string{"/MCP", "/Mcp", "/mcp;x", "/mcp%3bx", "/mcp%00", "/mcp.", "/mcp%20", "/mcp%23x"} {
			tg.demo.Main.ResetSeen()
			st, _, body := do(t, "POST", tg.base+p, strings.NewReader(initializeBody), mcpHeaders(""))
			if st != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", p, st, body)
			}
			if seen := tg.demo.Main.Seen(); len(seen) != 0 {
				t.Errorf("%s reached the MCP server", p)
			}
		}
		st, _, body := do(t, "POST", tg.base+"/oauth/register", strings.NewReader(`{"redirect_uris":["http://127.0.0.1:99999/cb"],"token_endpoint_auth_method":"none"}`),
			http.Header{"Content-Type": {"application/json"}})
		if st != http.StatusBadRequest || !strings.Contains(string(body), "invalid_redirect_uri") {
			t.Errorf("port 99999 registered: %d %s", st, body)
		}
	})
}

// TestForgedRefreshTokenChangesNothing reproduces the forged refresh
// token: the grant id (the "gid" claim of every access token) with a
// made-up secret, sent to /oauth/token or /oauth/revoke, used to count as
// reuse and revoke the user's grant. Now the token endpoint answers a plain
// invalid_grant, revocation answers 200 without effect, and the real
// refresh token keeps working; a really rotated token still revokes.
func TestForgedRefreshTokenChangesNothing(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tg := startTarget(t, kind, readConfig(t, "conformance.json"), targetOptions{})
		ctx := context.Background()
		code, verifier, cfg := pkceCode(t, tg, "mcp:tools", "offline_access")
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", tg.base+"/mcp"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("exchange: %v %+v", err, tok)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			GID string `json:"gid"`
		}
		if json.Unmarshal(payload, &claims) != nil || claims.GID == "" {
			t.Fatalf("no gid in %s", payload)
		}
		forged := claims.GID + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
		form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		st, _, body := do(t, "POST", tg.base+"/oauth/token", strings.NewReader(url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {forged}, "client_id": {"test-client"}}.Encode()), form)
		if st != 400 || !strings.Contains(string(body), "invalid_grant") {
			t.Fatalf("forged refresh: %d %s", st, body)
		}
		st, _, body = do(t, "POST", tg.base+"/oauth/revoke", strings.NewReader(url.Values{
			"token": {forged}, "client_id": {"test-client"}}.Encode()), form)
		if st != 200 {
			t.Fatalf("forged revocation: %d %s", st, body)
		}
		// The grant is untouched: the real refresh token rotates.
		next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("the real refresh token no longer works after forged requests: %v", err)
		}
		if st, _, body := do(t, "POST", tg.base+"/mcp", strings.NewReader(initializeBody), mcpHeaders(next.AccessToken)); st != 200 {
			t.Fatalf("new access token refused: %d %s", st, body)
		}
	})
}
