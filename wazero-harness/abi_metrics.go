package harness

import "sync"

// proxy-wasm metric types.
const (
	metricCounter   = 0
	metricGauge     = 1
	metricHistogram = 2
	metricTypeMask  = 0x3
	// maxHistogramSamples bounds the samples kept per histogram.
	maxHistogramSamples = 1000
)

// metricRegistry holds the Host's metrics, shared by all VMs like Envoy's
// stats. As in Envoy, a metric id carries its type in the low two bits,
// and defining the same name and type again returns the same metric.
type metricRegistry struct {
	mu     sync.Mutex
	byID   map[uint32]*metric
	byName map[metricKey]uint32
	next   uint32
}

type metricKey struct {
	kind uint32
	name string
}

type metric struct {
	kind    uint32
	name    string
	value   uint64   // counter or gauge value
	count   uint64   // histogram sample count
	samples []uint64 // last maxHistogramSamples histogram samples
}

func (r *metricRegistry) init() {
	r.byID = map[uint32]*metric{}
	r.byName = map[metricKey]uint32{}
	r.next = 1
}

func (r *metricRegistry) define(kind uint32, name string) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := metricKey{kind, name}
	if id, ok := r.byName[k]; ok {
		return id
	}
	id := r.next<<2 | kind
	r.next++
	r.byName[k] = id
	r.byID[id] = &metric{kind: kind, name: name}
	return id
}

// increment implements Envoy's incrementMetric: counters only go up
// (offset > 0), gauges go up or down, histograms are BadArgument.
func (r *metricRegistry) increment(id uint32, offset int64) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.byID[id]
	switch {
	case id&metricTypeMask >= metricHistogram:
		return statusBadArgument
	case !ok:
		return statusNotFound
	case m.kind == metricCounter:
		if offset <= 0 {
			return statusBadArgument
		}
		m.value += uint64(offset)
	default:
		m.value += uint64(offset) // two's complement: negative offsets subtract
	}
	return statusOK
}

// record implements Envoy's recordMetric: counters add, gauges set,
// histograms record a sample.
func (r *metricRegistry) record(id uint32, value uint64) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.byID[id]
	if !ok {
		return statusNotFound
	}
	switch m.kind {
	case metricCounter:
		m.value += value
	case metricGauge:
		m.value = value
	case metricHistogram:
		m.count++
		m.samples = append(m.samples, value)
		if len(m.samples) > maxHistogramSamples {
			m.samples = m.samples[len(m.samples)-maxHistogramSamples:]
		}
	}
	return statusOK
}

// get implements Envoy's getMetric: histograms are BadArgument.
func (r *metricRegistry) get(id uint32) (uint64, uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id&metricTypeMask >= metricHistogram {
		return 0, statusBadArgument
	}
	m, ok := r.byID[id]
	if !ok {
		return 0, statusNotFound
	}
	return m.value, statusOK
}

func (r *metricRegistry) lookup(kind uint32, name string) (*metric, bool) {
	id, ok := r.byName[metricKey{kind, name}]
	if !ok {
		return nil, false
	}
	return r.byID[id], true
}

// proxyDefineMetric implements proxy_define_metric(type, name_ptr,
// name_size, id_ptr).
func proxyDefineMetric(vm *VM, stack []uint64) uint32 {
	kind := u32(stack, 0)
	if kind > metricHistogram {
		return statusBadArgument
	}
	name, ok := vm.readString(u32(stack, 1), u32(stack, 2))
	if !ok {
		return statusInvalidMemoryAccess
	}
	if !vm.putU32(u32(stack, 3), vm.h.metrics.define(kind, name)) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// proxyIncrementMetric implements proxy_increment_metric(id, i64 offset).
func proxyIncrementMetric(vm *VM, stack []uint64) uint32 {
	return vm.h.metrics.increment(u32(stack, 0), int64(stack[1]))
}

// proxyRecordMetric implements proxy_record_metric(id, u64 value).
func proxyRecordMetric(vm *VM, stack []uint64) uint32 {
	return vm.h.metrics.record(u32(stack, 0), stack[1])
}

// proxyGetMetric implements proxy_get_metric(id, value_ptr).
func proxyGetMetric(vm *VM, stack []uint64) uint32 {
	v, st := vm.h.metrics.get(u32(stack, 0))
	if st != statusOK {
		return st
	}
	if !vm.putU64(u32(stack, 1), v) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// Metric returns the value of the metric the filter defined under name: a
// counter's or gauge's value, or a histogram's number of samples. Counters
// are looked up first, then gauges, then histograms.
func (h *Host) Metric(name string) (uint64, bool) {
	h.metrics.mu.Lock()
	defer h.metrics.mu.Unlock()
	for _, kind := range []uint32{metricCounter, metricGauge} {
		if m, ok := h.metrics.lookup(kind, name); ok {
			return m.value, true
		}
	}
	if m, ok := h.metrics.lookup(metricHistogram, name); ok {
		return m.count, true
	}
	return 0, false
}

// Histogram returns the last (at most 1000) samples recorded in the
// histogram the filter defined under name.
func (h *Host) Histogram(name string) ([]uint64, bool) {
	h.metrics.mu.Lock()
	defer h.metrics.mu.Unlock()
	m, ok := h.metrics.lookup(metricHistogram, name)
	if !ok {
		return nil, false
	}
	return append([]uint64(nil), m.samples...), true
}
