// Package ociimage packs the compiled filter (build/mcpgate.wasm) as an OCI
// image that Istio's WasmPlugin (url: oci://...) and Envoy Gateway pull,
// writes it as an OCI image layout and a tarball, and pushes it to a
// registry. It is pure Go (github.com/google/go-containerregistry): no
// Docker is needed.
//
// Format: the "compat" variant of the Wasm image specification
// (solo-io/wasm spec-compat.md): an OCI image manifest
// (application/vnd.oci.image.manifest.v1+json) with one layer of media
// type application/vnd.oci.image.layer.v1.tar+gzip whose tar holds the
// module as plugin.wasm. Istio's fetcher (istio.io/istio/pkg/wasm,
// ImageFetcher.PrepareFetch) tries, for an OCI manifest, this variant
// first, and the "oci" variant (exactly two layers, one of media type
// application/vnd.module.wasm.content.layer.v1+wasm) only when it fails;
// the compat variant is also an ordinary image that every registry, crane
// and skopeo handle, which the custom-media-type variant is not everywhere.
//
// The image is reproducible: the same module and version give the same
// digest (fixed tar header times, no creation time unless created is set).
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PluginFile is the name of the module inside the layer, as the compat
// variant requires ("plugin.wasm").
const PluginFile = "plugin.wasm"

// Label and annotation keys set on the image.
const (
	LabelVersion    = "org.opencontainers.image.version"
	LabelTitle      = "org.opencontainers.image.title"
	LabelSource     = "org.opencontainers.image.source"
	LabelLicenses   = "org.opencontainers.image.licenses"
	LabelRevision   = "org.opencontainers.image.revision"
	LabelCreated    = "org.opencontainers.image.created"
	LabelWasmSHA256 = "io.mcpgate.wasm.sha256"
	// refName names the image inside an OCI layout's index.json.
	refName = "org.opencontainers.image.ref.name"
)

// Meta describes the build being packed.
type Meta struct {
	Version  string    // required, e.g. "v0.1.0" (git describe)
	Source   string    // optional repository URL
	Revision string    // optional commit
	Created  time.Time // optional; zero keeps the image reproducible
}

// Image is a packed module.
type Image struct {
	// Image is the image itself.
	Image v1.Image
	// WasmSHA256 is the hex SHA-256 of the module (what a WasmPlugin with
	// an http(s) url pins in sha256).
	WasmSHA256 string
	// Digest is the image manifest's digest ("sha256:..."). For an oci://
	// url, Istio compares the WasmPlugin's sha256 with this digest's hex
	// part, not with the module's hash (pkg/wasm, LocalFileCache.getOrFetch).
	Digest v1.Hash
	Meta   Meta
}

// Build packs wasm as an image.
func Build(wasm []byte, m Meta) (*Image, error) {
	if m.Version == "" {
		return nil, errors.New("ociimage: version is required")
	}
	if !isWasm(wasm) {
		return nil, errors.New("ociimage: not a WebAssembly module (no \\0asm header)")
	}
	sum := sha256.Sum256(wasm)
	wasmSum := hex.EncodeToString(sum[:])

	layerBytes, err := tarGz(wasm)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("ociimage: layer: %w", err)
	}

	labels := map[string]string{
		LabelVersion:    m.Version,
		LabelTitle:      "mcpgate",
		LabelLicenses:   "Apache-2.0",
		LabelWasmSHA256: wasmSum,
	}
	if m.Source != "" {
		labels[LabelSource] = m.Source
	}
	if m.Revision != "" {
		labels[LabelRevision] = m.Revision
	}
	cfg := &v1.ConfigFile{
		// The module is a WASI preview 1 reactor (GOOS=wasip1 GOARCH=wasm).
		Architecture: "wasm",
		OS:           "wasip1",
		Config:       v1.Config{Labels: labels},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	annotations := map[string]string{LabelVersion: m.Version, LabelTitle: "mcpgate", LabelWasmSHA256: wasmSum}
	if !m.Created.IsZero() {
		cfg.Created = v1.Time{Time: m.Created.UTC()}
		labels[LabelCreated] = m.Created.UTC().Format(time.RFC3339)
		annotations[LabelCreated] = labels[LabelCreated]
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("ociimage: config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: "mcpgate ociimage: " + PluginFile, Created: cfg.Created},
	})
	if err != nil {
		return nil, fmt.Errorf("ociimage: layer: %w", err)
	}
	img = mutate.Annotations(img, annotations).(v1.Image)
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("ociimage: digest: %w", err)
	}
	return &Image{Image: img, WasmSHA256: wasmSum, Digest: digest, Meta: m}, nil
}

// tarGz returns a gzip'd tar holding wasm as plugin.wasm, with fixed
// metadata so equal modules give equal layers.
func tarGz(wasm []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     PluginFile,
		Mode:     0o444,
		Size:     int64(len(wasm)),
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(wasm); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func isWasm(b []byte) bool {
	return len(b) >= 8 && string(b[:4]) == "\x00asm"
}

// WriteLayout writes the image as an OCI image layout in dir (replacing
// what is there), tagged with its version in index.json.
func (img *Image) WriteLayout(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("ociimage: layout: %w", err)
	}
	if err := p.AppendImage(img.Image, layout.WithAnnotations(map[string]string{refName: img.Meta.Version})); err != nil {
		return fmt.Errorf("ociimage: layout: %w", err)
	}
	return nil
}

// ReadLayout reads back the single image of an OCI layout written by
// WriteLayout.
func ReadLayout(dir string) (*Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("ociimage: %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("ociimage: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("ociimage: %w", err)
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("ociimage: %s holds %d images, want 1", dir, len(im.Manifests))
	}
	d := im.Manifests[0]
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("ociimage: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("ociimage: %w", err)
	}
	return &Image{
		Image:      img,
		WasmSHA256: cf.Config.Labels[LabelWasmSHA256],
		Digest:     d.Digest,
		Meta:       Meta{Version: cf.Config.Labels[LabelVersion], Source: cf.Config.Labels[LabelSource], Revision: cf.Config.Labels[LabelRevision]},
	}, nil
}

// WriteTarball writes the image as a tarball (the `docker save` form,
// which `crane push`, `docker load` and `podman load` read), tagged
// mcpgate:<version>.
func (img *Image) WriteTarball(path string) error {
	tag, err := name.NewTag("mcpgate:" + img.Meta.Version)
	if err != nil {
		return fmt.Errorf("ociimage: version %q is not a valid tag: %w", img.Meta.Version, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img.Image); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("ociimage: tarball: %w", err)
	}
	return os.Rename(tmp, path)
}

// Push uploads the image to ref ("registry/repository:tag"), with the
// credentials of the Docker config ($DOCKER_CONFIG, ~/.docker/config.json,
// as `docker login` or `crane auth login` write them). opts are added to
// go-containerregistry's remote options (tests pass a transport). It
// returns the pushed reference pinned by digest.
func (img *Image) Push(ref string, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("ociimage: %w", err)
	}
	opts = append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(r, img.Image, opts...); err != nil {
		return "", fmt.Errorf("ociimage: push %s: %w", r, err)
	}
	return r.Context().Digest(img.Digest.String()).String(), nil
}

// ExtractWasm returns the module held by a compat-variant image: the
// plugin.wasm file of its last layer (as Istio's fetcher reads it).
func ExtractWasm(img v1.Image) ([]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, errors.New("ociimage: image has no layers")
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("ociimage: no %s in the layer", PluginFile)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == PluginFile {
			return io.ReadAll(tr)
		}
	}
}
