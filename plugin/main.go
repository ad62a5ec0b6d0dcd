// Command plugin is the mcpgate proxy-wasm filter. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags '-s -w' -o build/mcpgate.wasm ./plugin
//
// (-s leaves out the wasm name section, which only debuggers and wasm
// stack traces read; Go's own panic traces come from its pclntab.)
//
// It is a thin adapter: the flow logic lives in package authcore.
package main

import (
	"runtime/debug"
)

func main() {}

// memoryLimit is the Go runtime's soft memory limit in the filter.
const memoryLimit = 48 << 20

func init() {
	// Garbage collection in wasm is slow and marks the whole live heap
	// (configuration, templates, caches) each cycle; a higher target trades
	// a few MiB of memory for far fewer cycles on the request path.
	debug.SetGCPercent(400)
	// Wasm linear memory never shrinks: whatever the heap once grew to
	// stays the VM's for good. The soft limit makes the collector run
	// before the heap (garbage included) passes it, whatever GOGC says, so
	// a flood's garbage is collected instead of becoming memory (the soak
	// test holds a VM under 128 MiB).
	debug.SetMemoryLimit(memoryLimit)
}
