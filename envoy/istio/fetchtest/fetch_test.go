package fetchtest

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"istio.io/istio/pkg/wasm"

	"github.com/mcpgate/mcpgate/envoy/ociimage"
)

// builtWasm reads the filter `make wasm` built: $MCPGATE_WASM (the Makefile
// exports it), else build/mcpgate.wasm at the repository root.
func builtWasm(t *testing.T) []byte {
	t.Helper()
	path := os.Getenv("MCPGATE_WASM")
	if path == "" {
		path = filepath.Join("..", "..", "..", "build", "mcpgate.wasm")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `make wasm` first (or `make istio-fetch-test`)", err)
	}
	return b
}

// TestIstioFetchesImage packs build/mcpgate.wasm as `make image` does,
// pushes it as `make push` does to an in-process registry, and has Istio's
// wasm module cache (LocalFileCache.Get, as istio-agent calls it for a
// WasmPlugin) pull it by oci:// URL: the module it extracts is the built
// one, byte for byte. The WasmPlugin's sha256 for an oci:// URL is the image
// digest; the module's own sha256 is refused there (it pins http(s) URLs).
func TestIstioFetchesImage(t *testing.T) {
	wasmBytes := builtWasm(t)
	img, err := ociimage.Build(wasmBytes, ociimage.Meta{Version: "v0.0.0-fetchtest"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/mcpgate/mcpgate:v0.0.0-fetchtest"
	if _, err := img.Push(ref); err != nil {
		t.Fatal(err)
	}

	get := func(checksum string) ([]byte, error) {
		cache := wasm.NewLocalFileCache(t.TempDir(), wasm.Options{})
		defer cache.Cleanup()
		path, err := cache.Get("oci://"+ref, wasm.GetOptions{
			Checksum:       checksum,
			ResourceName:   "namespaces/mcp/wasmplugins/mcpgate",
			RequestTimeout: time.Minute,
			PullPolicy:     wasm.IfNotPresent,
		})
		if err != nil {
			return nil, err
		}
		return os.ReadFile(path)
	}

	got, err := get(img.Digest.Hex)
	if err != nil {
		t.Fatalf("Istio's fetcher, sha256 = image digest: %v", err)
	}
	if !bytes.Equal(got, wasmBytes) {
		t.Fatalf("Istio extracted %d bytes that differ from the built module (%d bytes)", len(got), len(wasmBytes))
	}
	// No sha256: Istio takes the image as it is.
	if got, err := get(""); err != nil || !bytes.Equal(got, wasmBytes) {
		t.Fatalf("Istio's fetcher, no sha256: %d bytes, %v", len(got), err)
	}
	// The module's own hash does not pin an oci:// URL.
	if _, err := get(img.WasmSHA256); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("sha256 = module hash on an oci:// URL: %v, want a checksum mismatch", err)
	}
}

// TestIstioImageFetcher: the lower-level ImageFetcher reports the image
// digest before downloading the module (Istio's cache key) and extracts the
// module from the compat-variant layer.
func TestIstioImageFetcher(t *testing.T) {
	wasmBytes := builtWasm(t)
	img, err := ociimage.Build(wasmBytes, ociimage.Meta{Version: "v0.0.0-fetchtest"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/mcpgate/mcpgate:v0.0.0-fetchtest"
	if _, err := img.Push(ref); err != nil {
		t.Fatal(err)
	}
	fetch, digest, err := wasm.NewImageFetcher(t.Context(), wasm.ImageFetcherOption{}).PrepareFetch(ref)
	if err != nil {
		t.Fatal(err)
	}
	if digest != img.Digest.Hex {
		t.Errorf("Istio sees digest %s, make image printed %s", digest, img.Digest.Hex)
	}
	got, err := fetch()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wasmBytes) {
		t.Fatal("the module Istio extracted differs from the built one")
	}
}
