package ociimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// module is a tiny valid WebAssembly module (header and one custom section).
var module = append([]byte("\x00asm\x01\x00\x00\x00"), 0x00, 0x04, 0x03, 'm', 'c', 'p')

func TestBuildFormat(t *testing.T) {
	img, err := Build(module, Meta{Version: "v1.2.3", Source: "https://example.com/mcpgate", Revision: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %s, config %s: want an OCI manifest and config", m.MediaType, m.Config.MediaType)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Fatalf("layers %+v: want one %s layer (compat variant)", m.Layers, types.OCILayer)
	}
	sum := sha256.Sum256(module)
	if img.WasmSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("WasmSHA256 %s", img.WasmSHA256)
	}
	cf, err := img.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{LabelVersion: "v1.2.3", LabelWasmSHA256: img.WasmSHA256, LabelSource: "https://example.com/mcpgate", LabelRevision: "abc", LabelLicenses: "Apache-2.0"} {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	if cf.OS != "wasip1" || cf.Architecture != "wasm" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if m.Annotations[LabelVersion] != "v1.2.3" {
		t.Errorf("manifest annotations %v", m.Annotations)
	}
	got, err := ExtractWasm(img.Image)
	if err != nil || !bytes.Equal(got, module) {
		t.Fatalf("extracted %q, %v", got, err)
	}
	d, _ := img.Image.Digest()
	if d != img.Digest {
		t.Errorf("Digest %s, image digest %s", img.Digest, d)
	}
}

// TestBuildReproducible: same module and version, same digest; a different
// version or module, a different digest; a creation time is opt-in.
func TestBuildReproducible(t *testing.T) {
	digest := func(wasm []byte, m Meta) string {
		img, err := Build(wasm, m)
		if err != nil {
			t.Fatal(err)
		}
		return img.Digest.String()
	}
	a := digest(module, Meta{Version: "v1"})
	if b := digest(module, Meta{Version: "v1"}); a != b {
		t.Errorf("two builds: %s and %s", a, b)
	}
	if b := digest(module, Meta{Version: "v2"}); a == b {
		t.Error("the version does not change the digest")
	}
	if b := digest(append(bytes.Clone(module), 0x00, 0x01, 0x00), Meta{Version: "v1"}); a == b {
		t.Error("the module does not change the digest")
	}
	if b := digest(module, Meta{Version: "v1", Created: time.Unix(1700000000, 0)}); a == b {
		t.Error("the creation time does not change the digest")
	}
}

func TestBuildRefuses(t *testing.T) {
	if _, err := Build([]byte("#!/bin/sh\n"), Meta{Version: "v1"}); err == nil || !strings.Contains(err.Error(), "WebAssembly") {
		t.Errorf("a non-wasm file: %v", err)
	}
	if _, err := Build(module, Meta{}); err == nil {
		t.Error("no version accepted")
	}
	img, err := Build(module, Meta{Version: "not a tag!"})
	if err != nil {
		t.Fatal(err)
	}
	if err := img.WriteTarball(filepath.Join(t.TempDir(), "x.tar")); err == nil {
		t.Error("a version that is no valid tag was written as one")
	}
}

// TestLayoutAndTarball: what is written reads back as the same image.
func TestLayoutAndTarball(t *testing.T) {
	img, err := Build(module, Meta{Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := img.WriteLayout(filepath.Join(dir, "oci")); err != nil {
		t.Fatal(err)
	}
	// Writing again replaces the layout (still one image).
	if err := img.WriteLayout(filepath.Join(dir, "oci")); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLayout(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest != img.Digest || back.WasmSHA256 != img.WasmSHA256 || back.Meta.Version != "v1.2.3" {
		t.Errorf("layout read back as %s %s %+v", back.Digest, back.WasmSHA256, back.Meta)
	}
	if err := img.WriteTarball(filepath.Join(dir, "img.tar")); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("mcpgate:v1.2.3")
	fromTar, err := tarball.ImageFromPath(filepath.Join(dir, "img.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ExtractWasm(fromTar)
	if err != nil || !bytes.Equal(got, module) {
		t.Fatalf("tarball holds %q, %v", got, err)
	}
}

// TestPush pushes to an in-process registry and pulls the image back by
// the digest Push returns.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img, err := Build(module, Meta{Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	pinned, err := img.Push(host + "/mcpgate/mcpgate:v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/mcpgate/mcpgate@" + img.Digest.String(); pinned != want {
		t.Errorf("Push returned %s, want %s", pinned, want)
	}
	ref, err := name.ParseReference(pinned)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ExtractWasm(pulled)
	if err != nil || !bytes.Equal(got, module) {
		t.Fatalf("pulled %q, %v", got, err)
	}
	if _, err := img.Push("not a reference!"); err == nil {
		t.Error("a bad reference was accepted")
	}
}
