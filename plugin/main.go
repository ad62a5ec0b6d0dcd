// Command plugin is the mcpgate proxy-wasm filter. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/mcpgate.wasm ./plugin
//
// It is a thin adapter: the flow logic lives in package authcore.
package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }
