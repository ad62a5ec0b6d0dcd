package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// version is the build's version, set at link time:
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty)" ...
//
// (the Makefile's wasm target does this). A build without it is "dev".
var version = "dev"

// buildInfoPrefix is the name of the build-information gauge without its
// version part. Envoy files the metrics a module defines under the
// "wasmcustom" stat namespace and strips that prefix from /stats and
// /stats/prometheus, so each proxy shows
//
//	mcpgate.build_info.v1.2.3: 1                  (/stats)
//	mcpgate_build_info_v1_2_3 1                   (/stats/prometheus)
//
// A gauge (not a property) is what an operator can read from outside the
// proxy: the admin interface and every metrics scraper see it, while a
// property lives in one stream's filter state. Stat names cannot carry a
// value, so the version is part of the name, as in Prometheus' *_build_info
// convention; the value is always 1.
const buildInfoPrefix = "mcpgate.build_info."

// buildInfoMetric returns the gauge name for version v: characters other
// than letters, digits, '.', '-' and '_' become '_' (Envoy stat names are
// dot-separated tokens; a '+' or '/' from a build tag would not survive
// exporters).
func buildInfoMetric(v string) string {
	var b strings.Builder
	b.WriteString(buildInfoPrefix)
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// configDigest is the hex SHA-256 of the plugin configuration as the host
// handed it over: two proxies running the same digest run the same
// configuration.
func configDigest(config []byte) string {
	sum := sha256.Sum256(config)
	return hex.EncodeToString(sum[:])
}

// logBuild logs the version and the configuration's digest, once per VM
// at plugin start (before the configuration is parsed, so a refusal to
// start is logged with them too).
func logBuild(config []byte) {
	logInfo("mcpgate: version " + version + ", configuration sha256 " + configDigest(config))
}

// buildGauge is this VM's build-information gauge once the plugin started.
var buildGauge *metric

// countBuild adds this VM to the build-information gauge: its value is the
// number of VMs (Envoy worker threads) running this build, 0 once they
// are gone (OnPluginDone), so a rollout shows old and new builds side by
// side.
func countBuild() {
	if buildGauge != nil {
		return
	}
	g, ok := defineMetric(metricGauge, buildInfoMetric(version))
	if !ok {
		return
	}
	g.add(1)
	buildGauge = &g
}

// OnPluginDone implements types.PluginContext: the VM leaves the
// build-information gauge.
func (*pluginContext) OnPluginDone() bool {
	if buildGauge != nil {
		buildGauge.add(-1)
		buildGauge = nil
	}
	return true
}
