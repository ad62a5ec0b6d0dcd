package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// chromiumPath is Debian's chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// TestBrowserLoginConsent: a real browser (headless chromium, driven over
// the DevTools protocol by chromedp) completes the authorization against
// the gateway of `make run` (the mcpgate-run program with
// e2e/testdata/dev-config.json, the compiled filter in the wazero harness):
// a client registered at the registration endpoint with a loopback redirect
// URI opens /authorize in the browser, the consent page is shown, the test
// clicks "Allow", and the client's callback server receives the code with
// its state and iss. The client then exchanges the code with
// golang.org/x/oauth2 and PKCE and lists the tools through the gateway.
//
// The consent page is saved as consent.png in the test's temporary
// directory, and in $MCPGATE_SCREENSHOT_DIR when that is set.
func TestBrowserLoginConsent(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's chromium (apt-get install -y chromium, see .ci/run): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing; install Debian's chromium (apt-get install -y chromium) to run the real-browser test", chromiumPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	gw := startDevGateway(t, ctx)
	t.Logf("gateway of make run up at %s in %s", gw.base, time.Since(began).Round(time.Millisecond))

	// The MCP client's loopback callback server.
	type callback struct {
		query url.Values
	}
	got := make(chan callback, 4)
	cbSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case got <- callback{query: r.URL.Query()}:
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>Signed in</title><p id="done">You can close this window.</p>`)
	}))
	defer cbSrv.Close()
	redirect := cbSrv.URL + "/callback"

	// Discovery and registration, as an MCP client does.
	var as struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		RegistrationEndpoint  string `json:"registration_endpoint"`
	}
	fetchJSON(t, ctx, gw.base+"/.well-known/oauth-authorization-server", &as)
	if as.Issuer != gw.base || as.AuthorizationEndpoint == "" || as.TokenEndpoint == "" {
		t.Fatalf("AS metadata of the dev gateway: %+v", as)
	}
	if as.RegistrationEndpoint == "" {
		t.Fatalf("the dev gateway does not offer registration (e2e/testdata/dev-config.json must enable it)")
	}
	regBody, _ := json.Marshal(map[string]any{
		"client_name":                "Chromium e2e client",
		"redirect_uris":              []string{redirect},
		"token_endpoint_auth_method": "none",
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"application_type":           "native",
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", as.RegistrationEndpoint, bytes.NewReader(regBody))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &reg) != nil || reg.ClientID == "" {
		t.Fatalf("registration: %d %s", res.StatusCode, body)
	}

	conf := &oauth2.Config{
		ClientID:    reg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: as.AuthorizationEndpoint, TokenURL: as.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      []string{"mcp:tools"},
	}
	verifier := oauth2.GenerateVerifier()
	resource := oauth2.SetAuthURLParam("resource", gw.base+"/mcp")
	const state = "browser-state-7c4e"
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), resource)

	// The browser.
	bctx := newChromium(t, ctx)
	step := time.Now()
	resp, err := chromedp.Run(bctx, chromedp.NavigateResponse(authURL))
	if err != nil {
		t.Fatalf("opening %s in chromium: %v", authURL, err)
	}
	if resp.Status != 200 {
		t.Fatalf("consent page: HTTP %d", resp.Status)
	}
	header := func(name string) string {
		for k, v := range resp.Headers {
			if strings.EqualFold(k, name) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	if csp := header("content-security-policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, cbSrv.URL) {
		t.Errorf("consent page CSP %q: want frame-ancestors 'none' and the callback's origin in form-action", csp)
	}
	if cc := header("cache-control"); !strings.Contains(cc, "no-store") {
		t.Errorf("consent page Cache-Control %q", cc)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`))); err != nil {
		t.Fatalf("no Allow button: %v", err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Chromium e2e client", "mcp:tools", "Allow", "Deny"} {
		if !strings.Contains(text, want) {
			t.Errorf("consent page text lacks %q:\n%s", want, text)
		}
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "consent.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("MCPGATE_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "consent.png"), png, 0o644); err != nil {
			t.Errorf("saving the screenshot: %v", err)
		}
	}
	t.Logf("consent page shown in %s; screenshot %s (%d bytes)", time.Since(step).Round(time.Millisecond), shot, len(png))

	// Allow: the form posts, the gateway answers 303 to the client's
	// loopback callback (the page's CSP form-action must allow it).
	step = time.Now()
	resp, err = chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
	if err != nil {
		t.Fatalf("clicking Allow: %v", err)
	}
	if resp.Status != 200 || !strings.HasPrefix(resp.URL, redirect+"?") {
		page, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
		t.Errorf("after Allow the browser is at %s (HTTP %d), want the client's callback; the page says:\n%s", resp.URL, resp.Status, page)
	}
	var cb callback
	select {
	case cb = <-got:
	case <-time.After(10 * time.Second):
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		t.Fatalf("the callback server got nothing; the browser is at %s", loc)
	}
	t.Logf("Allow -> callback in %s", time.Since(step).Round(time.Millisecond))
	if cb.query.Get("state") != state || cb.query.Get("iss") != gw.base || cb.query.Get("code") == "" || cb.query.Get("error") != "" {
		t.Fatalf("callback query %v: want code, state %q, iss %q", cb.query, state, gw.base)
	}

	tok, err := conf.Exchange(ctx, cb.query.Get("code"), oauth2.VerifierOption(verifier), resource)
	if err != nil {
		t.Fatalf("token exchange: %v", err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "browser-e2e", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw.base + "/mcp", HTTPClient: conf.Client(ctx, tok), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("MCP connect through the gateway: %v", err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 3 {
		t.Fatalf("tools/list through the gateway: %v %+v", err, tools)
	}
	t.Logf("total %s", time.Since(began).Round(time.Millisecond))
}

// newChromium starts headless chromium with a fresh profile and returns a
// chromedp context for one tab; everything stops with the test.
func newChromium(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "mcpgate-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1000, 900),
		// On this closed network Chromium's own background connections
		// (component updates, sync, QUIC probes) are refused; keep it quiet.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		// Chromium's helpers may still write in the profile for a moment.
		for i := 0; i < 50; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// Start the browser now, so a failure to launch is reported as such.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return bctx
}

func fetchJSON(t *testing.T, ctx context.Context, u string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// --- the gateway of `make run` --------------------------------------------

// devGateway is the mcpgate-run program (what `make run` starts) running
// as a subprocess on free loopback ports.
type devGateway struct {
	base string
	out  *lockedBuffer
}

var (
	runBinOnce sync.Once
	runBin     string
	runBinErr  error
)

// mcpgateRunBinary builds e2e/cmd/mcpgate-run once per test binary.
func mcpgateRunBinary(t *testing.T) string {
	t.Helper()
	runBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-run-bin")
		if err != nil {
			runBinErr = err
			return
		}
		afterAll = append(afterAll, func() { os.RemoveAll(dir) })
		runBin = filepath.Join(dir, "mcpgate-run")
		goCmd, err := exec.LookPath("go")
		if err != nil {
			runBinErr = err
			return
		}
		out, err := exec.Command(goCmd, "build", "-o", runBin, "./cmd/mcpgate-run").CombinedOutput()
		if err != nil {
			runBinErr = fmt.Errorf("go build ./cmd/mcpgate-run: %v\n%s", err, out)
		}
	})
	if runBinErr != nil {
		t.Fatal(runBinErr)
	}
	return runBin
}

// devConfigFor returns e2e/testdata/dev-config.json moved from its default
// address (127.0.0.1:8080) to base.
func devConfigFor(t *testing.T, base string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "dev-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		AS *struct {
			Identity struct {
				Mode string `json:"mode"`
			} `json:"identity"`
			Registration struct {
				Enabled bool `json:"enabled"`
			} `json:"registration"`
		} `json:"authorization_server"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("dev-config.json: %v", err)
	}
	if cfg.AS == nil || cfg.AS.Identity.Mode != "dev" || !cfg.AS.Registration.Enabled {
		t.Fatalf("e2e/testdata/dev-config.json must enable the dev identity and registration, so that any MCP client can complete the flow against `make run` (issue 4)")
	}
	return bytes.ReplaceAll(raw, []byte("http://127.0.0.1:8080"), []byte(base))
}

// startDevGateway runs mcpgate-run the way `make run` does (the compiled
// filter, e2e/testdata/dev-config.json, the demo MCP server behind it), on
// a free port, and waits until it is ready.
func startDevGateway(t *testing.T, ctx context.Context) *devGateway {
	t.Helper()
	wasmPath := os.Getenv("MCPGATE_WASM")
	if wasmPath == "" {
		wasmPath = filepath.Join(t.TempDir(), "mcpgate.wasm")
		if err := os.WriteFile(wasmPath, filterWasm(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := mcpgateRunBinary(t)
	for attempt := 0; ; attempt++ {
		port := freeLoopbackPort(t)
		base := "http://127.0.0.1:" + port
		cfgPath := filepath.Join(t.TempDir(), "dev-config.json")
		if err := os.WriteFile(cfgPath, devConfigFor(t, base), 0o644); err != nil {
			t.Fatal(err)
		}
		out := &lockedBuffer{}
		cmd := exec.Command(bin,
			"-wasm", wasmPath,
			"-config", cfgPath,
			"-listen", "127.0.0.1:"+port,
			"-upstream-listen", "127.0.0.1:0",
			// A compilation cache of its own, kept between runs: makes a
			// rerun fast without touching the user's cache.
			"-cache-dir", filepath.Join(os.TempDir(), "mcpgate-e2e-wazero-cache"),
		)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGINT)
			// Interrupted on purpose: its exit status tells nothing.
			var err error
			select {
			case err = <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				err = <-exited
			}
			_ = err
		}
		ready := time.NewTicker(50 * time.Millisecond)
		deadline := time.After(90 * time.Second)
	wait:
		for {
			select {
			case err := <-exited:
				ready.Stop()
				if attempt < 2 && strings.Contains(out.String(), "address already in use") {
					t.Logf("port %s taken meanwhile; retrying", port)
					break wait
				}
				t.Fatalf("mcpgate-run exited: %v\n%s", err, out.String())
			case <-deadline:
				ready.Stop()
				stop()
				t.Fatalf("mcpgate-run not ready after 90s:\n%s", out.String())
			case <-ctx.Done():
				ready.Stop()
				stop()
				t.Fatalf("mcpgate-run: %v\n%s", ctx.Err(), out.String())
			case <-ready.C:
				if strings.Contains(out.String(), "Ctrl-C to stop.") {
					ready.Stop()
					t.Cleanup(func() {
						stop()
						if t.Failed() {
							t.Logf("mcpgate-run output:\n%s", out.String())
						}
					})
					if strings.Contains(out.String(), "\nwarning: ") {
						t.Errorf("mcpgate-run warned:\n%s", out.String())
					}
					return &devGateway{base: base, out: out}
				}
			}
		}
	}
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// lockedBuffer collects a subprocess's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
