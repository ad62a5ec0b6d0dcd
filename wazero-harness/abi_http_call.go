package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// calloutResponse is what proxy_on_http_call_response can read through the
// HttpCallResponse* header maps and body buffer.
type calloutResponse struct {
	headers  headerMap // starts with :status
	body     []byte
	trailers headerMap
}

// proxyHTTPCall implements proxy_http_call(cluster_ptr, cluster_size,
// headers_ptr, headers_size, body_ptr, body_size, trailers_ptr,
// trailers_size, timeout_ms, callout_id_ptr). As in Envoy: an unknown
// cluster or headers without :method, :path and :authority are
// BadArgument; the call belongs to the root context and its response is
// delivered with proxy_on_http_call_response(root, id, ...) even if the
// stream that made it is gone; a failure or timeout is delivered with zero
// headers, body and trailers. Redirects are not followed. Timeout 0 means
// no timeout. Trailers are not sent. An original-dst cluster connects to
// the address in x-envoy-original-dst-host (cluster.go).
func proxyHTTPCall(vm *VM, stack []uint64) uint32 {
	name, ok1 := vm.readString(u32(stack, 0), u32(stack, 1))
	rawHeaders, ok2 := vm.read(u32(stack, 2), u32(stack, 3))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	pairs, err := decodePairs(rawHeaders)
	if err != nil {
		return statusBadArgument
	}
	body, ok := vm.readCopy(u32(stack, 4), u32(stack, 5))
	if !ok {
		return statusInvalidMemoryAccess
	}
	c, found := vm.h.clusters[name]
	if !found {
		vm.h.log(vm.index, LevelDebug, fmt.Sprintf("harness: proxy_http_call to unknown cluster %q: BadArgument", name))
		return statusBadArgument
	}
	var hm headerMap
	hm.set(pairs)
	for _, required := range []string{":method", ":path", ":authority"} {
		if v, ok := hm.get(required); !ok || v == "" {
			return statusBadArgument
		}
	}
	vm.nextCallout++
	id := vm.nextCallout
	if !vm.putU32(u32(stack, 9), id) {
		return statusInvalidMemoryAccess
	}
	if !vm.h.bg.start() {
		return statusInternalFailure
	}
	timeout := time.Duration(u32(stack, 8)) * time.Millisecond
	go func() {
		defer vm.h.bg.finish()
		resp, err := c.do(vm.h.bgCtx, hm, body, timeout)
		switch {
		case err != nil && resp != nil:
			vm.h.log(vm.index, LevelDebug, fmt.Sprintf("harness: callout %d to cluster %q: local reply %s: %v", id, name, resp.headers[0][1], err))
		case err != nil:
			vm.h.log(vm.index, LevelDebug, fmt.Sprintf("harness: callout %d to cluster %q failed: %v", id, name, err))
		}
		vm.deliverCallout(id, resp)
	}()
	return statusOK
}

// deliverCallout calls proxy_on_http_call_response under the VM lock; resp
// nil is a failure.
func (vm *VM) deliverCallout(id uint32, resp *calloutResponse) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.h.closing.Load() {
		return
	}
	vm.effective = vm.rootID
	var nh, nb, nt int
	if resp != nil {
		nh, nb, nt = len(resp.headers), len(resp.body), len(resp.trailers)
	}
	vm.callout = resp
	_, _ = vm.callLocked("proxy_on_http_call_response", vm.fn.httpCallResponse,
		uint64(vm.rootID), uint64(id), uint64(nh), uint64(nb), uint64(nt))
	vm.callout = nil
}

// hopByHop lists headers a proxy does not forward.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true, "te": true, "host": true,
	"content-length": true,
}

// newOutboundRequest builds a request to base from a proxy-wasm header map:
// :method, :path (request URI), :authority (Host); pseudo and hop-by-hop
// headers are dropped; Go's default User-Agent is suppressed.
func newOutboundRequest(ctx context.Context, base *url.URL, hm headerMap, body []byte) (*http.Request, error) {
	method, _ := hm.lookup(":method")
	path, _ := hm.lookup(":path")
	authority, _ := hm.lookup(":authority")
	if method == "" {
		method = http.MethodGet
	}
	if path == "" {
		path = "/"
	}
	ref, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("harness: invalid :path %q: %w", path, err)
	}
	u := &url.URL{Scheme: base.Scheme, Host: base.Host, Path: ref.Path, RawPath: ref.RawPath, RawQuery: ref.RawQuery}
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("harness: build request: %w", err)
	}
	for _, p := range hm {
		if strings.HasPrefix(p[0], ":") || hopByHop[p[0]] {
			continue
		}
		k := canonicalName(p[0])
		req.Header[k] = append(req.Header[k], p[1])
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""}
	}
	if authority != "" {
		req.Host = authority
	}
	req.ContentLength = int64(len(body))
	return req, nil
}

// responseHeaderMap converts a Go response into a proxy-wasm header map:
// :status first, then the headers with lower-case names, sorted by name,
// repeated values as separate entries in order.
func responseHeaderMap(status int, h http.Header) headerMap {
	hm := make(headerMap, 1, 1+headerCount(h))
	hm[0] = [2]string{":status", statusString(status)}
	return appendHeaders(hm, h)
}

// headerCount returns the number of values in h.
func headerCount(h http.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// appendHeaders appends h to hm with lower-case names sorted by name.
func appendHeaders(hm headerMap, h http.Header) headerMap {
	var buf [32]string // most header sets fit: no allocation to sort them
	names := buf[:0]
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		lk := lowerName(k)
		for _, v := range h[k] {
			hm = append(hm, [2]string{lk, v})
		}
	}
	return hm
}

// do performs a callout and reads its response. A nil response is a
// failure, delivered with 0 headers, as Envoy does when the stream resets
// after the response started (or the body exceeds the buffer limit); a
// response with an error is a local reply from the emulated Envoy (no
// healthy upstream, connection failure: 503; timeout before the response
// headers: 504), the error saying why.
func (c *cluster) do(ctx context.Context, hm headerMap, body []byte, timeout time.Duration) (*calloutResponse, error) {
	client, base := c.client, c.base
	if c.originalDst {
		hm = hm.clone()
		values := hm.values(originalDstHeader)
		hm.remove(originalDstHeader)
		dst, err := parseOriginalDst(values)
		if err != nil {
			return noHealthyUpstream(), err
		}
		authority, _ := hm.lookup(":authority")
		client = c.pinnedClient(dst, authorityHost(authority))
		base = &url.URL{Scheme: c.base.Scheme, Host: dst.String()}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := newOutboundRequest(ctx, base, hm, body)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		// No response headers yet: Envoy's router answers the callout
		// itself, 504 on the callout's timeout and 503 when the upstream
		// could not be reached or reset before its headers.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return calloutLocalReply(504, "upstream request timeout"), err
		}
		return calloutLocalReply(503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure"), err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxCalloutResponseBody+1))
	if err != nil {
		return nil, err
	}
	// The transport closes the connection when the deadline passes, but a
	// body the server ends while that close is under way reads as a clean
	// EOF: a response that completed after the timeout is a failure, as in
	// Envoy, never a truncated success.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(data) > MaxCalloutResponseBody {
		return nil, errors.New("harness: callout response body exceeds MaxCalloutResponseBody")
	}
	out := &calloutResponse{headers: responseHeaderMap(resp.StatusCode, resp.Header), body: data}
	out.trailers = appendHeaders(nil, resp.Trailer)
	return out, nil
}
