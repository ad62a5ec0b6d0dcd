package harness

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRealClock checks the module sees the host's wall clock (the SDK's
// emulator gives it a fake 2022 clock) and really sleeps.
func TestRealClock(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 1})
	srv := serve(t, h)
	st, _, body := get(t, srv.URL+"/time")
	now := time.Now()
	ns, err := strconv.ParseInt(body, 10, 64)
	if st != 200 || err != nil {
		t.Fatalf("%d %q: %v", st, body, err)
	}
	if d := now.Sub(time.Unix(0, ns)); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("the module's time.Now() is %v, the host's %v", time.Unix(0, ns), now)
	}
	if got := logsContaining(h, "kitchen: time "+body); len(got) != 1 {
		t.Errorf("the filter's log of the time is missing: %q", got)
	}
	st, _, body = get(t, srv.URL+"/sleep?ms=50")
	slept, err := time.ParseDuration(body)
	if st != 200 || err != nil || slept < 50*time.Millisecond || slept > 2*time.Second {
		t.Errorf("time.Sleep(50ms) in the module measured %q (%d)", body, st)
	}
}

// TestPollOneoffENOSYS documents what a Go filter does on an Envoy whose
// proxy-wasm host predates envoy PR 45756 (poll_oneoff returns ENOSYS).
//
// Observed: the Go runtime calls poll_oneoff from its network poller,
// which it starts with its first timer (the heap scavenger arms one after
// the heap shrinks, time.Sleep arms one at once). From then on every
// garbage collection polls when it restarts the world, gets ENOSYS and
// dies with "fatal error: poll_oneoff failed" (a wasm unreachable trap).
// A filter whose heap never shrinks and that never sleeps can run for a
// long time (200k requests of the no-op filter survived), which is why
// the failure shows up late in production. Here a request that churns the
// heap and collects 20 times kills the VM at once; the same request is
// healthy with the switch off.
func TestPollOneoffENOSYS(t *testing.T) {
	t.Parallel()
	for _, enosys := range []bool{false, true} {
		h := newHost(t, Options{Wasm: kitchenWasm, VMs: 2, PollOneoffENOSYS: enosys})
		srv := serve(t, h)
		vm0 := h.VM(0)
		var statuses []int
		for i := 0; i < 3; i++ {
			st, _, _ := get(t, srv.URL+"/gc?rounds=20")
			statuses = append(statuses, st)
		}
		if !enosys {
			if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != 200 || !vm0.Alive() {
				t.Fatalf("with a working poll_oneoff: statuses %v, VM0 alive %v", statuses, vm0.Alive())
			}
			continue
		}
		// Round-robin: requests 1 and 3 go to VM0, request 2 to VM1.
		if want := []int{500, 500, 503}; statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] {
			t.Errorf("with ENOSYS: statuses %v, want %v (trap, trap on the other VM, dead VM)", statuses, want)
		}
		if vm0.Alive() || h.VM(1).Alive() {
			t.Errorf("the VMs survived ENOSYS at a GC")
		}
		if err := vm0.Err(); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("VM0 error = %v, want a wasm unreachable trap", err)
		}
		if got := logsContaining(h, "fatal error: poll_oneoff failed"); len(got) != 2 {
			t.Errorf("the Go runtime's fatal error was logged %d times, want once per VM", len(got))
		}
		// A route that does not collect garbage still works on a live VM
		// of a fresh host: the failure comes with the GC, not at once.
		h2 := newHost(t, Options{Wasm: kitchenWasm, VMs: 1, PollOneoffENOSYS: true})
		srv2 := serve(t, h2)
		for i := 0; i < 50; i++ {
			if st, _, _ := get(t, srv2.URL+"/time"); st != 200 {
				t.Fatalf("request %d without a GC failed with %d", i, st)
			}
		}
		// time.Sleep needs poll_oneoff at once: the scheduler idles until
		// the timer. A sleep long enough that a loaded machine cannot
		// reach the scheduler only after the timer has fired (then no
		// poll_oneoff would be needed).
		if st, _, _ := get(t, srv2.URL+"/sleep?ms=200"); st != 500 || h2.VM(0).Alive() {
			t.Errorf("time.Sleep on an ENOSYS host: %d, alive %v; want a trap", st, h2.VM(0).Alive())
		}
	}
}
