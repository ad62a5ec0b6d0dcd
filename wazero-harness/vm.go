package harness

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// errVMUnavailable is returned by calls into a VM that already died or was
// closed; the stream gets Envoy's 503.
var errVMUnavailable = errors.New("harness: VM is dead or closed")

// proxy-wasm actions returned by the stream callbacks.
const actionContinue = 0

// vmKey is the context key under which host functions find their VM.
type vmKey struct{}

// exports holds the module's callbacks; a nil entry is not exported and is
// treated as a no-op returning Continue, as Envoy does.
type exports struct {
	initialize       api.Function
	alloc            api.Function
	contextCreate    api.Function
	vmStart          api.Function
	configure        api.Function
	requestHeaders   api.Function
	requestBody      api.Function
	responseHeaders  api.Function
	responseBody     api.Function
	httpCallResponse api.Function
	tick             api.Function
	queueReady       api.Function
	log              api.Function
	done             api.Function
	delete           api.Function
}

// VM is one instance of the module, like the VM of one Envoy worker. It is
// single-threaded: every call into it holds its mutex.
type VM struct {
	h      *Host
	index  int
	ctx    context.Context // carries the *VM for host functions
	deadCh chan struct{}   // closed when the VM dies or is closed
	dead   atomic.Bool
	stdout *lineWriter
	stderr *lineWriter

	mu           sync.Mutex // guards everything below and every call into mod
	mod          api.Module
	fn           exports
	stack        [8]uint64
	allocStack   [1]uint64
	initializing bool // inside _initialize: no proxy-wasm calls allowed
	started      bool // the start sequence succeeded
	configuring  bool // inside proxy_on_configure: the plugin configuration is readable
	rootID       uint32
	nextID       uint32
	effective    uint32
	streams      map[uint32]*stream
	names        nameTable        // header names the filter passed, interned
	callout      *calloutResponse // set during proxy_on_http_call_response
	nextCallout  uint32
	deadErr      error
	closed       bool
	deadOnce     sync.Once
	tick         tickState
}

func newVM(h *Host, i int) *VM {
	vm := &VM{h: h, index: i, deadCh: make(chan struct{}), streams: map[uint32]*stream{}, names: nameTable{}}
	vm.ctx = context.WithValue(context.Background(), vmKey{}, vm)
	vm.stdout = &lineWriter{h: h, vm: i, level: LevelInfo}
	vm.stderr = &lineWriter{h: h, vm: i, level: LevelError}
	return vm
}

// vmFrom returns the VM a host function was called for.
func vmFrom(ctx context.Context) *VM {
	return ctx.Value(vmKey{}).(*VM)
}

// Index returns the VM's index in its Host.
func (vm *VM) Index() int { return vm.index }

// Alive reports whether the VM is running (it has not trapped and the Host
// is not closed).
func (vm *VM) Alive() bool {
	select {
	case <-vm.deadCh:
		return false
	default:
		return true
	}
}

// Err returns why the VM died (a trap or a proc_exit of the module), or
// nil while it is alive or after a clean Close.
func (vm *VM) Err() error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.deadErr
}

