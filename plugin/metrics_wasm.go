//go:build wasm

package main

import "unsafe"

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(kind uint32, nameData *byte, nameSize int32, returnID *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

// defineMetric defines the counter (metricCounter) or gauge (metricGauge)
// called name. It makes the host call itself: the SDK's metric functions
// panic on a host error, formatting it with fmt, which nothing else in the
// filter links (issue 14); a metric the host refuses is simply not kept.
func defineMetric(kind uint32, name string) (metric, bool) {
	if name == "" {
		return 0, false
	}
	ok := proxyDefineMetric(kind, unsafe.StringData(name), int32(len(name)), &out.id) == 0 // out: abi_wasm.go
	return metric(out.id), ok
}

// add adds n to the metric; a host error is ignored.
func (m metric) add(n int64) { proxyIncrementMetric(uint32(m), n) }
