// Command kitchen is a proxy-wasm test filter that exercises every part of
// the host the harness emulates. Its behaviour is chosen by the request
// path (see the switch in OnHttpRequestHeaders) and by its plugin
// configuration, a JSON object:
//
//	{"refuse": "reason"}  refuse to start (proxy_on_configure returns false)
//	{"tick_ms": 20}       tick every 20 ms
//
// The VM configuration "refuse-vm" makes proxy_on_vm_start return false.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func init() {
	proxywasm.SetVMContext(&vmContext{})
}

func main() {}

type config struct {
	Refuse string `json:"refuse"`
	TickMS uint32 `json:"tick_ms"`
}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) OnVMStart(size int) types.OnVMStartStatus {
	if size > 0 {
		b, err := proxywasm.GetVMConfiguration()
		if err == nil && string(b) == "refuse-vm" {
			proxywasm.LogError("kitchen: vm configuration says refuse-vm")
			return types.OnVMStartStatusFailed
		}
	}
	return types.OnVMStartStatusOK
}

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct {
	types.DefaultPluginContext
	pluginConfig []byte
	vmConfig     []byte
	ticks        int
	served       int
	queueID      uint32
	requests     proxywasm.MetricCounter
	active       proxywasm.MetricGauge
	bodySizes    proxywasm.MetricHistogram
	tickCounter  proxywasm.MetricCounter
	dequeued     proxywasm.MetricCounter
}

