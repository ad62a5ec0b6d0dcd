package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// sharedOp runs a shared-data operation through the kitchen filter on one
// VM and returns status, value and CAS.
func sharedOp(t *testing.T, vm *VM, op, key, value string, cas uint32) (int, string, uint32) {
	t.Helper()
	q := url.Values{"op": {op}, "key": {key}, "value": {value}, "cas": {fmt.Sprint(cas)}}
	rec := httptest.NewRecorder()
	vm.ServeHTTP(rec, httptest.NewRequest("GET", "/shared?"+q.Encode(), nil))
	if op == "get" && rec.Code == 200 {
		var r struct {
			Value string `json:"value"`
			Cas   uint32 `json:"cas"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return rec.Code, r.Value, r.Cas
	}
	return rec.Code, rec.Body.String(), 0
}

// TestSharedDataAcrossVMsWithCASConflict is the acceptance test for shared
// data: a value written by one VM is seen by the others, and a writer with
// a stale CAS is refused with CasMismatch, as in Envoy.
func TestSharedDataAcrossVMsWithCASConflict(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 3})
	vm0, vm1, vm2 := h.VM(0), h.VM(1), h.VM(2)
	const key = "acceptance"

	if st, _, _ := sharedOp(t, vm0, "get", key, "", 0); st != 404 {
		t.Fatalf("VM0 get of a missing key: status %d, want 404 (NotFound)", st)
	}
	if st, body, _ := sharedOp(t, vm0, "set", key, "v1", 0); st != 200 {
		t.Fatalf("VM0 set with cas 0: %d %s", st, body)
	}

	// Every VM sees VM0's write with the same CAS.
	var cas1 uint32
	for i, vm := range []*VM{vm0, vm1, vm2} {
		st, v, cas := sharedOp(t, vm, "get", key, "", 0)
		if st != 200 || v != "v1" || cas == 0 {
			t.Fatalf("VM%d get: %d %q cas %d; want v1 with a non-zero cas", i, st, v, cas)
		}
		if i == 0 {
			cas1 = cas
		} else if cas != cas1 {
			t.Fatalf("VM%d sees cas %d, VM0 sees %d", i, cas, cas1)
		}
	}

	// VM1 and VM2 both read (v1, cas1) and try to update: VM1 wins...
	if st, body, _ := sharedOp(t, vm1, "set", key, "v2-from-vm1", cas1); st != 200 {
		t.Fatalf("VM1 set with the current cas: %d %s", st, body)
	}
	// ...and VM2, holding the stale cas1, gets CasMismatch: the conflict is detected.
	if st, body, _ := sharedOp(t, vm2, "set", key, "v2-from-vm2", cas1); st != 409 || body != "cas mismatch" {
		t.Fatalf("VM2 set with a stale cas: %d %q; want 409 cas mismatch", st, body)
	}
	st, v, cas2 := sharedOp(t, vm2, "get", key, "", 0)
	if st != 200 || v != "v2-from-vm1" || cas2 == cas1 {
		t.Fatalf("after the conflict VM2 reads %q cas %d (was %d); want VM1's value and a new cas", v, cas2, cas1)
	}
	// Retrying with the fresh CAS succeeds.
	if st, body, _ := sharedOp(t, vm2, "set", key, "v3-from-vm2", cas2); st != 200 {
		t.Fatalf("VM2 retry: %d %s", st, body)
	}

	// The Host's view and test API follow the same rules.
	hv, hcas, ok := h.SharedData(key)
	if !ok || string(hv) != "v3-from-vm2" {
		t.Fatalf("Host.SharedData = %q, %v", hv, ok)
	}
	if err := h.SetSharedData(key, []byte("stale"), cas2); !errors.Is(err, ErrCasMismatch) {
		t.Errorf("Host.SetSharedData with a stale cas: %v, want ErrCasMismatch", err)
	}
	if err := h.SetSharedData(key, []byte("from-test"), hcas); err != nil {
		t.Errorf("Host.SetSharedData with the current cas: %v", err)
	}
	if _, v, _ := sharedOp(t, vm0, "get", key, "", 0); v != "from-test" {
		t.Errorf("VM0 does not see the test's write: %q", v)
	}
}

func TestSharedDataCASRules(t *testing.T) {
	var d sharedData
	d.init()
	if st := d.set("k", []byte("a"), 42); st != statusOK {
		t.Errorf("set of a missing key with a non-zero cas: status %d; the proxy-wasm host accepts it", st)
	}
	_, c1, _ := d.get("k")
	if st := d.set("k", []byte("b"), c1+1); st != statusCasMismatch {
		t.Errorf("wrong cas: status %d", st)
	}
	if st := d.set("k", []byte("c"), 0); st != statusOK {
		t.Errorf("cas 0: status %d", st)
	}
	_, c2, _ := d.get("k")
	if c2 == c1 || c2 == 0 {
		t.Errorf("cas did not change on set: %d -> %d", c1, c2)
	}
	d.nextCas = ^uint32(0)
	d.set("k", nil, 0)
	d.set("k", nil, 0)
	if _, c, _ := d.get("k"); c == 0 {
		t.Error("cas wrapped to 0")
	}
}

func TestSharedQueue(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 2})
	// VM0 registered the queue first, so VM0 is notified; VM1 enqueues.
	rec := httptest.NewRecorder()
	h.VM(1).ServeHTTP(rec, httptest.NewRequest("GET", "/queue?value=hello", nil))
	if rec.Code != 200 {
		t.Fatalf("enqueue: %d %s", rec.Code, rec.Body)
	}
	waitFor(t, "proxy_on_queue_ready to dequeue", 5*time.Second, func() bool {
		v, _, ok := h.SharedData("kitchen:queue:last")
		return ok && string(v) == "hello"
	})
	if n, _ := h.Metric("kitchen_dequeued_total"); n != 1 {
		t.Errorf("dequeued %d items", n)
	}
	var q sharedQueues
	q.init()
	if _, st := q.dequeue(99); st != statusNotFound {
		t.Errorf("dequeue from an unknown queue: %d", st)
	}
	id := q.register(nil, "x")
	if _, st := q.dequeue(id); st != statusEmpty {
		t.Errorf("dequeue from an empty queue: %d", st)
	}
}
