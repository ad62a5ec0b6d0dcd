package e2e

// Helpers to run the suite against a real Envoy: docker-compose.yml at the
// repository root (Envoy with build/mcpgate.wasm in front of the demo MCP
// server). Every name here starts with "envoy" to keep clear of the rest of
// the package.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

const (
	// envoyComposeProject is the compose project name of the tests, distinct
	// from the default ("mcpgate") a developer's `docker compose up` uses.
	envoyComposeProject = "mcpgate-e2e"
	// envoyBaseURL is where docker-compose.yml publishes Envoy's listener.
	envoyBaseURL = "http://127.0.0.1:8080"
	// envoyHost is the Host header sent to it: the host of the issuer in
	// envoy/mcpgate-config.json.
	envoyHost = "localhost:8080"
)

// envoyRequireDocker skips the test unless a Docker engine and the compose
// plugin can run here.
func envoyRequireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping Envoy e2e in -short mode")
	}
	for _, args := range [][]string{{"info"}, {"compose", "version"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		cancel()
		if err != nil {
			msg := fmt.Sprintf("Docker engine not available (docker %s: %s)", strings.Join(args, " "), envoyCmdSummary(err, out))
			if os.Getenv("MCPGATE_E2E_REQUIRE_DOCKER") != "" {
				// CI sets this where Docker must exist: a skip would hide a broken runner.
				t.Fatalf("MCPGATE_E2E_REQUIRE_DOCKER is set but the %s", msg)
			}
			t.Skipf("skipping Envoy e2e: %s", msg)
		}
	}
}

// envoyCmdSummary summarises a failed command: its first output line that
// reads like an error ("Cannot connect to the Docker daemon ..."), else its
// last non-empty line, else the error alone.
func envoyCmdSummary(err error, out []byte) string {
	var last string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		low := strings.ToLower(l)
		for _, w := range []string{"error", "cannot", "unknown", "not found", "permission denied"} {
			if strings.Contains(low, w) {
				return fmt.Sprintf("%v: %s", err, l)
			}
		}
		last = l
	}
	if last != "" {
		return fmt.Sprintf("%v: %s", err, last)
	}
	return err.Error()
}

// envoyRepoRoot returns the repository root (where docker-compose.yml is).
func envoyRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "docker-compose.yml")); err != nil {
		t.Fatalf("docker-compose.yml not found at the repository root: %v", err)
	}
	return root
}

// envoyBuildWasm makes sure root/build/mcpgate.wasm (what compose mounts
// into Envoy) is the current filter: `make e2e` builds it and exports its path
// as MCPGATE_WASM; otherwise it is built here.
func envoyBuildWasm(t *testing.T, root string) {
	t.Helper()
	dst := filepath.Join(root, "build", "mcpgate.wasm")
	if env := os.Getenv("MCPGATE_WASM"); env != "" {
		if a, b := envoyStat(env), envoyStat(dst); a != nil && b != nil && os.SameFile(a, b) {
			return
		}
	}
	tmp := dst + ".tmp"
	if err := harness.Build(filepath.Join(root, "plugin"), tmp); err != nil {
		t.Fatalf("building the filter for Envoy: %v", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func envoyStat(name string) os.FileInfo {
	fi, err := os.Stat(name)
	if err != nil {
		return nil
	}
	return fi
}

// envoyCompose runs `docker compose` on the test project and returns its
// combined output.
func envoyCompose(ctx context.Context, root string, args ...string) ([]byte, error) {
	base := []string{"compose", "-p", envoyComposeProject, "-f", filepath.Join(root, "docker-compose.yml"), "--project-directory", root}
	cmd := exec.CommandContext(ctx, "docker", append(base, args...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

// envoyComposeUp builds the filter, starts the compose stack and waits for
// its services. At cleanup it dumps `docker compose logs` if the test failed,
// then always runs `docker compose down`.
func envoyComposeUp(t *testing.T, root string) {
	t.Helper()
	envoyBuildWasm(t, root)

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if t.Failed() {
			out, err := envoyCompose(ctx, root, "logs", "--no-color", "--timestamps")
			t.Logf("docker compose logs (err=%v):\n%s", err, out)
		}
		if out, err := envoyCompose(ctx, root, "down", "--remove-orphans", "--timeout", "10"); err != nil {
			t.Errorf("docker compose down: %v\n%s", err, out)
		}
	})

	// The first start builds the demo server inside its container
	// (module download + compile): allow several minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if out, err := envoyCompose(ctx, root, "up", "-d", "--wait", "--wait-timeout", "420"); err != nil {
		t.Fatalf("docker compose up: %v\n%s", err, out)
	}
}

// envoyGet sends a GET to Envoy with the issuer's Host header.
func envoyGet(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, envoyBaseURL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Host = envoyHost
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// envoyWaitJSON polls path until it answers 200 (at most within timeout)
// and decodes the JSON body into v.
func envoyWaitJSON(t *testing.T, path string, timeout time.Duration, v any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, body, err := envoyGet(ctx, path)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case status != http.StatusOK:
			last = fmt.Sprintf("status %d: %.300s", status, body)
		default:
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatalf("GET %s: not JSON: %v: %.300s", path, err, body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no 200 within %s (last: %s)", path, timeout, last)
		}
		time.Sleep(time.Second)
	}
}