func (p *plugin) OnPluginStart(size int) types.OnPluginStartStatus {
	var cfg config
	if size > 0 {
		b, err := proxywasm.GetPluginConfiguration()
		if err != nil {
			proxywasm.LogErrorf("kitchen: reading configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
		p.pluginConfig = b
		if err := json.Unmarshal(b, &cfg); err != nil {
			proxywasm.LogErrorf("kitchen: invalid configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	if cfg.Refuse != "" {
		proxywasm.LogErrorf("kitchen: refusing to start: %s", cfg.Refuse)
		return types.OnPluginStartStatusFailed
	}
	p.vmConfig, _ = proxywasm.GetVMConfiguration()
	p.requests = proxywasm.DefineCounterMetric("kitchen_requests_total")
	p.active = proxywasm.DefineGaugeMetric("kitchen_active_streams")
	p.bodySizes = proxywasm.DefineHistogramMetric("kitchen_request_body_bytes")
	p.tickCounter = proxywasm.DefineCounterMetric("kitchen_ticks_total")
	p.dequeued = proxywasm.DefineCounterMetric("kitchen_dequeued_total")
	id, err := proxywasm.RegisterSharedQueue("kitchen")
	if err != nil {
		proxywasm.LogErrorf("kitchen: register queue: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.queueID = id
	if cfg.TickMS > 0 {
		if err := proxywasm.SetTickPeriodMilliSeconds(cfg.TickMS); err != nil {
			proxywasm.LogErrorf("kitchen: set tick: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	proxywasm.LogInfo("kitchen: started")
	return types.OnPluginStartStatusOK
}

func (p *plugin) OnTick() {
	p.ticks++
	p.tickCounter.Increment(1)
}

func (p *plugin) OnQueueReady(id uint32) {
	for {
		item, err := proxywasm.DequeueSharedQueue(id)
		if err != nil {
			return
		}
		p.dequeued.Increment(1)
		_ = proxywasm.SetSharedData("kitchen:queue:last", append([]byte(nil), item...), 0)
	}
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &stream{p: p} }

type stream struct {
	types.DefaultHttpContext
	p         *plugin
	route     string
	query     url.Values
	bodySizes []string
	calls     int
	resumed   bool
}

// reply sends a local reply and pauses.
func reply(status uint32, contentType, body string) types.Action {
	var headers [][2]string
	if contentType != "" {
		headers = append(headers, [2]string{"content-type", contentType})
	}
	if err := proxywasm.SendHttpResponse(status, headers, []byte(body), -1); err != nil {
		proxywasm.LogErrorf("kitchen: send response: %v", err)
	}
	return types.ActionPause
}

func replyJSON(status uint32, v any) types.Action {
	b, err := json.Marshal(v)
	if err != nil {
		return reply(500, "", err.Error())
	}
	return reply(status, "application/json", string(b))
}

func (s *stream) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	s.p.requests.Increment(1)
	s.p.active.Add(1)
	s.p.served++
	path, err := proxywasm.GetHttpRequestHeader(":path")
	if err != nil {
		return reply(500, "", "no :path: "+err.Error())
	}
	s.route = path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		s.route = path[:i]
		s.query, _ = url.ParseQuery(path[i+1:])
	}
	q := s.query
	switch s.route {
	case "/headers":
		return s.headers(numHeaders)
	case "/local":
		headers := [][2]string{
			{"content-type", "application/json"},
			{"set-cookie", "a=1"},
			{"set-cookie", "b=2"},
			{"x-local", "yes"},
		}
		if err := proxywasm.SendHttpResponse(418, headers, []byte(`{"teapot":true}`), -1); err != nil {
			return reply(500, "", err.Error())
		}
		return types.ActionPause
	case "/body", "/body-local":
		_ = proxywasm.RemoveHttpRequestHeader("content-length")
		return types.ActionContinue
	case "/body-pause-headers", "/body-edit":
		return types.ActionPause
	case "/callout":
		// ?cluster=&path=[&method=&body=&timeout=ms&authority=&hdr=name:value...]
		return s.callout(q)
	case "/shared":
		return sharedData(q)
	case "/metrics":
		return replyJSON(200, map[string]uint64{"requests": s.p.requests.Value(), "ticks": s.p.tickCounter.Value()})
	case "/props":
		return s.props()
	case "/time":
		now := time.Now()
		proxywasm.LogInfof("kitchen: time %d", now.UnixNano())
		return reply(200, "text/plain", strconv.FormatInt(now.UnixNano(), 10))
	case "/sleep":
		ms, _ := strconv.Atoi(q.Get("ms"))
		start := time.Now()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return reply(200, "text/plain", time.Since(start).String())
	case "/panic":
		panic("kitchen: boom")
	case "/gc":
		return gc(q)
	case "/tick":
		return reply(200, "text/plain", strconv.Itoa(s.p.ticks))
	case "/served":
		// Requests this VM served before this one.
		return reply(200, "text/plain", strconv.Itoa(s.p.served-1))
	case "/log":
		msg := q.Get("msg")
		proxywasm.LogTrace("trace " + msg)
		proxywasm.LogDebug("debug " + msg)
		proxywasm.LogInfo("info " + msg)
		proxywasm.LogWarn("warn " + msg)
		proxywasm.LogError("error " + msg)
		proxywasm.LogCritical("critical " + msg)
		fmt.Println("stdout " + msg)
		return reply(200, "", "logged")
	case "/config":
		return replyJSON(200, map[string]string{"plugin": string(s.p.pluginConfig), "vm": string(s.p.vmConfig)})
	case "/queue":
		id, err := proxywasm.ResolveSharedQueue("", "kitchen")
		if err != nil {
			return reply(500, "", "resolve: "+err.Error())
		}
		if err := proxywasm.EnqueueSharedQueue(id, []byte(q.Get("value"))); err != nil {
			return reply(500, "", "enqueue: "+err.Error())
		}
		return reply(200, "", "enqueued")
	case "/pause":
		return types.ActionPause
	case "/resume-later":
		// Pause now, let the request through from a callout callback.
		return s.callout(q)
	}
	return types.ActionContinue
}

// headers edits request headers and reports what the filter saw in
// x-seen-* headers, for the upstream to echo.
func (s *stream) headers(numHeaders int) types.Action {
	all, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		return reply(500, "", err.Error())
	}
	add := func(k, v string) { _ = proxywasm.AddHttpRequestHeader(k, v) }
	var multi []string
	for _, h := range all {
		switch {
		case strings.HasPrefix(h[0], ":"):
			add("x-seen-"+h[0][1:], h[1])
		case h[0] == "x-multi":
			multi = append(multi, h[1])
		case h[0] == "x-request-id":
			add("x-seen-request-id", h[1])
		case h[0] == "x-forwarded-proto":
			add("x-seen-forwarded-proto", h[1])
		}
	}
	add("x-seen-multi", strings.Join(multi, ","))
	add("x-seen-count-matches", strconv.FormatBool(numHeaders == len(all)))
	add("x-added", "yes")
	_ = proxywasm.ReplaceHttpRequestHeader("x-replace", "replaced")
	_ = proxywasm.RemoveHttpRequestHeader("x-remove")
	if p := s.query.Get("rewrite"); p != "" {
		_ = proxywasm.ReplaceHttpRequestHeader(":path", p)
	}
	if a := s.query.Get("authority"); a != "" {
		_ = proxywasm.ReplaceHttpRequestHeader(":authority", a)
	}
	return types.ActionContinue
}

func (s *stream) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	s.calls++
	s.bodySizes = append(s.bodySizes, strconv.Itoa(bodySize))
	switch s.route {
	case "/body", "/body-local":
		if !endOfStream {
			return types.ActionPause // buffer
		}
		body, err := proxywasm.GetHttpRequestBody(0, bodySize)
		if err != nil {
			return reply(500, "", "get body: "+err.Error())
		}
		s.p.bodySizes.Record(uint64(len(body)))
		sum := 0
		for _, b := range body {
			sum += int(b)
		}
		summary := fmt.Sprintf("calls=%d sizes=%s len=%d sum=%d", s.calls, strings.Join(s.bodySizes, ","), len(body), sum)
		if s.route == "/body-local" {
			return reply(200, "text/plain", summary)
		}
		if err := proxywasm.ReplaceHttpRequestBody([]byte(summary)); err != nil {
			return reply(500, "", "replace body: "+err.Error())
		}
		return types.ActionContinue
	case "/body-edit":
		if !endOfStream {
			return types.ActionPause
		}
		// A slice of the buffered body, then prepend and append.
		slice, err := proxywasm.GetHttpRequestBody(1, 3)
		if err != nil {
			return reply(500, "", "get body slice: "+err.Error())
		}
		_ = proxywasm.AddHttpRequestHeader("x-body-slice", string(slice))
		if err := proxywasm.PrependHttpRequestBody([]byte("<")); err != nil {
			return reply(500, "", "prepend: "+err.Error())
		}
		if err := proxywasm.AppendHttpRequestBody([]byte(">")); err != nil {
			return reply(500, "", "append: "+err.Error())
		}
		return types.ActionContinue
	case "/body-pause-headers":
		if !endOfStream {
			return types.ActionPause
		}
		// The headers were paused, so they can still be edited.
		if err := proxywasm.AddHttpRequestHeader("x-body-sizes", strings.Join(s.bodySizes, ",")); err != nil {
			return reply(500, "", "add header: "+err.Error())
		}
		return types.ActionContinue
	}
	return types.ActionContinue
}

func (s *stream) callout(q url.Values) types.Action {
	timeout, _ := strconv.Atoi(q.Get("timeout"))
	if timeout == 0 {
		timeout = 5000
	}
	method := q.Get("method")
	if method == "" {
		method = "GET"
	}
	authority := q.Get("authority")
	if authority == "" {
		authority = "callout.test"
	}
	headers := [][2]string{
		{":method", method},
		{":path", q.Get("path")},
		{":authority", authority},
		{"x-from", "kitchen"},
	}
	// hdr=name:value adds a header to the callout (repeatable, in order).
	for _, h := range q["hdr"] {
		name, value, _ := strings.Cut(h, ":")
		headers = append(headers, [2]string{name, value})
	}
	var body []byte
	if b := q.Get("body"); b != "" {
		body = []byte(b)
		headers = append(headers, [2]string{"content-type", "application/x-www-form-urlencoded"})
	}
	resume := s.route == "/resume-later"
	_, err := proxywasm.DispatchHttpCall(q.Get("cluster"), headers, body, nil, uint32(timeout),
		func(numHeaders, bodySize, numTrailers int) {
			if numHeaders == 0 {
				hs, herr := proxywasm.GetHttpCallResponseHeaders()
				body, berr := proxywasm.GetHttpCallResponseBody(0, 1)
				if resume {
					_ = proxywasm.AddHttpRequestHeader("x-callout-status", "failed")
					_ = proxywasm.ResumeHttpRequest()
					return
				}
				reply(502, "text/plain", fmt.Sprintf("callout failed (%d headers, err %v; body %q, err %v)", len(hs), herr, body, berr))
				return
			}
			hs, err := proxywasm.GetHttpCallResponseHeaders()
			if err != nil {
				reply(500, "", "call headers: "+err.Error())
				return
			}
			var body []byte
			if bodySize > 0 {
				body, err = proxywasm.GetHttpCallResponseBody(0, bodySize)
				if err != nil {
					reply(500, "", "call body: "+err.Error())
					return
				}
			}
			m := map[string]string{}
			for _, h := range hs {
				m[h[0]] = h[1]
			}
			if resume {
				_ = proxywasm.AddHttpRequestHeader("x-callout-status", m[":status"])
				_ = proxywasm.ResumeHttpRequest()
				return
			}
			replyJSON(200, map[string]any{
				"status":     m[":status"],
				"location":   m["location"],
				"echo_host":  m["x-echo-host"],
				"echo_from":  m["x-echo-from"],
				"body":       string(body),
				"numHeaders": numHeaders,
				"headersLen": len(hs),
			})
		})
	if err != nil {
		return reply(500, "text/plain", "dispatch: "+err.Error())
	}
	return types.ActionPause
}

func sharedData(q url.Values) types.Action {
	key := q.Get("key")
	switch q.Get("op") {
	case "get":
		v, cas, err := proxywasm.GetSharedData(key)
		if errors.Is(err, types.ErrorStatusNotFound) {
			return reply(404, "", "not found")
		}
		if err != nil {
			return reply(500, "", err.Error())
		}
		return replyJSON(200, map[string]any{"value": string(v), "cas": cas})
	case "set":
		cas, _ := strconv.ParseUint(q.Get("cas"), 10, 32)
		err := proxywasm.SetSharedData(key, []byte(q.Get("value")), uint32(cas))
		if errors.Is(err, types.ErrorStatusCasMismatch) {
			return reply(409, "", "cas mismatch")
		}
		if err != nil {
			return reply(500, "", err.Error())
		}
		return reply(200, "", "ok")
	}
	return reply(400, "", "op must be get or set")
}

func (s *stream) props() types.Action {
	out := map[string]any{}
	for _, name := range []string{
		"source.address", "destination.address", "request.id", "request.path", "request.host",
		"request.method", "request.scheme", "request.protocol", "plugin_root_id", "plugin_name",
		"plugin_vm_id", "xds.cluster_name", "node.id", "custom.thing",
	} {
		v, err := proxywasm.GetProperty(strings.Split(name, "."))
		if err != nil {
			out[name] = "error: " + err.Error()
			continue
		}
		out[name] = string(v)
	}
	for _, name := range []string{"source.port", "request.time"} {
		v, err := proxywasm.GetProperty(strings.Split(name, "."))
		if err != nil || len(v) != 8 {
			out[name] = fmt.Sprintf("error: %v (%d bytes)", err, len(v))
			continue
		}
		var n uint64
		for i := 7; i >= 0; i-- {
			n = n<<8 | uint64(v[i])
		}
		out[name] = n
	}
	if _, err := proxywasm.GetProperty([]string{"does", "not", "exist"}); err != nil {
		out["missing"] = err.Error()
	}
	if err := proxywasm.SetProperty([]string{"kitchen_prop"}, []byte("set-value")); err != nil {
		out["set"] = err.Error()
	} else if v, err := proxywasm.GetProperty([]string{"kitchen_prop"}); err != nil {
		out["set"] = err.Error()
	} else {
		out["set"] = string(v)
	}
	return replyJSON(200, out)
}

// gc allocates heavily and collects garbage: on a host whose poll_oneoff
// fails, the Go runtime dies here.
func gc(q url.Values) types.Action {
	rounds, _ := strconv.Atoi(q.Get("rounds"))
	if rounds == 0 {
		rounds = 1
	}
	var keep [][]byte
	for i := 0; i < rounds; i++ {
		for j := 0; j < 64; j++ {
			keep = append(keep, make([]byte, 64<<10))
		}
		keep = keep[len(keep)/2:]
		runtime.GC()
	}
	return reply(200, "text/plain", fmt.Sprintf("gc ok rounds=%d kept=%d", rounds, len(keep)))
}

func (s *stream) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	_ = proxywasm.AddHttpResponseHeader("x-kitchen-route", s.route)
	switch s.route {
	case "/headers":
		_ = proxywasm.RemoveHttpResponseHeader("x-upstream-remove")
		_ = proxywasm.ReplaceHttpResponseHeader("x-upstream-replace", "replaced")
		if st := s.query.Get("status"); st != "" {
			_ = proxywasm.ReplaceHttpResponseHeader(":status", st)
		}
	case "/respbody":
		_ = proxywasm.RemoveHttpResponseHeader("content-length")
	case "/resp-local":
		return reply(451, "text/plain", "replaced in the response phase")
	case "/resp-callout":
		// Hold the response headers until a callout answers.
		_, err := proxywasm.DispatchHttpCall(s.query.Get("cluster"), [][2]string{
			{":method", "GET"}, {":path", s.query.Get("path")}, {":authority", "callout.test"},
		}, nil, nil, 5000, func(numHeaders, _, _ int) {
			_ = proxywasm.AddHttpResponseHeader("x-resp-callout", strconv.Itoa(numHeaders))
			s.resumed = true
			_ = proxywasm.ResumeHttpResponse()
		})
		if err != nil {
			return reply(500, "", "dispatch: "+err.Error())
		}
		return types.ActionPause
	case "/avail":
		_, err := proxywasm.GetHttpRequestHeader(":path")
		_ = proxywasm.AddHttpResponseHeader("x-request-header-in-response", fmt.Sprint(err))
		hs, err := proxywasm.GetHttpRequestHeaders()
		_ = proxywasm.AddHttpResponseHeader("x-request-headers-in-response", fmt.Sprintf("%d %v", len(hs), err))
		_, err = proxywasm.GetProperty([]string{"request", "path"})
		_ = proxywasm.AddHttpResponseHeader("x-request-path-property-in-response", fmt.Sprint(err))
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseBody(bodySize int, endOfStream bool) types.Action {
	if s.route == "/resp-callout" && !s.resumed {
		// Continue here would let the held headers through (Envoy's rule).
		return types.ActionPause
	}
	if s.route != "/respbody" {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause
	}
	body, err := proxywasm.GetHttpResponseBody(0, bodySize)
	if err != nil {
		return reply(500, "", "get response body: "+err.Error())
	}
	if err := proxywasm.ReplaceHttpResponseBody([]byte(strings.ToUpper(string(body)))); err != nil {
		return reply(500, "", "replace response body: "+err.Error())
	}
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	s.p.active.Add(-1)
	if path, err := proxywasm.GetHttpRequestHeader(":path"); err == nil {
		_ = proxywasm.SetSharedData("kitchen:last-log-path", []byte(path), 0)
	}
	if path, err := proxywasm.GetProperty([]string{"request", "path"}); err == nil {
		_ = proxywasm.SetSharedData("kitchen:last-log-path-property", append([]byte(nil), path...), 0)
	}
	if s.route == "/config" {
		_, err := proxywasm.GetPluginConfiguration()
		_ = proxywasm.SetSharedData("kitchen:config-after-start", []byte(fmt.Sprint(err)), 0)
	}
}
