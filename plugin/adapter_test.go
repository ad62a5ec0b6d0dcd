//go:build !wasm

package main

import (
	"os"
	"testing"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// The filter's behaviour is tested as compiled .wasm under the harness
// (e2e/). This native test, on the SDK's emulator, covers what cannot be
// provoked from outside: a panic inside a callback becomes a 500
// server_error reply and the VM keeps serving.
func TestPanicBecomes500AndVMStaysAlive(t *testing.T) {
	cfg, err := os.ReadFile("../authcore/testdata/config/minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	var plugin *pluginContext
	opt := proxytest.NewEmulatorOption().
		WithPluginContext(func(uint32) types.PluginContext {
			plugin = &pluginContext{}
			return plugin
		}).
		WithPluginConfiguration(cfg)
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	// The emulator stops the test on a foreign function it does not know;
	// the plugin asks for Envoy's signature functions at start. These
	// answer "not valid" and are never used for a decision here.
	for _, name := range []string{"verify_signature", "sign"} {
		host.RegisterForeignFunction(name, func([]byte) []byte { return []byte{0x12, 1, 'x'} })
	}
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start: %v", st)
	}
	request := [][2]string{{":method", "GET"}, {":path", "/.well-known/oauth-protected-resource/mcp"}, {":authority", "mcp.example.com"}, {":scheme", "https"}}

	// A nil engine makes the request callback dereference nil: a panic.
	engine := plugin.engine
	plugin.engine = nil
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, request, true); a != types.ActionPause {
		t.Fatalf("action after panic = %v, want Pause (local reply)", a)
	}
	res := host.GetSentLocalResponse(id)
	if res == nil || res.StatusCode != 500 || string(res.Data) != "{\"error\":\"server_error\",\"error_description\":\"internal error\"}\n" {
		t.Fatalf("reply after panic = %+v", res)
	}

	// The VM is still alive: the next request is served normally.
	plugin.engine = engine
	id = host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, request, true)
	if res := host.GetSentLocalResponse(id); res == nil || res.StatusCode != 200 {
		t.Fatalf("request after the panic: %+v", res)
	}
}

// TestRefusesToStart: an invalid configuration fails the plugin start.
func TestRefusesToStart(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(`{"issuer":"http://example.com"}`))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	for _, name := range []string{"verify_signature", "sign"} {
		host.RegisterForeignFunction(name, func([]byte) []byte { return []byte{0x12, 1, 'x'} })
	}
	if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed {
		t.Fatalf("plugin start with an invalid config: %v", st)
	}
}
