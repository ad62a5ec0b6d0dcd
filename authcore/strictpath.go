package authcore

import "strings"

// A request path that is not a guarded resource's but differs from it only
// in ways that some upstream servers ignore would reach such an upstream
// unguarded: "/MCP" on a server that folds case, "/mcp;x" or "/mcp%3Bx" on
// one that strips path parameters (RFC 3986 §3.3 allows ";" parameters in
// segments, which Tomcat and Spring drop before routing), "/mcp%00" on one
// that stops at NUL, "/mcp%23x" on one that decodes "#" and drops a
// fragment, "/mcp." or "/mcp%20" on one that trims trailing dots and spaces
// (Windows file systems). mcpgate refuses such near misses with 400 rather
// than guess; an upstream that really matches paths case-insensitively
// gets case variants guarded instead (resources[].case_insensitive_path).

// nearPath reports whether the decoded, dot-segment-free path p begins,
// segment by segment, with the segments of resource path rp after each of
// p's segments is cut at ";", "#" or NUL, stripped of trailing dots and
// spaces and compared without regard to case (nearSegment). It does not
// allocate.
func nearPath(p, rp string) bool {
	for rp != "" {
		if p == "" || p[0] != '/' || rp[0] != '/' {
			return false
		}
		p, rp = p[1:], rp[1:]
		ps, pr := cutSegment(p)
		rs, rr := cutSegment(rp)
		if !nearSegment(ps, rs) {
			return false
		}
		p, rp = pr, rr
	}
	return true
}

func cutSegment(s string) (seg, rest string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// nearSegment reports whether a request path segment could be taken for
// the resource segment rs by a lenient upstream.
func nearSegment(seg, rs string) bool {
	if i := strings.IndexAny(seg, ";#\x00"); i >= 0 {
		seg = seg[:i]
	}
	seg = strings.TrimRight(seg, ". \t")
	return strings.EqualFold(seg, rs)
}

// hasPathPrefixFold is the guard's prefix match ignoring case: p equals rp
// or continues it at a "/" boundary.
func hasPathPrefixFold(p, rp string) bool {
	return len(p) >= len(rp) && strings.EqualFold(p[:len(rp)], rp) && (len(p) == len(rp) || p[len(rp)] == '/')
}

// nearMissReply refuses a near miss of a guarded resource (never
// forwarded, guarded or not).
func (e *Engine) nearMissReply(req *Request) Outcome {
	e.count("mcpgate.guard.denied.near_miss_path")
	return e.withCORS(req, jsonError(newError(ErrCodeInvalidRequest, 400, "the request path is not a resource path but resembles one; use the exact resource path"), nil))
}
