package authcore

import (
	"strconv"
)

// jsonReply is a JSON reply that must not be stored by caches.
func jsonReply(status int, body []byte, extra Header) Reply {
	h := Header{
		{"content-type", "application/json"},
		{"cache-control", "no-store"},
	}
	return Reply{Status: status, Headers: append(h, extra...), Body: body}
}

// jsonError renders e as the RFC 6749 §5.2 JSON error body.
func jsonError(e *Error, extra Header) Reply {
	b := make([]byte, 0, 96)
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, e.Code)
	if e.Description != "" {
		b = append(b, `,"error_description":`...)
		b = appendJSONString(b, e.Description)
	}
	b = append(b, "}\n"...)
	status := e.Status
	if status == 0 {
		status = 400
	}
	return jsonReply(status, b, extra)
}

// jsonPlain marks the bytes appendJSONString copies as they are.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c != 0x7f
	}
	return t
}()

// appendJSONString appends s as a JSON string literal, escaping what RFC
// 8259 requires plus <, > and & so the value is also safe inside HTML.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	// Runs of bytes that need no escape are copied at once: byte by byte
	// append costs an audit line a microsecond in wasm.
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonPlain[c] {
			// One table load per byte, where the switch below is eight
			// comparisons: the scan was most of an audit line in wasm.
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(append(b, s[start:i]...), '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
			b = append(append(b, s[start:i]...), '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			continue
		}
		start = i + 1
	}
	return append(append(b, s[start:]...), '"')
}

// withCORS adds the cross-origin response headers for req's Origin to a
// reply from a discovery or AS endpoint.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (e *Engine) withCORS(req *Request, r Reply) Reply {
	r.Headers = append(r.Headers, e.corsHeaders(req)...)
	return r
}

func (e *Engine) corsHeaders(req *Request) Header {
	origins := e.cfg.CORS.AllowedOrigins
	if len(origins) == 0 {
		return nil
	}
	if origins[0] == "*" {
		return Header{{"access-control-allow-origin", "*"}, {"access-control-expose-headers", "www-authenticate"}}
	}
	origin := req.Headers.Get("origin")
	for _, o := range origins {
		if o == "*" || o == origin {
			return Header{{"access-control-allow-origin", origin}, {"vary", "origin"}, {"access-control-expose-headers", "www-authenticate"}}
		}
	}
	return Header{{"vary", "origin"}}
}

// preflight answers a CORS preflight (OPTIONS) request for a path the
// engine owns; it is never challenged.
func (e *Engine) preflight(req *Request, methods string) Outcome {
	h := Header{
		{"allow", methods + ", OPTIONS"},
		{"access-control-allow-methods", methods + ", OPTIONS"},
		{"access-control-allow-headers", "authorization, content-type, mcp-protocol-version, mcp-session-id, mcp-method, mcp-name, last-event-id"},
		{"access-control-max-age", "86400"},
	}
	return Reply{Status: 204, Headers: append(h, e.corsHeaders(req)...)}
}

func (e *Engine) notFound(req *Request) Outcome {
	return e.withCORS(req, jsonError(newError("not_found", 404, "no document at this path"), nil))
}

// ServerError is the reply for an internal failure: 500 server_error, with
// nothing of the cause.
func ServerError() Reply {
	return jsonError(newError(ErrCodeServerError, 500, "internal error"), nil)
}

// PayloadTooLarge is the reply for a request body over limit bytes.
func PayloadTooLarge(limit int) Reply {
	return jsonError(newError(ErrCodeInvalidRequest, 413, "request body larger than "+itoa(limit)+" bytes"), nil)
}
