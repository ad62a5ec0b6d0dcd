package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// TestBuildVersion builds the filter the way `make wasm` does, with a
// version set by -ldflags -X, and runs it under the harness with two VMs:
// each VM logs the version and the configuration's SHA-256 once at start,
// and the build-information gauge (the version in its name, as Envoy's
// /stats shows it) counts the VMs running the build, back to 0 when they
// are gone.
func TestBuildVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the filter")
	}
	const version = "v9.8.7-rc.1+test"
	out := filepath.Join(t.TempDir(), "mcpgate.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version, "-o", out, "./plugin")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	wasmBytes, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	config := []byte(strings.ReplaceAll(readConfig(t, "conformance.json"), "{{BASE}}", "http://127.0.0.1:8080"))
	sum := sha256.Sum256(config)
	wantLog := "mcpgate: version " + version + ", configuration sha256 " + hex.EncodeToString(sum[:])

	h, err := harness.New(context.Background(), harness.Options{
		Wasm: wasmBytes, PluginConfig: config, VMs: 2, Log: func(int, string) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			h.Close(context.Background())
		}
	}()

	perVM := map[int]int{}
	for _, l := range h.Logs() {
		if l.Msg == wantLog && l.Level == harness.LevelInfo {
			perVM[l.VM]++
		}
	}
	if perVM[0] != 1 || perVM[1] != 1 {
		var all []string
		for _, l := range h.Logs() {
			all = append(all, l.Msg)
		}
		t.Fatalf("want %q logged once by each VM, got %v; logs:\n%s", wantLog, perVM, strings.Join(all, "\n"))
	}

	// '+' is not kept in a stat name.
	const gauge = "mcpgate.build_info.v9.8.7-rc.1_test"
	if n, ok := h.Metric(gauge); !ok || n != 2 {
		t.Fatalf("gauge %s = %d (defined %v), want 2 (one per VM)", gauge, n, ok)
	}
	if _, ok := h.Metric("mcpgate.build_info.dev"); ok {
		t.Error("a versioned build also defined the dev gauge")
	}
	closed = true
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, ok := h.Metric(gauge); !ok || n != 0 {
		t.Fatalf("after the VMs are gone, gauge %s = %d (defined %v), want 0", gauge, n, ok)
	}
}

// TestBuildVersionLoggedOnRefusal: the filter the suite runs logs its
// version and the configuration's digest before parsing it, so a refusal
// to start is logged with them.
func TestBuildVersionLoggedOnRefusal(t *testing.T) {
	config := []byte(`{"issuer":"http://example.com"}`)
	sum := sha256.Sum256(config)
	var mu sync.Mutex
	var logs []string
	_, err := harness.New(context.Background(), harness.Options{
		Wasm: filterWasm(t), PluginConfig: config, VMs: 1,
		Log: func(level int, msg string) {
			mu.Lock()
			logs = append(logs, msg)
			mu.Unlock()
		},
	})
	if err == nil {
		t.Fatal("the filter started with an invalid configuration")
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(logs, "\n")
	if !regexp.MustCompile(`mcpgate: version \S+, configuration sha256 ` + hex.EncodeToString(sum[:]) + `\n(.*\n)*.*refusing to start`).MatchString(all) {
		t.Fatalf("want the version line, then the refusal; logs:\n%s", all)
	}
}
