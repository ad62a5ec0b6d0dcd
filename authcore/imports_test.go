package authcore

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStdlibAndLeaves enforces the layering rule: authcore
// imports only the standard library, its own internal leaves and the
// packages allowedDep names.
func TestImportsOnlyStdlibAndLeaves(t *testing.T) {
	for _, p := range nonStdDeps(t, ".") {
		if !allowedDep(p) && !strings.HasPrefix(p, "github.com/mcpgate/mcpgate/authcore/internal/") && p != "github.com/mcpgate/mcpgate/authcore" {
			t.Errorf("authcore depends on %s; only the standard library, its internal leaves and allowedDep are allowed", p)
		}
	}
}

// TestInternalLeavesArePure enforces that the leaves under internal/ are
// pure functions of bytes: they import the standard library, allowedDep
// where needed and other leaves, never authcore.
func TestInternalLeavesArePure(t *testing.T) {
	out, err := exec.Command("go", "list", "./internal/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	leaves := strings.Fields(string(out))
	if len(leaves) == 0 {
		t.Fatal("no internal packages found")
	}
	for _, leaf := range leaves {
		for _, p := range nonStdDeps(t, leaf) {
			if !allowedDep(p) && !strings.HasPrefix(p, "github.com/mcpgate/mcpgate/authcore/internal/") {
				t.Errorf("%s depends on %s; leaves import only the standard library, allowedDep and other leaves", leaf, p)
			}
		}
	}
}

// allowedDep: the NIST groups and modular arithmetic
// under the standard library's crypto/ecdsa and crypto/rsa, exported by
// their author as filippo.io/nistec and filippo.io/bigmod (with the CPU
// feature probe they import). jose builds ECDSA and RSA verification on
// them, because crypto/ecdsa and crypto/rsa link math/big, encoding/asn1
// and two more curves: 1 MB of the wasm module (issue 14).
// golang.org/x/net/dns/dnsmessage is no longer among them: dnsmsg reads the
// DNS wire format itself (36 KB of the module), and dnsmessage serves its
// differential test only.
func allowedDep(p string) bool {
	switch {
	case p == "golang.org/x/sys/cpu",
		p == "filippo.io/bigmod", p == "filippo.io/nistec", strings.HasPrefix(p, "filippo.io/nistec/internal/"):
		return true
	}
	return false
}

// nonStdDeps lists the packages outside the standard library that pkg
// depends on, pkg included.
func nonStdDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// TestWasmLinksNoTestOnlyDeps: go-jose serves the differential tests of
// internal/jose and gjson (with its tidwall dependencies) those of
// internal/jsonv only; neither may be linked into the filter.
func TestWasmLinksNoTestOnlyDeps(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "../plugin")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.Contains(string(out), "github.com/mcpgate/mcpgate/authcore/internal/jose") || !strings.Contains(string(out), "github.com/mcpgate/mcpgate/authcore/internal/jsonv") {
		t.Fatalf("implausible dependency list of the plugin: %q", deps)
	}
	for _, p := range deps {
		if strings.Contains(p, "go-jose") || strings.HasPrefix(p, "github.com/tidwall/") {
			t.Errorf("the wasm filter links %s", p)
		}
	}
}

// TestFilterImportsNoJSONFmtMime: no package of this module linked into
// the filter imports encoding/json, fmt or mime (they linked about 550 KB
// of code with reflect; issue 14). Standard packages the filter needs
// (math/big, net/url, crypto/rsa, ...), the proxy-wasm SDK and gjson's
// tidwall/pretty still import fmt or encoding/json, so the dependency list
// holds them; what the filter calls of them is what the linker keeps.
// mime has no other importer: it must not be in the list at all.
func TestFilterImportsNoJSONFmtMime(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../plugin")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 || !strings.Contains(string(out), "github.com/mcpgate/mcpgate/authcore ") {
		t.Fatalf("implausible dependency list of the plugin:\n%s", out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if f[0] == "mime" {
			t.Errorf("the wasm filter links mime")
		}
		if !strings.HasPrefix(f[0], "github.com/mcpgate/mcpgate/") {
			continue
		}
		for _, imp := range f[1:] {
			if imp == "encoding/json" || imp == "fmt" || imp == "mime" {
				t.Errorf("%s imports %s", f[0], imp)
			}
		}
	}
}
