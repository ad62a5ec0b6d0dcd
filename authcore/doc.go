// Package authcore is the flow logic of mcpgate: the MCP authorization spec
// (2025-06-18 through 2026-07-28) for an OAuth authorization server and the
// protected MCP resources behind it.
//
// authcore is sans-I/O. [Engine.Handle] takes a parsed [Request] and returns an
// [Outcome] that tells the caller what to do next: answer locally ([Reply]),
// let the request through with header edits ([Forward]), read the request
// body first ([ReadBody]), perform an outbound call and feed its result to
// a resume step ([Call]), or wait for work another request started ([Wait]).
// Time, randomness and storage ([Store]) are injected, so the same engine
// runs inside the proxy-wasm filter (package plugin) and natively behind a
// net/http adapter (package authcore/authhttp's Handler, for tests and for
// reuse in native Go servers).
//
// Comments cite the specifications by section. O21 is the OAuth 2.1 draft
// (draft-ietf-oauth-v2-1-13); CIMD is the OAuth Client ID Metadata Document
// draft (draft-ietf-oauth-client-id-metadata-document-00, which MCP pins;
// CIMD-01 is its -01 revision); "MCP 2026-07-28" is that revision of the
// MCP specification's authorization pages, cited by section title.
//
// authcore imports only the standard library and its own leaves under
// internal/ (pure functions of bytes; the DNS leaf uses
// golang.org/x/net/dns/dnsmessage); a test enforces it. JSON is read with
// the jsonv leaf, after the strictjson leaf has checked text that comes
// from an attacker.
package authcore
