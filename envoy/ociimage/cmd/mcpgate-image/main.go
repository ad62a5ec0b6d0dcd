// Command mcpgate-image packs build/mcpgate.wasm as an OCI image (package
// ociimage) and pushes it, with no Docker:
//
//	mcpgate-image build -wasm build/mcpgate.wasm -version v0.1.0 -layout build/oci -tarball build/mcpgate-image.tar
//	mcpgate-image push -layout build/oci -image ghcr.io/OWNER/mcpgate:v0.1.0
//
// build prints the module's sha256 and the image digest; push prints the
// pushed reference pinned by digest. `make image` and `make push` run it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mcpgate/mcpgate/envoy/ociimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgate-image:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: mcpgate-image build|push [flags]")
	}
	switch args[0] {
	case "build":
		return build(args[1:], stdout, stderr)
	case "push":
		return push(args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q: want build or push", args[0])
}

func build(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wasmPath := fs.String("wasm", "build/mcpgate.wasm", "compiled filter")
	version := fs.String("version", "dev", "version label and layout tag (git describe)")
	layoutDir := fs.String("layout", "build/oci", "OCI image layout directory to write")
	tarPath := fs.String("tarball", "build/mcpgate-image.tar", "image tarball to write (docker save form); empty for none")
	source := fs.String("source", "", "source repository URL label")
	revision := fs.String("revision", "", "commit label")
	created := fs.String("created", "", "creation time label (RFC 3339); empty keeps the image reproducible")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wasm, err := os.ReadFile(*wasmPath)
	if err != nil {
		return fmt.Errorf("%w (build it with `make wasm`)", err)
	}
	m := ociimage.Meta{Version: *version, Source: *source, Revision: *revision}
	if *created != "" {
		if m.Created, err = time.Parse(time.RFC3339, *created); err != nil {
			return fmt.Errorf("-created: %w", err)
		}
	}
	img, err := ociimage.Build(wasm, m)
	if err != nil {
		return err
	}
	if err := img.WriteLayout(*layoutDir); err != nil {
		return err
	}
	if *tarPath != "" {
		if err := img.WriteTarball(*tarPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "version       %s\n", m.Version)
	fmt.Fprintf(stdout, "wasm sha256   %s   (WasmPlugin sha256 for an http(s) url)\n", img.WasmSHA256)
	fmt.Fprintf(stdout, "image digest  %s   (WasmPlugin sha256 for an oci:// url: the hex part)\n", img.Digest)
	fmt.Fprintf(stdout, "layout        %s\n", *layoutDir)
	if *tarPath != "" {
		fmt.Fprintf(stdout, "tarball       %s\n", *tarPath)
	}
	return nil
}

func push(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	layoutDir := fs.String("layout", "build/oci", "OCI image layout written by build")
	ref := fs.String("image", "", "where to push, registry/repository:tag (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("push: -image is required, e.g. -image ghcr.io/OWNER/mcpgate:v0.1.0")
	}
	img, err := ociimage.ReadLayout(*layoutDir)
	if err != nil {
		return fmt.Errorf("%w (write it with `make image`)", err)
	}
	pinned, err := img.Push(*ref)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed        %s\n", pinned)
	fmt.Fprintf(stdout, "wasm sha256   %s\n", img.WasmSHA256)
	return nil
}
