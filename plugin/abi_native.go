//go:build !wasm

package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The native build runs on the SDK's emulator (proxytest), for the plugin's
// own tests: the host calls of abi_wasm.go go through the SDK, and the SDK
// dispatches the callbacks.

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

// NewPluginContext implements types.VMContext.
func (*vmContext) NewPluginContext(id uint32) types.PluginContext { return &pluginContext{id: id} }

func logAt(level uint32, msg string) {
	switch level {
	case logLevelDebug:
		proxywasm.LogDebug(msg)
	case logLevelInfo:
		proxywasm.LogInfo(msg)
	case logLevelWarn:
		proxywasm.LogWarn(msg)
	case logLevelError:
		proxywasm.LogError(msg)
	default:
		proxywasm.LogCritical(msg)
	}
}

func getSharedData(key string) ([]byte, uint32, error) { return proxywasm.GetSharedData(key) }

func setSharedData(key string, value []byte, cas uint32) error {
	return proxywasm.SetSharedData(key, value, cas)
}

func callForeignFunction(name string, arg []byte) ([]byte, error) {
	return proxywasm.CallForeignFunction(name, arg)
}

func pluginConfiguration() ([]byte, error) { return proxywasm.GetPluginConfiguration() }

func requestBody(_ []byte, size int) ([]byte, bool, error) {
	b, err := proxywasm.GetHttpRequestBody(0, size)
	return b, false, err
}

func callResponseBody(start, size int) ([]byte, error) {
	return proxywasm.GetHttpCallResponseBody(start, size)
}

func callResponseHeaders() ([][2]string, error) { return proxywasm.GetHttpCallResponseHeaders() }

func setTickPeriod(ms uint32) error { return proxywasm.SetTickPeriodMilliSeconds(ms) }

func enterContext(id uint32) error { return proxywasm.SetEffectiveContext(id) }

func resumeRequest() error { return proxywasm.ResumeHttpRequest() }

func getProperty(path ...string) ([]byte, error) { return proxywasm.GetProperty(path) }

func dispatchHTTPCall(cluster string, headers [][2]string, body []byte, timeoutMs uint32, callback func(numHeaders, bodySize, numTrailers int)) error {
	_, err := proxywasm.DispatchHttpCall(cluster, headers, body, nil, timeoutMs, callback)
	return err
}

// auditToHost writes an audit line to the log at Info (a copy: the
// emulator keeps what it is given).
func auditToHost(line []byte) { logInfo(string(line)) }
