// Package envoy holds mcpgate's Envoy configuration: the bootstrap used by
// docker-compose.yml (envoy.yaml), its dynamic-forward-proxy variant
// (envoy-dfp.yaml), the plugin configuration they embed
// (mcpgate-config.json), and an Istio WasmPlugin manifest (istio/).
//
// The package has no code. Its tests check the YAML offline against Envoy's
// own protos (go-control-plane) and against the repository's other files.
package envoy
