package harness

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFilterMetrics(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 2})
	srv := serve(t, h)
	for i := 0; i < 4; i++ { // round-robin over both VMs
		if st, _, _ := get(t, srv.URL+"/tick"); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	// Counters are shared by the VMs, like Envoy's stats.
	if n, ok := h.Metric("kitchen_requests_total"); !ok || n != 4 {
		t.Errorf("kitchen_requests_total = %d, %v; want 4", n, ok)
	}
	st, _, body := get(t, srv.URL+"/metrics")
	var m map[string]uint64
	if err := json.Unmarshal([]byte(body), &m); err != nil || st != 200 {
		t.Fatalf("%d %s: %v", st, body, err)
	}
	if m["requests"] != 5 {
		t.Errorf("proxy_get_metric inside the filter = %d, want 5", m["requests"])
	}
	// The gauge goes down in proxy_on_log, which runs after the response.
	waitFor(t, "gauge kitchen_active_streams back to 0", 5*time.Second, func() bool {
		n, ok := h.Metric("kitchen_active_streams")
		return ok && n == 0
	})
	if _, ok := h.Metric("no_such_metric"); ok {
		t.Error("unknown metric found")
	}
}

func TestMetricRegistryRules(t *testing.T) {
	var r metricRegistry
	r.init()
	c := r.define(metricCounter, "c")
	g := r.define(metricGauge, "g")
	hist := r.define(metricHistogram, "h")
	if again := r.define(metricCounter, "c"); again != c {
		t.Errorf("redefining a counter gave a new id")
	}
	if c&metricTypeMask != metricCounter || g&metricTypeMask != metricGauge || hist&metricTypeMask != metricHistogram {
		t.Errorf("ids %d %d %d do not carry their type in the low bits", c, g, hist)
	}
	tests := []struct {
		name string
		got  uint32
		want uint32
	}{
		{"counter +3", r.increment(c, 3), statusOK},
		{"counter +0 (Envoy: BadArgument)", r.increment(c, 0), statusBadArgument},
		{"counter -1", r.increment(c, -1), statusBadArgument},
		{"gauge +5", r.increment(g, 5), statusOK},
		{"gauge -2", r.increment(g, -2), statusOK},
		{"histogram increment", r.increment(hist, 1), statusBadArgument},
		{"unknown counter", r.increment(c+4*100, 1), statusNotFound},
		{"record counter", r.record(c, 2), statusOK},
		{"record histogram", r.record(hist, 7), statusOK},
		{"record unknown", r.record(999<<2, 7), statusNotFound},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	if v, st := r.get(c); v != 5 || st != statusOK {
		t.Errorf("counter = %d (%d), want 5", v, st)
	}
	if v, st := r.get(g); v != 3 || st != statusOK {
		t.Errorf("gauge = %d (%d), want 3", v, st)
	}
	r.record(g, 10)
	if v, _ := r.get(g); v != 10 {
		t.Errorf("gauge after record = %d, want 10 (record sets a gauge)", v)
	}
	if _, st := r.get(hist); st != statusBadArgument {
		t.Errorf("get of a histogram: %d, want BadArgument as Envoy", st)
	}
}
