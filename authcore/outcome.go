package authcore

import (
	"time"
)

// Header is an ordered list of HTTP header fields with lower-case names, as
// proxy-wasm hands them over. A name may appear more than once.
type Header [][2]string

// Get returns the first value of the named header (name in lower case).
func (h Header) Get(name string) string {
	for _, kv := range h {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// Values returns every value of the named header (name in lower case).
func (h Header) Values(name string) []string {
	var vs []string
	for _, kv := range h {
		if kv[0] == name {
			vs = append(vs, kv[1])
		}
	}
	return vs
}

// Count reports how many fields carry the named header.
func (h Header) Count(name string) int {
	n := 0
	for _, kv := range h {
		if kv[0] == name {
			n++
		}
	}
	return n
}

// Request is one downstream HTTP request as the filter sees it.
type Request struct {
	Method    string
	Scheme    string
	Authority string
	// Path is the request target as received: path and optional query.
	Path string
	// Headers may also hold the HTTP/2 pseudo-headers (":method"...), as
	// proxy-wasm hands them over; the engine reads only real header names.
	Headers Header
	// Body is set only after a [ReadBody] outcome asked for it.
	Body []byte
	// Source is the peer address ("ip:port"), used for rate limits.
	Source string

	// routing caches Engine.Classify for Path.
	routing routing
	// guardBody is kept for the next request by Reuse.
	guardBody *guardBody
}

// Reuse clears r for another request, keeping what the engine allocated
// in it for its own use, so that a host serving many requests with one
// Request (the filter keeps one per stream context) saves those
// allocations. r must not be in use any more: no outcome of its request
// may still be carried out.
func (r *Request) Reuse() { *r = Request{guardBody: r.guardBody} }

// path returns the path without the query, and the raw query.
func (r *Request) splitPath() (path, query string) {
	for i := 0; i < len(r.Path); i++ {
		// Not strings.Cut: a loop stays inline, Cut is four calls in wasm.
		if r.Path[i] == '?' {
			return r.Path[:i], r.Path[i+1:]
		}
	}
	return r.Path, ""
}

// Outcome is what the engine tells its host to do next. It is one of
// [Reply], [Forward], [ReadBody], [Call] or [Wait] (cimd_inflight.go).
type Outcome interface{ isOutcome() }

// Reply answers the request locally; the upstream never sees it.
type Reply struct {
	Status  int
	Headers Header
	Body    []byte
}

// Forward lets the request through to the upstream MCP server after
// removing and then setting the listed request headers.
type Forward struct {
	// Remove lists request header names (lower case) to delete.
	Remove []string
	// Set lists headers to set, replacing any existing value.
	//
	// Both slices may be shared between requests (the configuration's
	// list, a cached token's identity headers): hosts read them and must
	// not modify them.
	Set Header
}

// ReadBody asks the host to buffer the whole request body, at most Limit
// bytes, and call Resume with it. A body over the limit is the host's to
// refuse (413); Resume is then not called.
type ReadBody struct {
	Limit  int
	Resume func(body []byte) Outcome
}

// Call asks the host to perform an outbound HTTP request on the named
// cluster and feed the result to Resume.
type Call struct {
	Cluster   string
	Method    string
	Authority string
	Path      string
	Headers   Header
	Body      []byte
	Timeout   time.Duration
	Resume    func(CallResult) Outcome
}

// CallResult is the result of a [Call]. Err is set when no response came
// back (timeout, reset, unknown cluster); Status is 0 then.
type CallResult struct {
	Status  int
	Headers Header
	Body    []byte
	Err     error
}

func (Reply) isOutcome()    {}
func (Forward) isOutcome()  {}
func (ReadBody) isOutcome() {}
func (Call) isOutcome()     {}
