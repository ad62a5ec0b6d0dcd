// Package clientmeta holds the rules for OAuth client metadata (RFC 7591
// §2, OpenID Connect Dynamic Client Registration 1.0 §2, OAuth 2.1 §2.3.1,
// RFC 8252 §7) that mcpgate applies to every client alike: dynamically
// registered ones, those described by a Client ID Metadata Document, and
// those pre-registered in the configuration. Each path parses its own
// document and calls these functions for each field, so that a value one
// path refuses is refused by all.
//
// Messages returned by the checks are safe to show to the client: they
// never echo the value checked.
//
// The package is pure: functions of strings, no I/O, no state.
package clientmeta
