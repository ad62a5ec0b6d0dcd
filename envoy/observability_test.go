package envoy

import (
	"strings"
	"testing"

	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	exprv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/rate_limit_descriptors/expr/v3"
)

// TestDecisionInAccessLogAndRateLimit: the example bootstrap prints the
// guard's filter state in its access log and limits per subject with
// Envoy's local rate limit filter, placed after mcpgate (so the decision
// exists) and before the router, keyed on the filter state mcpgate sets.
func TestDecisionInAccessLogAndRateLimit(t *testing.T) {
	b, err := parseBootstrap(mustRead(t, "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, hcms := collect[*hcmv3.HttpConnectionManager](b)
	if len(hcms) != 1 {
		t.Fatalf("%d connection managers", len(hcms))
	}
	var format string
	for _, al := range hcms[0].GetAccessLog() {
		var sl streamv3.StdoutAccessLog
		if al.GetTypedConfig().UnmarshalTo(&sl) == nil {
			format = sl.GetLogFormat().GetTextFormatSource().GetInlineString()
		}
	}
	for _, key := range []string{"decision", "subject", "client_id", "tool"} {
		if !strings.Contains(format, "%FILTER_STATE(wasm.mcpgate."+key+":PLAIN)%") {
			t.Errorf("access log format lacks the filter state wasm.mcpgate.%s: %s", key, format)
		}
	}
	var names []string
	var rl *ratelimitv3.LocalRateLimit
	for _, f := range hcms[0].GetHttpFilters() {
		names = append(names, f.GetName())
		if f.GetName() == "envoy.filters.http.local_ratelimit" {
			rl = &ratelimitv3.LocalRateLimit{}
			if err := f.GetTypedConfig().UnmarshalTo(rl); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.Join(names, ",") != wasmFilterName+",envoy.filters.http.local_ratelimit,"+routerFilterName {
		t.Fatalf("filter order %v: the rate limit must follow mcpgate", names)
	}
	if rl.GetFilterEnabled().GetDefaultValue().GetNumerator() != 100 || rl.GetFilterEnforced().GetDefaultValue().GetNumerator() != 100 {
		t.Error("the rate limit is not enabled and enforced")
	}
	var expr exprv3.Descriptor
	acts := rl.GetRateLimits()
	if len(acts) != 1 || len(acts[0].GetActions()) != 1 || acts[0].GetActions()[0].GetExtension().GetTypedConfig().UnmarshalTo(&expr) != nil {
		t.Fatalf("rate limit actions %v", acts)
	}
	if expr.GetText() != `string(filter_state["wasm.mcpgate.subject"])` || !expr.GetSkipIfError() {
		t.Errorf("descriptor %v", &expr)
	}
	ds := rl.GetDescriptors()
	if len(ds) != 1 || len(ds[0].GetEntries()) != 1 || ds[0].GetEntries()[0].GetKey() != expr.GetDescriptorKey() || ds[0].GetEntries()[0].GetValue() != "" {
		t.Errorf("descriptors %v: want one wildcard entry on %q (a bucket per subject)", ds, expr.GetDescriptorKey())
	}
}
