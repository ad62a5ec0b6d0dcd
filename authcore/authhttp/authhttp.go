// Package authhttp runs an [authcore.Engine] natively behind net/http: the
// same engine the proxy-wasm filter runs, for tests and for reuse in native
// Go servers. It plays the host's part: it buffers bodies, performs
// outbound calls on named clusters and forwards allowed requests.
package authhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
)

// Handler serves requests through an engine.
type Handler struct {
	Engine *authcore.Engine
	// Next receives the requests the engine lets through (the MCP server,
	// or a reverse proxy to it). Nil answers 404 for them.
	Next http.Handler
	// Clusters maps a cluster name to the base URL its calls go to.
	Clusters map[string]string
	// Client performs outbound calls; default a client that follows no
	// redirects.
	Client *http.Client

	mu      sync.Mutex
	parked  map[uint64]chan struct{} // tickets of requests waiting (authcore.Wait)
	readied map[uint64]bool          // woken before their request parked
}

// wake signals every parked request the engine says can continue.
func (h *Handler) wake() {
	tickets := h.Engine.Woken()
	if len(tickets) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range tickets {
		if ch, ok := h.parked[t]; ok {
			delete(h.parked, t)
			close(ch)
			continue
		}
		if h.readied == nil {
			h.readied = map[uint64]bool{}
		}
		h.readied[t] = true
	}
}

// park blocks until ticket is woken (or the request ends), polling the
// engine periodically so that a fetch whose leader vanished is given up.
func (h *Handler) park(ctx context.Context, ticket uint64) bool {
	h.mu.Lock()
	if h.readied[ticket] {
		delete(h.readied, ticket)
		h.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	if h.parked == nil {
		h.parked = map[uint64]chan struct{}{}
	}
	h.parked[ticket] = ch
	h.mu.Unlock()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ch:
			return true
		case <-tick.C:
			h.wake()
		case <-ctx.Done():
			h.mu.Lock()
			delete(h.parked, ticket)
			h.mu.Unlock()
			h.Engine.Cancel(ticket)
			return false
		}
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &authcore.Request{
		Method:    r.Method,
		Scheme:    "http",
		Authority: r.Host,
		Path:      r.URL.RequestURI(),
		Source:    r.RemoteAddr,
	}
	if r.TLS != nil {
		req.Scheme = "https"
	}
	for name, vs := range r.Header {
		for _, v := range vs {
			req.Headers = append(req.Headers, [2]string{strings.ToLower(name), v})
		}
	}
	var body []byte
	o := h.Engine.Handle(req)
	for {
		switch out := o.(type) {
		case authcore.Reply:
			writeReply(w, out)
			return
		case authcore.Forward:
			for _, name := range out.Remove {
				r.Header.Del(name)
			}
			for _, kv := range out.Set {
				r.Header.Set(kv[0], kv[1])
			}
			if body != nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
			}
			if h.Next == nil {
				http.NotFound(w, r)
				return
			}
			h.Next.ServeHTTP(w, r)
			return
		case authcore.ReadBody:
			b, err := io.ReadAll(io.LimitReader(r.Body, int64(out.Limit)+1))
			if err != nil {
				writeReply(w, authcore.ServerError())
				return
			}
			if len(b) > out.Limit {
				writeReply(w, authcore.PayloadTooLarge(out.Limit))
				return
			}
			body = b
			o = out.Resume(b)
		case authcore.Call:
			o = out.Resume(h.call(r.Context(), out))
			h.wake()
		case authcore.Wait:
			if !h.park(r.Context(), out.Ticket) {
				return
			}
			o = h.Engine.Continue(out.Ticket)
		default:
			writeReply(w, authcore.ServerError())
			return
		}
	}
}

func writeReply(w http.ResponseWriter, rep authcore.Reply) {
	for _, kv := range rep.Headers {
		w.Header().Add(kv[0], kv[1])
	}
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body) // the client hung up: nothing to do
}

// call performs c like Envoy's http_call: on the cluster's base URL, no
// redirects, with the call's timeout.
func (h *Handler) call(ctx context.Context, c authcore.Call) authcore.CallResult {
	base, ok := h.Clusters[c.Cluster]
	if !ok {
		return authcore.CallResult{Err: errors.New("authhttp: unknown cluster " + c.Cluster)}
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, base+c.Path, bytes.NewReader(c.Body))
	if err != nil {
		return authcore.CallResult{Err: err}
	}
	req.Host = c.Authority
	for _, kv := range c.Headers {
		req.Header.Add(kv[0], kv[1])
	}
	client := h.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	res, err := client.Do(req)
	if err != nil {
		return authcore.CallResult{Err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return authcore.CallResult{Err: err}
	}
	out := authcore.CallResult{Status: res.StatusCode, Body: b}
	for name, vs := range res.Header {
		for _, v := range vs {
			out.Headers = append(out.Headers, [2]string{strings.ToLower(name), v})
		}
	}
	return out
}
