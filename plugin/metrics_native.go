//go:build !wasm

package main

import "github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"

// defineMetric defines a metric through the SDK (the native build runs on
// the SDK's emulator, whose host calls are Go functions).
func defineMetric(kind uint32, name string) (metric, bool) {
	if name == "" {
		return 0, false
	}
	if kind == metricGauge {
		return metric(proxywasm.DefineGaugeMetric(name)), true
	}
	return metric(proxywasm.DefineCounterMetric(name)), true
}

// add adds n to the metric (counters and gauges alike take the host's
// increment).
func (m metric) add(n int64) { proxywasm.MetricGauge(m).Add(n) }
