package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/mcpgate/mcpgate/envoy/ociimage"
)

// TestBuildAndPush runs what `make image` and `make push` run: the printed
// sha256s are the module's and the image's, the layout reads back, and the
// pushed image is the built one.
func TestBuildAndPush(t *testing.T) {
	dir := t.TempDir()
	module := append([]byte("\x00asm\x01\x00\x00\x00"), 0x00, 0x02, 0x01, 'x')
	wasmPath := filepath.Join(dir, "mcpgate.wasm")
	if err := os.WriteFile(wasmPath, module, 0o644); err != nil {
		t.Fatal(err)
	}
	layoutDir, tarPath := filepath.Join(dir, "oci"), filepath.Join(dir, "img.tar")
	var out bytes.Buffer
	err := run([]string{"build", "-wasm", wasmPath, "-version", "v1.0.0", "-layout", layoutDir, "-tarball", tarPath,
		"-created", "2026-01-02T03:04:05Z"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(module)
	if !strings.Contains(out.String(), "wasm sha256   "+hex.EncodeToString(sum[:])) {
		t.Errorf("output lacks the module's sha256:\n%s", out.String())
	}
	img, err := ociimage.ReadLayout(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "image digest  "+img.Digest.String()) {
		t.Errorf("output lacks the layout's digest %s:\n%s", img.Digest, out.String())
	}
	if _, err := os.Stat(tarPath); err != nil {
		t.Error(err)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/mcpgate:v1.0.0"
	out.Reset()
	if err := run([]string{"push", "-layout", layoutDir, "-image", ref}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`pushed\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil || !strings.HasSuffix(m[1], "@"+img.Digest.String()) {
		t.Fatalf("push output:\n%s", out.String())
	}
	r, _ := name.ParseReference(ref)
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pulled.Digest(); d != img.Digest {
		t.Errorf("registry holds %s, built %s", d, img.Digest)
	}
	cf, _ := pulled.ConfigFile()
	if cf.Config.Labels[ociimage.LabelCreated] != "2026-01-02T03:04:05Z" || cf.Config.Labels[ociimage.LabelVersion] != "v1.0.0" {
		t.Errorf("labels %v", cf.Config.Labels)
	}

	for _, bad := range [][]string{{}, {"pull"}, {"push", "-layout", layoutDir}, {"push", "-layout", filepath.Join(dir, "none"), "-image", ref},
		{"build", "-wasm", filepath.Join(dir, "none.wasm")}, {"build", "-wasm", wasmPath, "-created", "yesterday", "-layout", layoutDir}} {
		if err := run(bad, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
