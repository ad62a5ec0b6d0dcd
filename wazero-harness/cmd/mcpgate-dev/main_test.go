package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

var (
	buildOnce sync.Once
	buildDir  string
	wasmPath  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// kitchen builds the harness's kitchen test filter once.
func kitchen(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-dev-test-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		wasmPath = filepath.Join(dir, "kitchen.wasm")
		buildErr = harness.Build("../../testdata/kitchen", wasmPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return wasmPath
}

// syncBuffer is a goroutine-safe output buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServesUntilCancelled(t *testing.T) {
	wasm := kitchen(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer up.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{
			"-config", writeFile(t, `{}`), "-listen", "127.0.0.1:0", "-upstream", up.URL,
			"-wasm", wasm, "-vms", "1", "-cluster", "backend=" + up.URL, "-cache-dir", "",
		}, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	deadline := time.Now().Add(2 * time.Minute) // compiling the module under -race is slow
	for url == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listen URL printed; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for path, want := range map[string]string{"/hello": "upstream /hello", "/local": `{"teapot":true}`} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s = %q, want %q", path, body, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d; stderr %q", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}
	if !strings.Contains(stdout.String(), "mcpgate-dev: stopped") {
		t.Errorf("stdout %q", stdout.String())
	}
}

func TestExitsWhenThePluginRefuses(t *testing.T) {
	wasm := kitchen(t)
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{
		"-config", writeFile(t, `{"refuse": "missing issuer"}`), "-listen", "127.0.0.1:0",
		"-wasm", wasm, "-vms", "1", "-cache-dir", "",
	}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "harness: plugin refused to start: kitchen: refusing to start: missing issuer") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},                                   // no -config
		{"-config", "x", "-cluster", "nope"}, // cluster without URL
		{"-config", "x", "-log-level", "loud"},
		{"-config", "x", "extra"},
	} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"-config", "/does/not/exist"}, &stdout, &stderr); code != 1 {
		t.Errorf("missing config file: exit %d, want 1", code)
	}
}
