package authcore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneSignatureRoute: every signature authcore checks or makes goes
// through Engine.verifySignature and Engine.signJWS (jose.go), where the
// host crypto backend (hostcrypto.go) plugs in. No other file calls a
// signing or verifying function of internal/jose, of the crypto packages
// or of the host backend.
func TestOneSignatureRoute(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]map[string]bool{
		"jose":    {"Verify": true, "Sign": true, "Compact": true},
		"ecdsa":   {"Sign": true, "SignASN1": true, "Verify": true, "VerifyASN1": true},
		"ed25519": {"Sign": true, "Verify": true, "VerifyWithOptions": true},
		"rsa":     {"SignPKCS1v15": true, "SignPSS": true, "VerifyPKCS1v15": true, "VerifyPSS": true},
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "jose.go" {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch pkg, isPkg := sel.X.(*ast.Ident); {
			case isPkg && forbidden[pkg.Name][sel.Sel.Name]:
				t.Errorf("%s calls %s.%s; sign and verify only through jose.go", name, pkg.Name, sel.Sel.Name)
			case sel.Sel.Name == "hostVerify" || sel.Sel.Name == "hostSign":
				t.Errorf("%s calls %s; the host backend is reached from jose.go only", name, sel.Sel.Name)
			case sel.Sel.Name == "Sign" && !(name == "hostcrypto.go" && isHostCryptoField(sel.X)):
				t.Errorf("%s calls a Sign method (crypto.Signer); sign only through Engine.signJWS", name)
			}
			return true
		})
	}
	if checked < 20 {
		t.Fatalf("only %d files checked", checked)
	}
}

// isHostCryptoField reports whether x is e.hostCrypto: the host's signing
// function (Options.HostCrypto), which Engine.signJWS tries first through
// hostSign.
func isHostCryptoField(x ast.Expr) bool {
	sel, ok := x.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "hostCrypto"
}
