// Package authcore is the flow logic of mcpgate: the MCP authorization spec
// (2025-06-18 through 2026-07-28) for an OAuth authorization server and the
// protected MCP resources behind it.
//
// authcore is sans-I/O. [Engine.Handle] takes a parsed [Request] and returns an
// [Outcome] that tells the caller what to do next: answer locally ([Reply]),
// let the request through with header edits ([Forward]), read the request
// body first ([ReadBody]), or perform an outbound call and feed its result to
// a resume step ([Call]). Time, randomness and storage are injected, so the
// same engine runs inside the proxy-wasm filter (package plugin) and natively
// behind a net/http adapter ([Engine.ServeHTTP] is one such adapter, for
// tests and for reuse in native Go servers).
//
// authcore imports only the standard library and github.com/tidwall/gjson; a
// test enforces it.
package authcore