// start instantiates the module and runs the plugin start sequence.
func (vm *VM) start(ctx context.Context) error {
	cfg := wazero.NewModuleConfig().
		WithName(fmt.Sprintf("vm%d", vm.index)).
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(vm.stdout).
		WithStderr(vm.stderr)
	mod, err := vm.h.rt.InstantiateModule(vm.ctx, vm.h.compiled, cfg)
	if err != nil {
		return fmt.Errorf("harness: instantiate vm %d: %w", vm.index, err)
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.mod = mod
	get := func(name string) api.Function { return mod.ExportedFunction(name) }
	vm.fn = exports{
		initialize:       get("_initialize"),
		alloc:            get("proxy_on_memory_allocate"),
		contextCreate:    get("proxy_on_context_create"),
		vmStart:          get("proxy_on_vm_start"),
		configure:        get("proxy_on_configure"),
		requestHeaders:   get("proxy_on_request_headers"),
		requestBody:      get("proxy_on_request_body"),
		responseHeaders:  get("proxy_on_response_headers"),
		responseBody:     get("proxy_on_response_body"),
		httpCallResponse: get("proxy_on_http_call_response"),
		tick:             get("proxy_on_tick"),
		queueReady:       get("proxy_on_queue_ready"),
		log:              get("proxy_on_log"),
		done:             get("proxy_on_done"),
		delete:           get("proxy_on_delete"),
	}
	if vm.fn.alloc == nil {
		vm.fn.alloc = get("malloc")
	}
	vm.rootID = 1
	vm.nextID = 2
	vm.effective = vm.rootID

	vm.initializing = true
	_, err = vm.callLocked("_initialize", vm.fn.initialize)
	vm.initializing = false
	if err != nil {
		return vm.refused("_initialize trapped")
	}
	if _, err := vm.callLocked("proxy_on_context_create", vm.fn.contextCreate, uint64(vm.rootID), 0); err != nil {
		return vm.refused("proxy_on_context_create trapped")
	}
	ok, err := vm.callLocked("proxy_on_vm_start", vm.fn.vmStart, uint64(vm.rootID), uint64(len(vm.h.opts.VMConfig)))
	if err != nil {
		return vm.refused("proxy_on_vm_start trapped")
	}
	if vm.fn.vmStart != nil && uint32(ok) == 0 {
		return vm.refused("proxy_on_vm_start returned false")
	}
	vm.configuring = true
	ok, err = vm.callLocked("proxy_on_configure", vm.fn.configure, uint64(vm.rootID), uint64(len(vm.h.opts.PluginConfig)))
	vm.configuring = false
	if err != nil {
		return vm.refused("proxy_on_configure trapped")
	}
	if vm.fn.configure != nil && uint32(ok) == 0 {
		return vm.refused("proxy_on_configure returned false")
	}
	vm.started = true
	return nil
}

// refused builds the start failure error from the VM's last warn-or-worse
// log lines.
func (vm *VM) refused(why string) error {
	vm.stdout.flush()
	vm.stderr.flush()
	var lines []string
	for _, e := range vm.h.logs.snapshot() {
		if e.VM == vm.index && e.Level >= LevelWarn {
			lines = append(lines, e.Msg)
		}
	}
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	msg := strings.Join(lines, "; ")
	if msg == "" {
		msg = "(no error logged)"
	}
	return fmt.Errorf("%w: %s (vm %d: %s)", ErrPluginRefused, msg, vm.index, why)
}

// callLocked calls fn with args. vm.mu must be held. A missing export
// returns 0 (Continue). A trap marks the VM dead and returns the error.
func (vm *VM) callLocked(name string, fn api.Function, args ...uint64) (uint64, error) {
	if vm.closed || vm.dead.Load() {
		return 0, errVMUnavailable
	}
	if fn == nil {
		return 0, nil
	}
	stack := vm.stack[:]
	copy(stack, args)
	if err := fn.CallWithStack(vm.ctx, stack); err != nil {
		vm.die(name, err)
		return 0, err
	}
	return stack[0], nil
}

// die marks the VM dead after a trap: it is never called again, its
// waiting streams are woken and answered 503. vm.mu must be held.
func (vm *VM) die(where string, err error) {
	vm.deadOnce.Do(func() {
		vm.stdout.flush()
		vm.stderr.flush()
		vm.deadErr = fmt.Errorf("harness: vm %d trapped in %s: %w", vm.index, where, err)
		vm.dead.Store(true)
		vm.h.log(vm.index, LevelCritical, vm.deadErr.Error()+" (the VM is dead; its requests get 503)")
		vm.stopTickLocked()
		close(vm.deadCh)
		if vm.mod != nil {
			_ = vm.mod.Close(context.Background())
		}
	})
}

// shutdown delivers proxy_on_done and proxy_on_delete to the root context
// of a started VM (without waiting for proxy_done) and closes the instance.
func (vm *VM) shutdown(ctx context.Context) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.mod != nil && !vm.closed && !vm.dead.Load() {
		if vm.started {
			vm.effective = vm.rootID
			_, _ = vm.callLocked("proxy_on_done", vm.fn.done, uint64(vm.rootID))
			_, _ = vm.callLocked("proxy_on_delete", vm.fn.delete, uint64(vm.rootID))
		}
		_ = vm.mod.Close(ctx)
	}
	vm.closed = true
	vm.stdout.flush()
	vm.stderr.flush()
	vm.deadOnce.Do(func() { close(vm.deadCh) })
}

