package main

// metric is a host metric's id (proxy_define_metric).
type metric uint32

// Metric types of the proxy-wasm ABI (proxy_define_metric's metric_type).
const (
	metricCounter uint32 = 0
	metricGauge   uint32 = 1
)
