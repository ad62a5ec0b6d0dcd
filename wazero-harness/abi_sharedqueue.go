package harness

import "sync"

// sharedQueues implements proxy-wasm shared queues for the VMs of a Host,
// following the proxy-wasm C++ host: a queue is named by (vm_id, name); the
// first registration creates it and its VM is the one notified, through
// proxy_on_queue_ready on its root context, whenever an item is enqueued;
// later registrations of the name return the same id. Any VM may resolve,
// enqueue and dequeue.
type sharedQueues struct {
	mu     sync.Mutex
	byName map[string]uint32
	queues map[uint32]*sharedQueue
	next   uint32
}

type sharedQueue struct {
	owner *VM
	items [][]byte
}

func (q *sharedQueues) init() {
	q.byName = map[string]uint32{}
	q.queues = map[uint32]*sharedQueue{}
	q.next = 1
}

func (q *sharedQueues) register(vm *VM, name string) uint32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id, ok := q.byName[name]; ok {
		return id
	}
	id := q.next
	q.next++
	q.byName[name] = id
	q.queues[id] = &sharedQueue{owner: vm}
	return id
}

func (q *sharedQueues) resolve(name string) (uint32, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	id, ok := q.byName[name]
	return id, ok
}

// enqueue appends an item and returns the VM to notify.
func (q *sharedQueues) enqueue(id uint32, item []byte) (*VM, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	sq, ok := q.queues[id]
	if !ok {
		return nil, false
	}
	sq.items = append(sq.items, item)
	return sq.owner, true
}

func (q *sharedQueues) dequeue(id uint32) ([]byte, uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	sq, ok := q.queues[id]
	if !ok {
		return nil, statusNotFound
	}
	if len(sq.items) == 0 {
		return nil, statusEmpty
	}
	item := sq.items[0]
	sq.items = sq.items[1:]
	return item, statusOK
}

// proxyRegisterSharedQueue implements proxy_register_shared_queue(name_ptr,
// name_size, id_ptr).
func proxyRegisterSharedQueue(vm *VM, stack []uint64) uint32 {
	name, ok := vm.readString(u32(stack, 0), u32(stack, 1))
	if !ok {
		return statusInvalidMemoryAccess
	}
	if !vm.putU32(u32(stack, 2), vm.h.queues.register(vm, name)) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// proxyResolveSharedQueue implements proxy_resolve_shared_queue(vm_id_ptr,
// vm_id_size, name_ptr, name_size, id_ptr).
func proxyResolveSharedQueue(vm *VM, stack []uint64) uint32 {
	vmID, ok1 := vm.readString(u32(stack, 0), u32(stack, 1))
	name, ok2 := vm.readString(u32(stack, 2), u32(stack, 3))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	if vmID != vm.h.opts.VMID {
		return statusNotFound
	}
	id, found := vm.h.queues.resolve(name)
	if !found {
		return statusNotFound
	}
	if !vm.putU32(u32(stack, 4), id) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// proxyEnqueueSharedQueue implements proxy_enqueue_shared_queue(id,
// value_ptr, value_size); the owner VM's proxy_on_queue_ready runs later
// on its own goroutine.
func proxyEnqueueSharedQueue(vm *VM, stack []uint64) uint32 {
	id := u32(stack, 0)
	item, ok := vm.readCopy(u32(stack, 1), u32(stack, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	owner, found := vm.h.queues.enqueue(id, item)
	if !found {
		return statusNotFound
	}
	if vm.h.bg.start() {
		go func() {
			defer vm.h.bg.finish()
			owner.queueReady(id)
		}()
	}
	return statusOK
}

// proxyDequeueSharedQueue implements proxy_dequeue_shared_queue(id,
// value_ptr_ptr, value_size_ptr): Empty when there is nothing queued.
func proxyDequeueSharedQueue(vm *VM, stack []uint64) uint32 {
	item, st := vm.h.queues.dequeue(u32(stack, 0))
	if st != statusOK {
		return st
	}
	return vm.returnBytes(item, u32(stack, 1), u32(stack, 2))
}

// queueReady calls proxy_on_queue_ready on the root context.
func (vm *VM) queueReady(id uint32) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.h.closing.Load() {
		return
	}
	vm.effective = vm.rootID
	_, _ = vm.callLocked("proxy_on_queue_ready", vm.fn.queueReady, uint64(vm.rootID), uint64(id))
}
