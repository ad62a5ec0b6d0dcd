package harness

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// proxy-wasm status codes (WasmResult) returned by host functions.
const (
	statusOK                  = 0
	statusNotFound            = 1
	statusBadArgument         = 2
	statusInvalidMemoryAccess = 6
	statusEmpty               = 7
	statusCasMismatch         = 8
	statusInternalFailure     = 10
	statusUnimplemented       = 12
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of the "env" module. fn reads its parameters
// from stack and returns the status written to stack[0].
type hostFunc struct {
	name   string
	params []api.ValueType
	fn     func(vm *VM, stack []uint64) uint32
}

// params returns n i32 parameter types.
func params(n int) []api.ValueType {
	p := make([]api.ValueType, n)
	for i := range p {
		p[i] = i32
	}
	return p
}

// envFunctions lists every env import the proxy-wasm Go SDK can make
// (proxywasm/internal/abi_hostcalls.go); TestEnvCoversSDKImports checks it.
func envFunctions() []hostFunc {
	return []hostFunc{
		{"proxy_log", params(3), proxyLog},
		{"proxy_send_local_response", params(8), proxySendLocalResponse},
		{"proxy_get_shared_data", params(5), proxyGetSharedData},
		{"proxy_set_shared_data", params(5), proxySetSharedData},
		{"proxy_register_shared_queue", params(3), proxyRegisterSharedQueue},
		{"proxy_resolve_shared_queue", params(5), proxyResolveSharedQueue},
		{"proxy_dequeue_shared_queue", params(3), proxyDequeueSharedQueue},
		{"proxy_enqueue_shared_queue", params(3), proxyEnqueueSharedQueue},
		{"proxy_get_header_map_value", params(5), proxyGetHeaderMapValue},
		{"proxy_add_header_map_value", params(5), proxyAddHeaderMapValue},
		{"proxy_replace_header_map_value", params(5), proxyReplaceHeaderMapValue},
		{"proxy_remove_header_map_value", params(3), proxyRemoveHeaderMapValue},
		{"proxy_get_header_map_pairs", params(3), proxyGetHeaderMapPairs},
		{"proxy_set_header_map_pairs", params(3), proxySetHeaderMapPairs},
		{"proxy_get_buffer_bytes", params(5), proxyGetBufferBytes},
		{"proxy_set_buffer_bytes", params(5), proxySetBufferBytes},
		{"proxy_continue_stream", params(1), proxyContinueStream},
		{"proxy_close_stream", params(1), proxyCloseStream},
		{"proxy_http_call", params(10), proxyHTTPCall},
		{"proxy_call_foreign_function", params(6), proxyCallForeignFunction},
		{"proxy_set_tick_period_milliseconds", params(1), proxySetTickPeriod},
		{"proxy_set_effective_context", params(1), proxySetEffectiveContext},
		{"proxy_done", params(0), proxyDone},
		{"proxy_define_metric", params(4), proxyDefineMetric},
		{"proxy_increment_metric", []api.ValueType{i32, i64}, proxyIncrementMetric},
		{"proxy_record_metric", []api.ValueType{i32, i64}, proxyRecordMetric},
		{"proxy_get_metric", params(2), proxyGetMetric},
		{"proxy_get_property", params(4), proxyGetProperty},
		{"proxy_set_property", params(4), proxySetProperty},
	}
}

// instantiateEnv instantiates the "env" host module into rt. Host
// functions find their VM in the context the callback was called with.
func instantiateEnv(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder("env")
	for _, f := range envFunctions() {
		f := f
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				vm := vmFrom(ctx)
				if vm.initializing {
					vm.h.log(vm.index, LevelError, fmt.Sprintf("harness: %s called during _initialize; Envoy allows no proxy-wasm calls there", f.name))
					stack[0] = statusInternalFailure
					return
				}
				stack[0] = uint64(f.fn(vm, stack))
			}), f.params, []api.ValueType{i32}).
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("harness: instantiate env module: %w", err)
	}
	return nil
}

// u32 returns stack[i] as a uint32 (an i32 parameter).
func u32(stack []uint64, i int) uint32 { return uint32(stack[i]) }
