//go:build !wasm

package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// sendReply sends a local reply through the SDK (the native build runs on
// the SDK's emulator, whose host calls are Go functions).
func (p *pluginContext) sendReply(status int, headers [][2]string, body []byte) error {
	return proxywasm.SendHttpResponse(uint32(status), headers, body, -1)
}
