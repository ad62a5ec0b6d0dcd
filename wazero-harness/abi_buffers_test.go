package harness

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBodyBufferEdits covers proxy_get_buffer_bytes with an offset and
// proxy_set_buffer_bytes in its prepend, append and replace forms.
func TestBodyBufferEdits(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	h := newHost(t, Options{Wasm: kitchenWasm, Upstream: up.URL, VMs: 1})
	srv := serve(t, h)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/body-edit", strings.NewReader("abcdef"))
	st, _, body := do(t, req)
	if st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	e := decodeEcho(t, body)
	if e.Body != "<abcdef>" {
		t.Errorf("upstream body %q, want the body prepended and appended", e.Body)
	}
	if got := strings.Join(e.Headers["x-body-slice"], ","); got != "bcd" {
		t.Errorf("body bytes [1,4) = %q, want bcd", got)
	}
}

// TestConfigurationBuffers checks the plugin and VM configuration reach
// the filter, and that the plugin configuration is readable only during
// proxy_on_configure, as in Envoy.
func TestConfigurationBuffers(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 1, PluginConfig: []byte(`{"tick_ms": 0}`), VMConfig: []byte("vm-conf")})
	srv := serve(t, h)
	st, _, body := get(t, srv.URL+"/config")
	if st != 200 || body != `{"plugin":"{\"tick_ms\": 0}","vm":"vm-conf"}` {
		t.Errorf("got %d %s", st, body)
	}
	// proxy_on_log runs after the response is written: wait for it.
	waitFor(t, "proxy_on_log", 5*time.Second, func() bool { _, _, ok := h.SharedData("kitchen:config-after-start"); return ok })
	v, _, _ := h.SharedData("kitchen:config-after-start")
	if string(v) != "error status returned by host: not found" {
		t.Errorf("plugin configuration read after start: %q, want not found", v)
	}
}
