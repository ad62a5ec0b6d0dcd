package harness

import (
	"sort"
	"strings"
)

// Filter state, as Envoy keeps it for a Wasm filter: a value set with
// proxy_set_property(path, value) on a stream is stored in the stream's
// filter state under "wasm." + path (Envoy's WasmStateKeyPrefix; the path
// bytes as given, NUL separators included), with the default prototype:
// bytes, mutable, living as long as the filter chain. Envoy's access log
// prints it with %FILTER_STATE(wasm.<path>:PLAIN)%, and CEL-based rate
// limit descriptors read it as filter_state["wasm.<path>"].
//
// The harness keeps such values on the stream (abi_properties.go) and, when
// the stream ends, after proxy_on_log (Envoy writes access logs after
// the filters' on_log), hands them to [Options.AccessLog].

// FilterStatePrefix is the prefix Envoy gives the filter-state keys of
// properties a Wasm filter sets.
const FilterStatePrefix = "wasm."

// AccessLogEntry is what an Envoy access log could print about one ended
// stream: the request line, its x-request-id, and the filter state set by
// the filter.
type AccessLogEntry struct {
	Method    string
	Path      string
	RequestID string
	// FilterState maps each filter-state key ("wasm.mcpgate.subject") to
	// its value, as %FILTER_STATE(key:PLAIN)% prints it.
	FilterState map[string]string
}

// Keys returns the filter-state keys in order.
func (e AccessLogEntry) Keys() []string {
	ks := make([]string, 0, len(e.FilterState))
	for k := range e.FilterState {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// accessLog hands the ended stream's entry to Options.AccessLog. vm.mu is
// held, so the sink must not call the Host.
func (s *stream) accessLog() {
	sink := s.vm.h.opts.AccessLog
	if sink == nil {
		return
	}
	e := AccessLogEntry{Method: s.r.Method, Path: s.r.URL.RequestURI(), FilterState: map[string]string{}}
	if id, ok := s.req.current().lookup("x-request-id"); ok {
		e.RequestID = id
	} else if id, ok := s.req.headers.lookup("x-request-id"); ok {
		e.RequestID = id
	}
	for path, v := range s.props {
		if strings.HasPrefix(path, "\x00") {
			continue
		}
		e.FilterState[FilterStatePrefix+path] = string(v)
	}
	sink(e)
}
