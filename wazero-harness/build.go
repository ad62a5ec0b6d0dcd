package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles the Go package in directory pkgDir into a proxy-wasm
// module at out, the way the project builds its filter:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o out .
//
// run in pkgDir, so pkgDir's module is used; -trimpath keeps the module
// the same bytes (and size) wherever the checkout lives. Relative paths
// are relative to the current directory. It is meant for tests (build
// once per test binary, e.g. in TestMain or behind a sync.Once): a cold
// build takes about 10 s, a cached one well under a second. The error
// carries the compiler output.
func Build(pkgDir, out string) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("harness: build %s: %w", pkgDir, err)
	}
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return fmt.Errorf("harness: build %s: %w", pkgDir, err)
	}
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", absOut, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("harness: go build %s: %w\n%s", pkgDir, err, output)
	}
	return nil
}

// goTool returns the go command found on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}
