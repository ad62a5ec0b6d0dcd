package harness

import (
	"context"
	"testing"
)

func TestMemoryBytesAndSharedDataStats(t *testing.T) {
	h := newHost(t, Options{Wasm: noopWasm, VMs: 1})
	if m := h.VM(0).MemoryBytes(); m == 0 || m%65536 != 0 {
		t.Fatalf("MemoryBytes = %d, want a positive multiple of the 64 KiB page", m)
	}
	k0, b0 := h.SharedDataStats()
	if err := h.SetSharedData("some-key", []byte("12345"), 0); err != nil {
		t.Fatal(err)
	}
	if k, b := h.SharedDataStats(); k != k0+1 || b != b0+int64(len("some-key")+5) {
		t.Fatalf("after one set: %d keys %d bytes, before %d %d", k, b, k0, b0)
	}
	h.Close(context.Background())
	if m := h.VM(0).MemoryBytes(); m != 0 {
		t.Fatalf("closed VM reports %d bytes", m)
	}
}
