package harness

import (
	"bytes"
	"log"
	"strings"
	"sync"
)

// Log levels of proxy_log, as the proxy-wasm ABI numbers them. Output the
// module writes to stdout is logged at LevelInfo and to stderr at LevelError,
// as Envoy does.
const (
	LevelTrace    = 0
	LevelDebug    = 1
	LevelInfo     = 2
	LevelWarn     = 3
	LevelError    = 4
	LevelCritical = 5
)

// HostVM is the VM number of log entries written by the harness itself
// rather than by a VM.
const HostVM = -1

// maxLogEntries bounds the log ring returned by Host.Logs.
const maxLogEntries = 1000

// LogEntry is one log line kept by the Host.
type LogEntry struct {
	VM    int    // VM index, or HostVM for messages of the harness itself
	Level int    // LevelTrace..LevelCritical
	Msg   string // the message, without trailing newline
}

// levelName returns Envoy's name of a proxy-wasm log level.
func levelName(level int) string {
	switch level {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	case LevelCritical:
		return "critical"
	}
	return "unknown"
}

// logRing keeps the last maxLogEntries entries.
type logRing struct {
	mu      sync.Mutex
	entries []LogEntry
	next    int
	full    bool
}

func (r *logRing) add(e LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) < maxLogEntries {
		r.entries = append(r.entries, e)
		return
	}
	r.entries[r.next] = e
	r.next = (r.next + 1) % maxLogEntries
	r.full = true
}

func (r *logRing) snapshot() []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]LogEntry, 0, len(r.entries))
	if r.full {
		out = append(out, r.entries[r.next:]...)
		out = append(out, r.entries[:r.next]...)
		return out
	}
	return append(out, r.entries...)
}

// log records an entry and passes it to the sink.
func (h *Host) log(vm, level int, msg string) {
	h.logs.add(LogEntry{VM: vm, Level: level, Msg: msg})
	if h.opts.Log != nil {
		h.opts.Log(level, msg)
		return
	}
	if vm == HostVM {
		log.Printf("harness [%s] %s", levelName(level), msg)
		return
	}
	log.Printf("harness vm%d [%s] %s", vm, levelName(level), msg)
}

// Logs returns a copy of the last (at most 1000) log entries, oldest first.
func (h *Host) Logs() []LogEntry {
	return h.logs.snapshot()
}

// lineWriter turns the module's stdout or stderr into log entries, one per
// line.
type lineWriter struct {
	h     *Host
	vm    int
	level int
	mu    sync.Mutex
	buf   []byte
}

// Write logs every complete line of p and keeps the rest for later.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		w.h.log(w.vm, w.level, line)
	}
	if len(w.buf) > 64<<10 { // a runaway line without newline
		w.h.log(w.vm, w.level, string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}

// flush logs a pending partial line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.h.log(w.vm, w.level, string(w.buf))
		w.buf = nil
	}
}
