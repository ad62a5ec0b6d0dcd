// Package fetchtest pulls mcpgate's OCI image with Istio's own wasm image
// fetcher (istio.io/istio/pkg/wasm, what istio-agent runs for a
// WasmPlugin with an oci:// url).
//
// It is a module of its own so that Istio's large dependency graph
// (Kubernetes client libraries and more, about 590 packages) is compiled
// only for this test and never enters mcpgate's own go.mod. `make test`
// runs it (`make istio-fetch-test`).
package fetchtest
