package authcore

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/httpcache"
	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

// The sans-I/O Client ID Metadata Document fetch (CIMD draft §4; MCP 2026-07-28 "Client ID Metadata Documents").
//
//	fetchCIMD(url)
//	  ├─ URL rules (internal/netguard), host policy   → invalid_client, no I/O
//	  ├─ per-VM cache hit                             → the document
//	  ├─ a fetch of the same URL in flight            → Wait (cimd_inflight.go)
//	  ├─ per-URL rate limit (sliding minute)          → temporarily_unavailable
//	  └─ egressGet
//	       pinned mode:
//	         Call DoH A, Call DoH AAAA on doh_cluster (doh.go)
//	         every answer vetted (internal/netguard)  → invalid_client if any is special-use
//	         Call GET on egress_cluster (ORIGINAL_DST, use_http_header):
//	           x-envoy-original-dst-host: <vetted ip>:<port>   (the connection goes there)
//	           :authority: <host>[:port]                     (TLS SNI and certificate check)
//	       forward_proxy mode:
//	         Call GET on forward_proxy_cluster, :authority host[:port]; nothing vetted
//	       response: only 200 (3xx never followed), identity encoding, JSON media
//	       type, content-length and body within max_bytes, within the timeout
//	  parse and validate (cimd_doc.go); cache for the HTTP freshness lifetime
//	  clamped to [cache_min, cache_max] (internal/httpcache); errors never cached.
//
// The pinned connection is what defeats DNS rebinding: Envoy connects to the
// address mcpgate vetted, whatever a second resolution would say; the host
// name only travels as :authority, for SNI (auto_sni) and certificate
// verification (auto_san_validation) on the egress cluster.
//
// Forward-proxy mode risk: the dynamic forward proxy cluster resolves the
// host with Envoy's resolver and connects wherever the answer points, so
// mcpgate vets nothing after the URL string; an attacker's host that
// resolves to 10.0.0.1, 127.0.0.1 or 169.254.169.254 is reached. Operators
// choose it only when the network enforces egress (an egress gateway or
// firewall that refuses private, loopback, link-local and metadata
// destinations from Envoy).

// cimdClientError is the error for a client metadata document that cannot
// be used: invalid_client, shown on the authorization error page, never
// redirected. desc is safe to show; cause is only logged.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func cimdClientError(desc string, cause error) *Error {
	return &Error{Code: ErrCodeInvalidClient, Status: 401, Description: desc, Cause: cause}
}

// cimdUnavailable is the error for a fetch that cannot be attempted now
// (rate limit, resolver failure): temporarily_unavailable.
func cimdUnavailable(desc string, cause error) *Error {
	return &Error{Code: ErrCodeTemporarilyUnavailable, Status: 503, Description: desc, Cause: cause}
}

// flightBudget is how long a fetch may take before its waiters give up
// on its leader: every call's timeout, plus grace.
func (c *CIMDConfig) flightBudget() time.Duration {
	calls := 3 // DoH A, DoH AAAA, the document
	if c.Mode == CIMDModeForwardProxy {
		calls = 1
	}
	return time.Duration(calls)*c.Timeout + cimdFlightGrace
}

