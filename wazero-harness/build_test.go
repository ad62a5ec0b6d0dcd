package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildReportsCompilerErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module broken\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Build(dir, filepath.Join(dir, "out.wasm"))
	if err == nil || !strings.HasPrefix(err.Error(), "harness: go build") || !strings.Contains(err.Error(), "undefinedThing") {
		t.Errorf("Build error = %v, want the compiler output", err)
	}
	if err := Build(filepath.Join(dir, "missing"), filepath.Join(dir, "out.wasm")); err == nil {
		t.Error("Build of a missing directory succeeded")
	}
}

func TestBuildProducesAModule(t *testing.T) {
	// TestMain built the test modules with Build; check they look right.
	for name, b := range map[string][]byte{"noop": noopWasm, "kitchen": kitchenWasm} {
		if len(b) < 1<<20 || string(b[:4]) != "\x00asm" {
			t.Errorf("%s: %d bytes, header %q", name, len(b), b[:min(4, len(b))])
		}
	}
}
