package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// TestFilterOnENOSYSHost documents what the mcpgate filter does on an Envoy
// whose proxy-wasm host predates envoy PR 45756, where WASI poll_oneoff
// returns ENOSYS (emulated by the harness's PollOneoffENOSYS switch).
//
// What is known (wazero-harness/README.md): the Go runtime
// calls poll_oneoff only once it has a timer to wait for — the scavenger
// returning memory after the heap shrank, or time.Sleep — and then dies at
// the next garbage collection with "fatal error: poll_oneoff failed"; the
// VM traps and every later request to it gets 503 (fail closed). The
// harness's own test filter reaches that point deterministically.
//
// What this test observes for mcpgate itself: under a mixed workload of
// first-seen tokens (signature verification, cache growth), 2 MiB request
// bodies (heap spikes) and discovery, on both hosts, the filter never arms
// a runtime timer and serves every request. That is an observation, not a
// guarantee — production heaps behave differently and a build of another Go
// version may differ — so the README pins an Envoy that contains the fix.
// If this test starts failing on the ENOSYS host, the filter now dies
// there: update the README and this comment.
func TestFilterOnENOSYSHost(t *testing.T) {
	cfg := strings.Replace(readConfig(t, "conformance.json"), `"max_body_bytes": 65536`, `"max_body_bytes": 4194304`, 1)
	minter := startTarget(t, native, cfg, targetOptions{})
	const total = 300
	toks := make([]string, total)
	for i := range toks {
		toks[i] = minter.mint(t, minter.base+"/mcp", "mcp:tools")
	}
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("x", 2<<20) + `"}}}`
	small := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	run := func(enosys bool) (served int, logs string) {
		h, err := harness.New(context.Background(), harness.Options{
			Wasm: filterWasm(t), PluginConfig: []byte(strings.ReplaceAll(cfg, "{{BASE}}", minter.base)), VMs: 1,
			PollOneoffENOSYS: enosys, MaxRequestBody: 8 << 20, Log: func(int, string) {},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close(context.Background())
		for served = 0; served < total; served++ {
			var req *http.Request
			want := http.StatusServiceUnavailable // allowed through, no upstream
			switch {
			case served%10 == 0:
				req = httptest.NewRequest("POST", minter.base+"/mcp", strings.NewReader(big))
			case served%10 == 5:
				req = httptest.NewRequest("GET", minter.base+"/.well-known/oauth-protected-resource/mcp", nil)
				want = http.StatusOK
			default:
				req = httptest.NewRequest("POST", minter.base+"/mcp", strings.NewReader(small))
			}
			req.Header.Set("Authorization", "Bearer "+toks[served])
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.VM(0).ServeHTTP(rec, req)
			if !h.VM(0).Alive() || rec.Code != want {
				var all []string
				for _, l := range h.Logs() {
					all = append(all, l.Msg)
				}
				return served, strings.Join(all, "\n")
			}
		}
		return served, ""
	}
	if served, logs := run(true); served != total {
		t.Fatalf("on the ENOSYS host the filter stopped after %d of %d requests (poll_oneoff failure: %v); update README and this test:\n%s",
			served, total, strings.Contains(logs, "poll_oneoff failed"), logs)
	}
	if served, logs := run(false); served != total {
		t.Fatalf("on a working host the filter stopped after %d of %d requests:\n%s", served, total, logs)
	}
}
