package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEnvCoversSDKImports checks that the env module provides every
// function the SDK's abi_hostcalls.go can import, with its arity.
func TestEnvCoversSDKImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/proxy-wasm/proxy-wasm-go-sdk").Output()
	if err != nil {
		t.Skipf("cannot locate the SDK: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "proxywasm", "internal", "abi_hostcalls.go"))
	if err != nil {
		t.Skipf("cannot read the SDK: %v", err)
	}
	provided := map[string]int{}
	for _, f := range envFunctions() {
		provided[f.name] = len(f.params)
	}
	re := regexp.MustCompile(`//go:wasmimport env (\w+)\s+func \w+\(([^)]*)\)`)
	matches := re.FindAllStringSubmatch(string(src), -1)
	if len(matches) < 25 {
		t.Fatalf("found only %d imports in the SDK source", len(matches))
	}
	for _, m := range matches {
		name, args := m[1], strings.TrimSpace(m[2])
		arity := 0
		for _, a := range strings.Split(args, ",") {
			if strings.TrimSpace(a) != "" {
				arity++
			}
		}
		got, ok := provided[name]
		if !ok {
			t.Errorf("env.%s is not provided", name)
		} else if got != arity {
			t.Errorf("env.%s takes %d parameters, the SDK passes %d", name, got, arity)
		}
	}
}
