package main

import (
	"math/rand/v2"
	"testing"
)

// TestStreamTable files streams whose IDs share slots (the overflow), in
// a random order of adds and removes, and checks every lookup against a
// map.
func TestStreamTable(t *testing.T) {
	var tab streamTable
	want := map[uint32]*httpContext{}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []uint32{0, 1, streamSlots, 2 * streamSlots, streamSlots + 1, 1<<32 - 1, 1<<32 - streamSlots}
	for i := 0; i < 2000; i++ {
		ids = append(ids, uint32(rng.IntN(4*streamSlots)))
	}
	check := func(when string) {
		t.Helper()
		for _, id := range ids {
			if got := tab.get(id); got != want[id] {
				t.Fatalf("%s: get(%d) = %p, want %p", when, id, got, want[id])
			}
		}
	}
	for step := 0; step < 20000; step++ {
		id := ids[rng.IntN(len(ids))]
		if h, ok := want[id]; ok {
			tab.remove(id)
			delete(want, id)
			if tab.get(id) != nil {
				t.Fatalf("step %d: %d still found after remove (was %p)", step, id, h)
			}
		} else {
			h := &httpContext{id: id}
			tab.add(h)
			want[id] = h
		}
		if step%997 == 0 {
			check("step")
		}
	}
	check("end")
	for id := range want {
		tab.remove(id)
	}
	for i, h := range tab.slots {
		if h != nil {
			t.Fatalf("slot %d still holds stream %d", i, h.id)
		}
	}
	if len(tab.overflow) != 0 {
		t.Fatalf("overflow still holds %d streams", len(tab.overflow))
	}
}
