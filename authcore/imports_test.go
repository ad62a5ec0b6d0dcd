package authcore

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStdlibAndGJSON enforces the layering rule: authcore
// imports only the standard library and gjson (ARCHITECTURE.md).
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
		if !allowed[p] {
			t.Errorf("authcore depends on %s; only the standard library and gjson are allowed", p)
		}
	}
}
