package authcore

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/dnsmsg"
)

// DNS over HTTPS (RFC 8484) for the CIMD fetcher's pinned mode: the
// queries are Calls on the resolver cluster; the wire format and the strict
// reading of answers are package dnsmsg's, the vetting of every address
// package netguard's.

// dohResult is what resolveHost hands on: the addresses to connect to and
// every address seen, for vetting.
type dohResult struct {
	// Use lists the A then AAAA addresses of the host.
	Use []netip.Addr
	// All lists every A and AAAA address in both answers.
	All []netip.Addr
	// TTL is the smallest TTL of the records used.
	TTL uint32
}

// resolveHost resolves host through the DoH cluster: an A query, then an
// AAAA query, each a [Call]. An NXDOMAIN answer to the A query ends the
// resolution. Failures are *Error values ready for the error page.
func (e *Engine) resolveHost(host string, then func(*dohResult, *Error) Outcome) Outcome {
	res := &dohResult{TTL: 1<<32 - 1}
	return e.dohQuery(host, dnsmsg.TypeA, func(a *dnsmsg.Answer, err error) Outcome {
		if errors.Is(err, dnsmsg.ErrNoSuchHost) {
			return then(nil, cimdClientError("the client metadata document host does not exist", err))
		}
		if err != nil {
			return then(nil, cimdUnavailable("the client metadata document host could not be resolved", err))
		}
		res.add(a)
		return e.dohQuery(host, dnsmsg.TypeAAAA, func(aaaa *dnsmsg.Answer, err error) Outcome {
			if errors.Is(err, dnsmsg.ErrNoSuchHost) {
				return then(nil, cimdClientError("the client metadata document host does not exist", err))
			}
			if err != nil {
				return then(nil, cimdUnavailable("the client metadata document host could not be resolved", err))
			}
			res.add(aaaa)
			if len(res.Use) == 0 {
				return then(nil, cimdClientError("the client metadata document host has no address", nil))
			}
			return then(res, nil)
		})
	})
}

func (r *dohResult) add(a *dnsmsg.Answer) {
	r.Use = append(r.Use, a.Addrs...)
	r.All = append(r.All, a.Addrs...)
	r.All = append(r.All, a.Others...)
	if len(a.Addrs) > 0 && a.TTL < r.TTL {
		r.TTL = a.TTL
	}
}

// dohQuery performs one RFC 8484 GET on the DoH cluster and parses the
// answer.
func (e *Engine) dohQuery(host string, qtype dnsmsg.Type, then func(*dnsmsg.Answer, error) Outcome) Outcome {
	cfg := &e.cfg.CIMD
	path, err := dnsmsg.QueryPath(cfg.DoHPath, host, qtype)
	if err != nil {
		return then(nil, err)
	}
	start := e.now()
	return Call{
		Cluster:   cfg.DoHCluster,
		Method:    "GET",
		Authority: cfg.DoHAuthority,
		Path:      path,
		Headers:   Header{{"accept", "application/dns-message"}},
		Timeout:   cfg.Timeout,
		Resume: func(r CallResult) Outcome {
			switch {
			case r.Err != nil:
				return then(nil, errors.New("doh: call failed: "+r.Err.Error()))
			case e.now().Sub(start) > cfg.Timeout:
				return then(nil, errors.New("doh: answer came after the timeout"))
			case r.Status != 200:
				return then(nil, errors.New("doh: resolver answered status "+itoa(r.Status)))
			case cimdMediaType(r.Headers) != "application/dns-message":
				return then(nil, errors.New("doh: resolver answered content-type "+quote(r.Headers.Get("content-type"))))
			}
			a, err := dnsmsg.Parse(r.Body, host, qtype)
			return then(a, err)
		},
	}
}

// cimdMediaType returns the lower-case media type of the single content-type
// header, without parameters; "" when absent or repeated.
func cimdMediaType(h Header) string {
	if h.Count("content-type") != 1 {
		return ""
	}
	t, _, _ := strings.Cut(h.Get("content-type"), ";")
	return strings.ToLower(strings.TrimSpace(t))
}
