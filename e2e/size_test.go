package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFilterBytes is issue 14's goal for the compiled filter: at most 6 MB.
// The filter came down to it from 11.8 MB: encoding/json, fmt, mime,
// html/template, crypto/x509, crypto/ecdsa, crypto/rsa (with math/big and
// encoding/asn1), net/url's URL, protowire, time.Parse, errors.As,
// encoding/pem, x/net's DNS parser, pdqsort and time.ParseDuration each
// gave way to smaller code of the filter's own, each held to what it
// replaced by a differential test; cold helpers stopped being inlined at
// their call sites, and internal types that are never compared stopped
// carrying equality functions. README, Performance, lists the steps;
// heavyPackages below keeps the packages out.
const maxFilterBytes = 6_000_000

// TestFilterSize fails when build/mcpgate.wasm grows past maxFilterBytes.
func TestFilterSize(t *testing.T) {
	if n := len(filterWasm(t)); n > maxFilterBytes {
		t.Fatalf("the filter is %d bytes, more than %d", n, maxFilterBytes)
	}
}

// TestFilterBuiltWithoutPaths checks the filter is built with -trimpath
// (by make and by harness.Build): no absolute path of this checkout in
// the module, so its bytes and size do not depend on where it lives.
func TestFilterBuiltWithoutPaths(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(filterWasm(t), []byte(root+string(os.PathSeparator))) {
		t.Fatalf("the filter contains the checkout path %s: built without -trimpath", root)
	}
}

// heavyPackages are packages the filter must not link, with the size each
// took with what it brought (issue 14): the pclntab of even a stripped
// module names every linked function, NUL-terminated, so a function of
// one of them shows as "\x00" + its prefix.
var heavyPackages = map[string]string{
	"fmt.":                        "fmt and, behind it, reflect: 0.36 MB with net/url's URL, protowire and encoding/hex's errors",
	"math/big.":                   "crypto/ecdsa and crypto/rsa: 1 MB with encoding/asn1 and P-224/P-521",
	"encoding/asn1.":              "crypto/ecdsa's DER signatures (jose converts R || S itself)",
	"crypto/ecdsa.":               "use authcore/internal/jose's ECDSA on filippo.io/nistec",
	"crypto/rsa.":                 "use authcore/internal/jose's RSA on filippo.io/bigmod",
	"net/url.(*URL)":              "use authcore/internal/uri: net/url's URL links fmt",
	"google.golang.org/protobuf/": "hostsig writes and reads the wire format itself: protowire's init links fmt",
	"html/template.":              "the pages are written by hand (3.7 MB)",
	"encoding/json.":              "records are written by jsonw and read by jsonv",
	"time.parse":                  "httpcache reads HTTP dates itself: time.Parse's layout parser is 54 KB",
	"errors.as":                   "use authcore's errorAs: errors.As reaches its target through internal/reflectlite (52 KB)",
	"slices.pdqsort":              "use authcore/internal/heapsort: pdqsort's instance for strings was 19 KB",
	"encoding/pem.":               "authcore's decodePEM reads the one block a key is (29 KB)",
	"golang.org/x/net/dns/":       "dnsmsg reads the DNS wire format itself (48 KB)",
	"time.ParseDuration":          "authcore's parseDuration reads the configuration's durations (10 KB)",
}

// TestFilterLinksNoHeavyPackages fails when a change brings one of
// heavyPackages back into build/mcpgate.wasm.
func TestFilterLinksNoHeavyPackages(t *testing.T) {
	wasm := filterWasm(t)
	if !bytes.Contains(wasm, []byte("\x00github.com/mcpgate/mcpgate/authcore.")) {
		t.Fatal("no function name of authcore in the module: the check cannot see what is linked")
	}
	for prefix, why := range heavyPackages {
		if bytes.Contains(wasm, []byte("\x00"+prefix)) {
			t.Errorf("the filter links %s (%s)", strings.TrimSuffix(prefix, "."), why)
		}
	}
}