// newContextID allocates a context id. vm.mu must be held.
func (vm *VM) newContextID() uint32 {
	id := vm.nextID
	vm.nextID++
	return id
}

// stream returns the stream of the effective context, or nil for the root
// context. vm.mu must be held.
func (vm *VM) stream() *stream {
	if vm.effective == vm.rootID {
		return nil
	}
	return vm.streams[vm.effective]
}

// malloc allocates size bytes in the module through its allocation export.
// It runs inside a host function; a trap aborts the calling callback.
func (vm *VM) malloc(size uint32) uint32 {
	if vm.fn.alloc == nil {
		panic(errors.New("harness: module has no allocation export"))
	}
	stack := vm.allocStack[:]
	stack[0] = uint64(size)
	if err := vm.fn.alloc.CallWithStack(vm.ctx, stack); err != nil {
		panic(fmt.Errorf("harness: proxy_on_memory_allocate(%d): %w", size, err))
	}
	return uint32(stack[0])
}

// read returns a view of size bytes at ptr in the module's memory. The view
// is invalid after the next allocation; copy what you keep.
func (vm *VM) read(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	return vm.mod.Memory().Read(ptr, size)
}

// readString copies size bytes at ptr into a string.
func (vm *VM) readString(ptr, size uint32) (string, bool) {
	b, ok := vm.read(ptr, size)
	return string(b), ok
}

// readCopy copies size bytes at ptr.
func (vm *VM) readCopy(ptr, size uint32) ([]byte, bool) {
	b, ok := vm.read(ptr, size)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// putU32 writes a little-endian uint32 at ptr.
func (vm *VM) putU32(ptr, v uint32) bool {
	return vm.mod.Memory().WriteUint32Le(ptr, v)
}

// putU64 writes a little-endian uint64 at ptr.
func (vm *VM) putU64(ptr uint32, v uint64) bool {
	return vm.mod.Memory().WriteUint64Le(ptr, v)
}

// returnBytes hands data to the module the proxy-wasm way: memory from the
// module's allocator, its address at ptrPtr and its size at sizePtr. Empty
// data is returned as a null pointer and size 0.
func (vm *VM) returnBytes(data []byte, ptrPtr, sizePtr uint32) uint32 {
	buf, st := vm.returnBuffer(len(data), ptrPtr, sizePtr)
	copy(buf, data)
	return st
}

// returnString is returnBytes for a string, without converting it.
func (vm *VM) returnString(data string, ptrPtr, sizePtr uint32) uint32 {
	buf, st := vm.returnBuffer(len(data), ptrPtr, sizePtr)
	copy(buf, data)
	return st
}

// returnPairs is returnBytes(encodePairs(pairs)), serialized straight into
// the module's memory.
func (vm *VM) returnPairs(pairs [][2]string, ptrPtr, sizePtr uint32) uint32 {
	buf, st := vm.returnBuffer(pairsSize(pairs), ptrPtr, sizePtr)
	if buf != nil {
		encodePairsInto(buf, pairs)
	}
	return st
}

// returnBuffer allocates size bytes in the module for returnBytes, stores
// their address and size at ptrPtr and sizePtr, and returns them as a view
// of the module's memory for the caller to fill before the next call into
// the module. It returns a nil view when size is 0 (a null pointer) or on
// failure.
func (vm *VM) returnBuffer(size int, ptrPtr, sizePtr uint32) ([]byte, uint32) {
	if size == 0 {
		if !vm.putU32(ptrPtr, 0) || !vm.putU32(sizePtr, 0) {
			return nil, statusInvalidMemoryAccess
		}
		return nil, statusOK
	}
	p := vm.malloc(uint32(size))
	if p == 0 {
		return nil, statusInvalidMemoryAccess
	}
	buf, ok := vm.mod.Memory().Read(p, uint32(size))
	if !ok || !vm.putU32(ptrPtr, p) || !vm.putU32(sizePtr, uint32(size)) {
		return nil, statusInvalidMemoryAccess
	}
	return buf, statusOK
}
