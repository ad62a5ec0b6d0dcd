// Package harness hosts a compiled proxy-wasm module (built from Go with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) the way Envoy does, on the
// wazero runtime. It is used by tests, benchmarks and the local gateway
// (e2e/cmd/mcpgate-run).
//
// A Host owns several VM instances of one module, like Envoy owns one VM per
// worker thread. Each VM is single-threaded: every call into it is made with
// that VM's mutex held, and HTTP streams on one VM interleave between
// callbacks exactly as in Envoy (a stream paused on a callout does not block
// other streams). Shared data, shared queues and metrics are shared by all VMs
// of a Host, like Envoy shares them between the VMs of one vm_id.
//
// The Host is an http.Handler: it runs the request through the filter,
// forwards what the filter lets through to Options.Upstream (the request
// body is buffered), runs the response through the filter and streams out
// what the filter lets through. Callouts (proxy_http_call) are real HTTP
// requests to the named Options.Clusters.
//
// The package imports nothing from the rest of mcpgate: it loads a .wasm
// file. See README.md for what is emulated and what is not.
package harness
