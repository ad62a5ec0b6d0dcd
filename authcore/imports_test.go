package authcore

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStdlibAndGJSON enforces the layering rule: authcore and
// its internal leaves import only the standard library and gjson
// (ARCHITECTURE.md).
func TestImportsOnlyStdlibAndGJSON(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/mcpgate/mcpgate/authcore": true,
		"github.com/tidwall/gjson":            true,
		"github.com/tidwall/match":            true, // gjson's own dependencies
		"github.com/tidwall/pretty":           true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] && !strings.HasPrefix(p, "github.com/mcpgate/mcpgate/authcore/internal/") {
			t.Errorf("authcore depends on %s; only the standard library and gjson are allowed", p)
		}
	}
}

// TestWasmLinksNoTestOnlyJOSE: go-jose serves the differential tests of
// internal/jose only; it must never be linked into the filter.
func TestWasmLinksNoTestOnlyJOSE(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "../plugin")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.Contains(string(out), "github.com/mcpgate/mcpgate/authcore/internal/jose") {
		t.Fatalf("implausible dependency list of the plugin: %q", deps)
	}
	for _, p := range deps {
		if strings.Contains(p, "go-jose") {
			t.Errorf("the wasm filter links %s", p)
		}
	}
}
