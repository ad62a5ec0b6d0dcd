package e2e

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// ratioBlock is how many requests each side of a ratio serves in turn.
const ratioBlock = 1000

// BenchmarkRatios measures the hot-path targets as ratios, each
// target and its baseline served in alternating blocks of ratioBlock
// requests by two live VMs, so that the machine's drift over a run falls
// on both alike. Run one after the other, rows late in a run measured up
// to 1.5x slower than the same rows alone, which made separate benchmarks'
// ratios depend on their order. Each sub-benchmark reports the target's
// and the baseline's time per request (target-ns, base-ns) and the ratio
// (x); ns/op counts both sides. Both sides get the same request, except
// that the floor filter's is the cached token's (it reads no body). The
// targets: discovery within 2x the no-op filter, a cached token within 2x
// the floor filter, the per-tool body check within 3x the floor filter;
// the rows against the reply, guard, body and tool floors compare each with
// what a Go filter doing the same host work and deciding nothing costs.
func BenchmarkRatios(b *testing.B) {
	vm := func(wasm []byte) http.Handler { return oneVM(b, wasm) }
	mcpgate := benchHostWith(b, benchConfig, 1, false, nil).VM(0)
	noop, floor := vm(noopFilter(b)), vm(testFilter(b, "testdata/floor"))
	replyFloor, guardFloor, bodyFloor := vm(testFilter(b, "testdata/replyfloor")), vm(testFilter(b, "testdata/guardfloor")), vm(testFilter(b, "testdata/bodyfloor"))
	toolFloor := vm(testFilter(b, "testdata/toolfloor"))

	listHeaders := benchHeaders(mintBench(b, benchConfig, 1, "mcp:tools")...)
	toolHeaders := benchHeaders(mintBenchFor(b, benchConfig, "https://mcp.example.com/tools/mcp", 1, "mcp:tools", "mcp:admin")...)
	const list = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	const tool = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`
	type side struct {
		name    string
		handler http.Handler
		q       func() *benchRequest
		headers []http.Header
		want    int
	}
	discovery := side{"discovery", mcpgate, func() *benchRequest {
		return newBenchRequest("GET", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "")
	}, []http.Header{{}}, 200}
	cached := side{"cached token", mcpgate, func() *benchRequest { return mcpBenchRequest("/mcp", list) }, listHeaders, 503}
	perTool := side{"per-tool body", mcpgate, func() *benchRequest { return mcpBenchRequest("/tools/mcp", tool) }, toolHeaders, 503}
	growMemory(b, mcpgate, listHeaders)
	for _, c := range []struct {
		name         string
		target, base side
	}{
		{"discovery/noop", discovery, side{"noop", noop, discovery.q, []http.Header{{}}, 503}},
		{"discovery/replyfloor", discovery, side{"reply floor", replyFloor, discovery.q, []http.Header{{}}, 200}},
		{"cached/floor", cached, side{"floor", floor, cached.q, listHeaders, 503}},
		{"cached/guardfloor", cached, side{"guard floor", guardFloor, cached.q, listHeaders, 503}},
		{"pertool/floor", perTool, side{"floor", floor, cached.q, listHeaders, 503}},
		{"pertool/bodyfloor", perTool, side{"body floor", bodyFloor, perTool.q, toolHeaders, 503}},
		{"pertool/toolfloor", perTool, side{"tool floor", toolFloor, perTool.q, toolHeaders, 503}},
	} {
		b.Run(c.name, func(b *testing.B) {
			target := newServer(b, benchTarget{c.target.name, c.target.handler, false}, c.target.q(), c.target.headers, c.target.want)
			baseline := newServer(b, benchTarget{c.base.name, c.base.handler, false}, c.base.q(), c.base.headers, c.base.want)
			alternate(b, target, baseline, "target-ns", "base-ns")
		})
	}
}

// growMemory serves 90000 cached-token requests to the filter's VM h. The
// VM grows its linear memory to its steady size over its first
// garbage-collection cycles (a Go heap target is at least 4 MiB times
// GOGC/100); discovery allocates about 240 bytes a request, so its own
// warm-up did not get there, and the first discovery row of a run measured
// 2.5x the next ones. A cached token (640 bytes a request) gets there.
func growMemory(b *testing.B, h http.Handler, headers []http.Header) {
	grow := newServer(b, benchTarget{"cached token", h, false}, mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), headers, 503)
	for i := 0; i < 3*warmupRequests; i++ {
		grow(i)
	}
}

// oneVM runs wasm, with no plugin configuration, on a host of one VM.
func oneVM(b *testing.B, wasm []byte) http.Handler {
	h, err := harness.New(context.Background(), harness.Options{Wasm: wasm, VMs: 1, Log: func(int, string) {}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	return h.VM(0)
}

// alternate serves target and baseline in alternating blocks of
// ratioBlock requests and reports each one's time per request (under the
// two names) and their ratio (x).
func alternate(b *testing.B, target, baseline func(int), targetName, baseName string) {
	warmUp(b, target, 1)
	warmUp(b, baseline, 1)
	var tt, tb time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n += ratioBlock {
		k := min(ratioBlock, b.N-n)
		t0 := time.Now()
		for i := n; i < n+k; i++ {
			target(i)
		}
		t1 := time.Now()
		for i := n; i < n+k; i++ {
			baseline(i)
		}
		tt, tb = tt+t1.Sub(t0), tb+time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(tt.Nanoseconds())/float64(b.N), targetName)
	b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N), baseName)
	b.ReportMetric(float64(tt)/float64(tb), "x")
	runtime.GC()
}

// BenchmarkSDKOverhead prices the proxy-wasm Go SDK per request: its
// no-op filter (the ratios' no-op baseline) against e2e/testdata/bareabi,
// which exports the same callbacks bare, in alternating blocks. mcpgate
// does not pay it (plugin/abi_wasm.go).
func BenchmarkSDKOverhead(b *testing.B) {
	vm := func(wasm []byte) http.Handler { return oneVM(b, wasm) }
	headers := benchHeaders(mintBench(b, benchConfig, 1, "mcp:tools")...)
	q := func() *benchRequest { return mcpBenchRequest("/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`) }
	sdk := newServer(b, benchTarget{"sdk no-op", vm(noopFilter(b)), false}, q(), headers, 503)
	bare := newServer(b, benchTarget{"bare no-op", vm(testFilter(b, "testdata/bareabi")), false}, q(), headers, 503)
	alternate(b, sdk, bare, "sdk-ns", "bare-ns")
}

