// Command plugin is the mcpgate proxy-wasm filter. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/mcpgate.wasm ./plugin
//
// It is a thin adapter: the flow logic lives in package authcore.
package main

import (
	"runtime/debug"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

func main() {}

func init() {
	// Garbage collection in wasm is slow and marks the whole live heap
	// (configuration, templates, caches) each cycle; a higher target trades
	// a few MiB of memory for far fewer cycles on the request path.
	debug.SetGCPercent(400)
	proxywasm.SetVMContext(&vmContext{})
}
