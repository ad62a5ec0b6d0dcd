package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// nodeWASIRunner runs a wasip1 command under Node's WASI (V8): node
// runner.js MODULE ARGS... .
//
//go:embed testdata/guestbench/run.js
var nodeWASIRunner []byte

// guestBench builds e2e/testdata/guestbench once per test binary, as a
// wasip1 command, and writes the Node runner beside it.
var guestBench struct {
	once       sync.Once
	dir, wasm  string
	runner     string
	compileErr error
}

func guestBenchModule(b *testing.B) (wasmPath, runner string) {
	guestBench.once.Do(func() {
		dir, err := os.MkdirTemp("", "mcpgate-guestbench")
		if err != nil {
			guestBench.compileErr = err
			return
		}
		afterAll = append(afterAll, func() { os.RemoveAll(dir) })
		guestBench.wasm, guestBench.runner = filepath.Join(dir, "guestbench.wasm"), filepath.Join(dir, "run.js")
		cmd := exec.Command("go", "build", "-trimpath", "-o", guestBench.wasm, "./testdata/guestbench")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			guestBench.compileErr = &buildError{err, out}
			return
		}
		guestBench.compileErr = os.WriteFile(guestBench.runner, nodeWASIRunner, 0o644)
	})
	if guestBench.compileErr != nil {
		b.Fatal(guestBench.compileErr)
	}
	return guestBench.wasm, guestBench.runner
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

// guestNs parses guestbench's "CASE NS" line.
func guestNs(b *testing.B, out []byte, c string) float64 {
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != c {
		b.Fatalf("guestbench printed %q", out)
	}
	ns, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		b.Fatalf("guestbench printed %q", out)
	}
	return ns
}

// BenchmarkGuestRuntimes runs the same guest code, the guard's paths of
// authcore compiled to a wasip1 command (e2e/testdata/guestbench), under
// wazero (the harness's runtime, with its optimizing compiler) and under V8
// through Node's WASI (the runtime of Envoy's wasm filters), b.N operations
// each, timed inside the guest. It reports nanoseconds per operation under
// each (wazero-ns, v8-ns; ns/op is wazero's) and V8's time as a fraction
// of wazero's (v8/wazero). Each run does its operations twice and times
// the second pass (see guestbench); a first-seen case does at most 500.
// Signatures are checked in Go inside the guest, as on a host without
// signature functions. It is skipped where node is not installed.
func BenchmarkGuestRuntimes(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not found: the V8 side of this benchmark needs Node.js (20 or newer) on PATH")
	}
	wasmPath, runner := guestBenchModule(b)
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, config string
		max          int // operations per run at most (a first-seen token is minted in the guest, and a signature costs a millisecond)
	}{{"cached", benchConfig, 1 << 30}, {"pertool", benchConfig, 1 << 30}, {"es256", benchConfig, 500}, {"eddsa", edConfig, 500}} {
		b.Run(c.name, func(b *testing.B) {
			c, n, config := c.name, strconv.Itoa(min(b.N, c.max)), c.config
			var out bytes.Buffer
			cfg := wazero.NewModuleConfig().WithArgs("guestbench", c, n, config).WithStdout(&out).WithStderr(os.Stderr).
				WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader).WithName("")
			inst, err := rt.InstantiateModule(ctx, mod, cfg)
			if err != nil {
				b.Fatalf("wazero: %v", err)
			}
			inst.Close(ctx)
			wz := guestNs(b, out.Bytes(), c)
			v8out, err := exec.Command(node, "--no-warnings", runner, wasmPath, c, n, config).Output()
			if err != nil {
				b.Fatalf("node: %v", err)
			}
			v8 := guestNs(b, v8out, c)
			b.ReportMetric(wz, "ns/op")
			b.ReportMetric(wz, "wazero-ns")
			b.ReportMetric(v8, "v8-ns")
			b.ReportMetric(v8/wz, "v8/wazero")
		})
	}
}
