package harness

import "time"

// tickState is the VM's tick timer (proxy_set_tick_period_milliseconds).
type tickState struct {
	stop chan struct{} // closes the running ticker goroutine
	gen  uint64        // bumped on every change; stale ticks are dropped
}

// setTickLocked (re)starts the VM's tick timer with a period of ms
// milliseconds, or stops it for 0, as Envoy does for the root context.
// vm.mu must be held.
func (vm *VM) setTickLocked(ms uint32) {
	vm.stopTickLocked()
	if ms == 0 || vm.h.closing.Load() || !vm.h.bg.start() {
		return
	}
	stop := make(chan struct{})
	vm.tick.stop = stop
	gen := vm.tick.gen
	period := time.Duration(ms) * time.Millisecond
	go func() {
		defer vm.h.bg.finish()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-vm.h.done:
				return
			case <-vm.deadCh:
				return
			case <-t.C:
				vm.fireTick(gen)
			}
		}
	}()
}

// stopTickLocked stops the tick timer without waiting for it (its
// goroutine may be blocked on vm.mu). vm.mu must be held.
func (vm *VM) stopTickLocked() {
	vm.tick.gen++
	if vm.tick.stop != nil {
		close(vm.tick.stop)
		vm.tick.stop = nil
	}
}

// fireTick calls proxy_on_tick on the root context unless the timer it
// belongs to was replaced.
func (vm *VM) fireTick(gen uint64) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.tick.gen != gen || vm.h.closing.Load() {
		return
	}
	vm.effective = vm.rootID
	_, _ = vm.callLocked("proxy_on_tick", vm.fn.tick, uint64(vm.rootID))
}
