package harness

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestTicks(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 2, PluginConfig: []byte(`{"tick_ms": 10}`)})
	// Each VM counts its own ticks; the counter metric is shared.
	ticks := func(vm *VM) int {
		rec := httptest.NewRecorder()
		vm.ServeHTTP(rec, httptest.NewRequest("GET", "/tick", nil))
		n, _ := strconv.Atoi(rec.Body.String())
		return n
	}
	waitFor(t, "ticks on both VMs", 20*time.Second, func() bool {
		return ticks(h.VM(0)) >= 3 && ticks(h.VM(1)) >= 3
	})
	if n, _ := h.Metric("kitchen_ticks_total"); n < 6 {
		t.Errorf("kitchen_ticks_total = %d, want the ticks of both VMs", n)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n1, _ := h.Metric("kitchen_ticks_total")
	time.Sleep(50 * time.Millisecond)
	if n2, _ := h.Metric("kitchen_ticks_total"); n2 != n1 {
		t.Errorf("ticks after Close: %d -> %d", n1, n2)
	}
}

func TestNoTicksByDefault(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 1})
	time.Sleep(50 * time.Millisecond)
	if n, _ := h.Metric("kitchen_ticks_total"); n != 0 {
		t.Errorf("%d ticks without a tick period", n)
	}
}
