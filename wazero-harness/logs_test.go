package harness

import (
	"fmt"
	"testing"
)

func TestLogRingIsBounded(t *testing.T) {
	var sunk int
	h := &Host{opts: Options{Log: func(int, string) { sunk++ }}}
	for i := 0; i < maxLogEntries+250; i++ {
		h.log(0, LevelInfo, fmt.Sprint(i))
	}
	logs := h.Logs()
	if len(logs) != maxLogEntries {
		t.Fatalf("kept %d entries, want %d", len(logs), maxLogEntries)
	}
	if logs[0].Msg != "250" || logs[len(logs)-1].Msg != fmt.Sprint(maxLogEntries+249) {
		t.Errorf("ring holds %q..%q, want the last %d entries oldest first", logs[0].Msg, logs[len(logs)-1].Msg, maxLogEntries)
	}
	if sunk != maxLogEntries+250 {
		t.Errorf("sink got %d entries", sunk)
	}
}

func TestLineWriterSplitsLines(t *testing.T) {
	h := &Host{opts: Options{Log: quiet}}
	w := &lineWriter{h: h, vm: 3, level: LevelError}
	_, _ = w.Write([]byte("first\nsec"))
	_, _ = w.Write([]byte("ond\r\nthird"))
	w.flush()
	want := []LogEntry{{3, LevelError, "first"}, {3, LevelError, "second"}, {3, LevelError, "third"}}
	if got := h.Logs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logs = %v, want %v", got, want)
	}
}

func TestFilterLogLevels(t *testing.T) {
	h := newHost(t, Options{Wasm: kitchenWasm, VMs: 1})
	srv := serve(t, h)
	if st, _, _ := get(t, srv.URL+"/log?msg=hello"); st != 200 {
		t.Fatalf("status %d", st)
	}
	want := map[string]int{
		"trace hello": LevelTrace, "debug hello": LevelDebug, "info hello": LevelInfo,
		"warn hello": LevelWarn, "error hello": LevelError, "critical hello": LevelCritical,
		"stdout hello": LevelInfo, // the module's stdout is logged at info, as Envoy does
	}
	got := map[string]int{}
	for _, e := range h.Logs() {
		if _, ok := want[e.Msg]; ok {
			got[e.Msg] = e.Level
			if e.VM != 0 {
				t.Errorf("%q logged for VM %d", e.Msg, e.VM)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("levels = %v, want %v", got, want)
	}
}