// fetchCIMD resolves the client metadata document at rawURL and calls then
// with a copy of it, or with an error for the authorization error page.
// It returns at once (cache hit, refusal), or a [Call] whose Resume chain
// ends in then, or a [Wait] when another request is already fetching the
// same URL.
func (e *Engine) fetchCIMD(rawURL string, then func(*CIMDDocument, *Error) Outcome) Outcome {
	cfg := &e.cfg.CIMD
	if !cfg.Enabled {
		return then(nil, cimdClientError("client metadata documents are not supported by this server", nil))
	}
	u, err := cfg.vetURL(rawURL, true)
	if err != nil {
		return then(nil, cimdClientError("the client_id is not an acceptable client metadata document URL: "+cimdRuleDetail(err), err))
	}
	now := e.now()
	s := &e.cimd
	s.mu.Lock()
	if doc := s.cacheGet(rawURL, now); doc != nil {
		s.mu.Unlock()
		return then(doc.clone(), nil)
	}
	var inherited []uint64
	if f := s.flights[rawURL]; f != nil {
		if now.Before(f.deadline) {
			t := s.park(f, rawURL, then)
			s.mu.Unlock()
			if t == 0 {
				return then(nil, cimdUnavailable("too many authorizations are waiting for this client metadata document; try again", nil))
			}
			return Wait{Ticket: t}
		}
		// The leader is overdue: lead a new fetch and take its waiters.
		inherited, f.waiters = f.waiters, nil
		delete(s.flights, rawURL)
	}
	if !s.rateAllow(rawURL, now, cfg.FetchRatePerMinute) {
		throttled := cimdUnavailable("this client metadata document was fetched too often; try again in a minute", nil)
		s.land(rawURL, &cimdFlight{waiters: inherited}, nil, throttled)
		s.mu.Unlock()
		e.log(LogWarn, "cimd: fetch of "+rawURL+" throttled (fetch_rate_per_minute)")
		return then(nil, throttled)
	}
	f := &cimdFlight{deadline: now.Add(cfg.flightBudget()), waiters: inherited}
	if s.flights == nil {
		s.flights = map[string]*cimdFlight{}
	}
	s.flights[rawURL] = f
	s.mu.Unlock()

	return e.fetchCIMDDocument(u, func(doc *CIMDDocument, ferr *Error) Outcome {
		if ferr != nil {
			msg := "cimd: " + rawURL + ": " + ferr.Description
			if ferr.Cause != nil {
				msg += " (" + ferr.Cause.Error() + ")"
			}
			e.log(LogInfo, msg)
		}
		s.mu.Lock()
		if doc != nil && !doc.FreshUntil.IsZero() {
			s.cachePut(rawURL, doc, doc.FreshUntil)
		}
		s.land(rawURL, f, doc, ferr)
		s.mu.Unlock()
		if doc != nil {
			doc = doc.clone()
		}
		return then(doc, ferr)
	})
}

// fetchCIMDDocument performs the fetch itself (no cache, no sharing) and
// validates the document.
func (e *Engine) fetchCIMDDocument(u *netguard.URL, then func(*CIMDDocument, *Error) Outcome) Outcome {
	cfg := &e.cfg.CIMD
	return e.egressGetJSON(u, "client metadata document", cfg.MaxBytes, func(body []byte, h Header, at time.Time, ferr *Error) Outcome {
		if ferr != nil {
			return then(nil, ferr)
		}
		doc, err := parseCIMDDocument(u.Raw, body)
		if err != nil {
			return then(nil, cimdClientError("the client metadata document is not acceptable: "+err.Error(), err))
		}
		if len(doc.Dropped) > 0 {
			e.log(LogInfo, "cimd: "+u.Raw+": ignored malformed members "+strings.Join(doc.Dropped, ", "))
		}
		doc.FetchedAt = at
		if fr := cacheFreshness(h, at, cfg.CacheMin, cfg.CacheMax); fr.Store {
			doc.FreshUntil = at.Add(fr.TTL)
		}
		return then(doc, nil)
	})
}

// egressGetJSON fetches a JSON document from a vetted URL through the
// configured egress (pinned or forward proxy) and applies the response
// rules. what names the document in error descriptions. It is shared by
// every fetch of a URL chosen by a client (the metadata document, and
// later its jwks_uri).
func (e *Engine) egressGetJSON(u *netguard.URL, what string, maxBytes int, then func(body []byte, h Header, at time.Time, err *Error) Outcome) Outcome {
	cfg := &e.cfg.CIMD
	if cfg.Mode == CIMDModeForwardProxy {
		return e.egressCall(cfg.ForwardProxyCluster, u, nil, what, maxBytes, then)
	}
	return e.resolveHost(u.Host, func(r *dohResult, derr *Error) Outcome {
		if derr != nil {
			return then(nil, nil, time.Time{}, derr)
		}
		for _, a := range r.All {
			reason, ok, loopback := netguard.AddrAllowed(a, cfg.AllowLoopbackForTests)
			if !ok {
				e.log(LogWarn, "cimd: refusing "+u.Raw+": "+u.Host+" resolves to "+a.String()+", "+reason)
				return then(nil, nil, time.Time{}, cimdClientError("the "+what+" host resolves to an address that is not allowed", nil))
			}
			if loopback {
				e.log(LogWarn, "cimd: TEST-ONLY allow_loopback_for_tests: "+u.Host+" resolves to loopback "+a.String()+"; fetching "+u.Raw+" anyway")
			}
		}
		// Use lists the A answers before the AAAA ones: IPv4 is preferred,
		// as most egress paths have it.
		dst := netip.AddrPortFrom(r.Use[0], uint16(u.Port)).String()
		return e.egressCall(cfg.EgressCluster, u, Header{{"x-envoy-original-dst-host", dst}}, what, maxBytes, then)
	})
}

