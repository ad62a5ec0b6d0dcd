//go:build !wasm

package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// requestHeaders returns the request's header map through the SDK (the
// native build runs on the SDK's emulator, whose host calls are Go
// functions).
func requestHeaders([][2]string, []byte) ([][2]string, []byte, bool, error) {
	h, err := proxywasm.GetHttpRequestHeaders()
	return h, nil, false, err
}

// setFilterState records a guard decision as a property of the current
// stream (see the wasm build's setFilterState; SetProperty refuses an
// empty name or value).
func setFilterState(name, value string) {
	_ = proxywasm.SetProperty([]string{name}, []byte(value))
}

// removeRequestHeader removes every request header called name.
func removeRequestHeader(name string) error { return proxywasm.RemoveHttpRequestHeader(name) }

// replaceRequestHeader sets the request header name to value.
func replaceRequestHeader(name, value string) error {
	return proxywasm.ReplaceHttpRequestHeader(name, value)
}
