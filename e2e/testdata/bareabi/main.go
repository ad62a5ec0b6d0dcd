// Command bareabi is a proxy-wasm test filter that lets every request
// through without the Go SDK: it exports the callbacks the SDK's no-op
// filter has, each doing nothing. Its benchmark against the SDK's no-op
// filter (e2e BenchmarkSDKOverhead) prices what the SDK itself costs per
// request (context maps, active-context bookkeeping), which mcpgate's own
// ABI layer (plugin/abi_wasm.go) does not pay.
package main

func main() {}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) *byte {
	b := make([]byte, max(size, 1))
	return &b[0]
}

//go:wasmexport proxy_on_context_create
func onContextCreate(uint32, uint32) {}

//go:wasmexport proxy_on_vm_start
func onVMStart(uint32, uint32) bool { return true }

//go:wasmexport proxy_on_configure
func onConfigure(uint32, uint32) bool { return true }

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(uint32, uint32, bool) uint32 { return 0 }

//go:wasmexport proxy_on_request_body
func onRequestBody(uint32, uint32, bool) uint32 { return 0 }

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(uint32, uint32, bool) uint32 { return 0 }

//go:wasmexport proxy_on_response_body
func onResponseBody(uint32, uint32, bool) uint32 { return 0 }

//go:wasmexport proxy_on_log
func onLog(uint32) {}

//go:wasmexport proxy_on_done
func onDone(uint32) bool { return true }

//go:wasmexport proxy_on_delete
func onDelete(uint32) {}