// BenchmarkBuilds compares two builds of the filter, the modules at
// $MCPGATE_WASM_A and $MCPGATE_WASM_B, on the ratios' three targets, in
// alternating blocks as BenchmarkRatios does: x is B's time over A's. It
// is how each hot-path change was measured against the build before it
// (use -benchtime 100000x: the garbage collector's cycles are far apart).
// Skipped unless both are set.
func BenchmarkBuilds(b *testing.B) {
	a, bb := os.Getenv("MCPGATE_WASM_A"), os.Getenv("MCPGATE_WASM_B")
	if a == "" || bb == "" {
		b.Skip("set MCPGATE_WASM_A and MCPGATE_WASM_B to two builds of the filter")
	}
	host := func(path string) http.Handler {
		w, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		h, err := harness.New(context.Background(), harness.Options{Wasm: w, PluginConfig: []byte(benchConfig), VMs: 1, Log: func(int, string) {}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { h.Close(context.Background()) })
		return h.VM(0)
	}
	A, B := host(a), host(bb)
	listHeaders := benchHeaders(mintBench(b, benchConfig, 1, "mcp:tools")...)
	growMemory(b, A, listHeaders)
	growMemory(b, B, listHeaders)
	toolHeaders := benchHeaders(mintBenchFor(b, benchConfig, "https://mcp.example.com/tools/mcp", 1, "mcp:tools", "mcp:admin")...)
	const list = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	const tool = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`
	for _, c := range []struct {
		name string
		q    func() *benchRequest
		hd   []http.Header
		want int
	}{
		{"discovery", func() *benchRequest {
			return newBenchRequest("GET", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "")
		}, []http.Header{{}}, 200},
		{"cached", func() *benchRequest { return mcpBenchRequest("/mcp", list) }, listHeaders, 503},
		{"pertool", func() *benchRequest { return mcpBenchRequest("/tools/mcp", tool) }, toolHeaders, 503},
	} {
		b.Run(c.name, func(b *testing.B) {
			ta := newServer(b, benchTarget{"A", A, false}, c.q(), c.hd, c.want)
			tb := newServer(b, benchTarget{"B", B, false}, c.q(), c.hd, c.want)
			alternate(b, tb, ta, "B-ns", "A-ns")
		})
	}
}