// egressCall is the GET itself and the response rules.
func (e *Engine) egressCall(cluster string, u *netguard.URL, extra Header, what string, maxBytes int, then func([]byte, Header, time.Time, *Error) Outcome) Outcome {
	cfg := &e.cfg.CIMD
	start := e.now()
	h := append(extra, Header{{"accept", "application/json"}, {"accept-encoding", "identity"}}...)
	return Call{
		Cluster:   cluster,
		Method:    "GET",
		Authority: u.Authority,
		Path:      u.PathQuery,
		Headers:   h,
		Timeout:   cfg.Timeout,
		Resume: func(r CallResult) Outcome {
			at := e.now()
			if ferr := checkEgressResponse(r, what, maxBytes, at.Sub(start), cfg.Timeout); ferr != nil {
				return then(nil, nil, at, ferr)
			}
			return then(r.Body, r.Headers, at, nil)
		},
	}
}

// checkEgressResponse applies the response rules of CIMD-01 §4 and §6.6 to the
// result of a document GET that took elapsed.
func checkEgressResponse(r CallResult, what string, maxBytes int, elapsed, timeout time.Duration) *Error {
	the := "the " + what
	switch {
	case r.Err != nil:
		return cimdClientError(the+" could not be fetched (connection failed or timed out)", r.Err)
	case elapsed > timeout || r.Status == 504 && elapsed >= timeout:
		// Envoy answers a callout that outlives its timeout with its own
		// 504 "upstream request timeout" (the host said nothing).
		return cimdClientError(the+" could not be fetched within "+timeout.String(), nil)
	case r.Status == 503:
		// Envoy's own answer when the host cannot be reached (connection
		// refused or reset, TLS failure), or the host's own 503.
		return cimdClientError(the+" could not be fetched (HTTP 503: the host could not be reached or is unavailable)", nil)
	case r.Status >= 300 && r.Status < 400:
		return cimdClientError(the+" URL answered HTTP "+itoa(r.Status)+"; redirects are not followed", nil)
	case r.Status != 200:
		return cimdClientError(the+" URL answered HTTP "+itoa(r.Status), nil)
	}
	for _, v := range r.Headers.Values("content-encoding") {
		if !strings.EqualFold(strings.TrimSpace(v), "identity") {
			return cimdClientError(the+" was sent with a content-encoding; only uncompressed documents are accepted", nil)
		}
	}
	too := cimdClientError(the+" is larger than "+itoa(maxBytes)+" bytes", nil)
	if len(r.Body) > maxBytes {
		return too
	}
	for _, v := range r.Headers.Values("content-length") {
		v = strings.TrimSpace(v)
		n, err := strconv.ParseUint(v, 10, 63)
		switch {
		case v == "" || strings.Trim(v, "0123456789") != "" || err != nil:
			return cimdClientError(the+" has an invalid content-length", nil)
		case n > uint64(maxBytes):
			return too
		case n != uint64(len(r.Body)):
			return cimdClientError(the+" was truncated (content-length does not match the body)", nil)
		}
	}
	mt := cimdMediaType(r.Headers)
	if mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return cimdClientError(the+" is not served as JSON (content-type application/json)", nil)
	}
	return nil
}

// cacheFreshness decides how long a fetched document may be kept
// ([httpcache.Freshness]: RFC 9111, a private cache that never revalidates).
func cacheFreshness(h Header, now time.Time, min, max time.Duration) httpcache.Decision {
	return httpcache.Freshness(h, now, min, max)
}
