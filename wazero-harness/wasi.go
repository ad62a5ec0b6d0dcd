package harness

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// errnoENOSYS is WASI's "function not supported" errno.
const errnoENOSYS = 52

// instantiateWASI instantiates wazero's wasi_snapshot_preview1 into rt.
// The real clocks, crypto/rand and real sleeping are configured per module
// (see VM.start); stdout and stderr go to the log.
//
// With enosys, poll_oneoff is replaced by a function that returns ENOSYS,
// as the proxy-wasm C++ host of Envoy releases before envoy PR 45756 did.
// The override works because a HostModuleBuilder keeps the last function
// exported under a name: the standard functions are exported first, then
// poll_oneoff again.
func instantiateWASI(ctx context.Context, rt wazero.Runtime, enosys bool) error {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	if enosys {
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
				stack[0] = errnoENOSYS
			}), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
			WithParameterNames("in", "out", "nsubscriptions", "result.nevents").
			Export("poll_oneoff")
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("harness: instantiate wasi: %w", err)
	}
	return nil
}
