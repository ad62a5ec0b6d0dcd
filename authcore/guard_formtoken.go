package authcore

import "strings"

// RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the
// token in each request." A request to a resource that carries a bearer
// token in the Authorization header (§2.1) and also an access_token field
// in a form-encoded body (§2.2) is therefore malformed: it is refused with
// 400 invalid_request (§3.1: "The request is missing a required parameter,
// ... uses more than one method for including an access token, or is
// otherwise malformed"), never forwarded.
//
// Only a body that can be a §2.2 form is read: §2.2 requires the
// "Content-Type" header "application/x-www-form-urlencoded" and a method
// with defined body semantics, so JSON-RPC traffic (application/json) never
// pays for this check.

// guard enforces bearer-token authorization on a request to resource r; a
// form-encoded body is first checked for a second token ([Engine.guardBearer]
// does the rest).
func (e *Engine) guard(req *Request, r *Resource) Outcome {
	if req.Method == "GET" || req.Method == "HEAD" || req.Method == "OPTIONS" || !maybeFormBody(req.Headers) {
		return e.guardBearer(req, r)
	}
	return ReadBody{Limit: r.MaxBodyBytes, Resume: func(body []byte) Outcome {
		if queryHasParam(string(body), "access_token") {
			return e.deny(req, r, denyInvalidRequest, 400, ErrCodeInvalidRequest, "the access token must be sent in the Authorization header only, not also in the body", nil)
		}
		return feedBody(e.guardBearer(req, r), body)
	}}
}

// maybeFormBody reports whether a request with an Authorization header
// declares a form-encoded body; the cheap prefix test spares the media type
// parser on JSON-RPC traffic.
func maybeFormBody(h Header) bool {
	const form = "application/x-www-form-urlencoded"
	ct := h.Get("content-type")
	return len(ct) >= len(form) && strings.EqualFold(ct[:len(form)], form) &&
		isFormContentType(ct) && h.Count("authorization") > 0
}

// feedBody answers, with the body already read, a [ReadBody] that o or any
// outcome it leads to asks for: the host reads a body only once.
func feedBody(o Outcome, body []byte) Outcome {
	switch x := o.(type) {
	case ReadBody:
		if len(body) > x.Limit {
			return PayloadTooLarge(x.Limit)
		}
		return feedBody(x.Resume(body), body)
	case Call:
		resume := x.Resume
		x.Resume = func(res CallResult) Outcome { return feedBody(resume(res), body) }
		return x
	}
	return o
}
