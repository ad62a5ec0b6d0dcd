package harness

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProperties(t *testing.T) {
	t.Parallel()
	h := newHost(t, Options{
		Wasm:       kitchenWasm,
		RootID:     "mcpgate_root",
		VMID:       "vm-id-1",
		Properties: map[string][]byte{"custom.thing": []byte("custom-value"), "node.id": []byte("node-override")},
	})
	srv := serve(t, h)
	before := time.Now()
	st, _, body := get(t, srv.URL+"/props?a=b", "X-Request-Id", "rid-123")
	if st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	want := map[string]any{
		"destination.address": host,
		"request.id":          "rid-123",
		"request.path":        "/props?a=b",
		"request.host":        host,
		"request.method":      "GET",
		"request.scheme":      "http",
		"request.protocol":    "HTTP/1.1",
		"plugin_root_id":      "mcpgate_root",
		"plugin_name":         "mcpgate_root",
		"plugin_vm_id":        "vm-id-1",
		"xds.cluster_name":    "upstream",
		"node.id":             "node-override", // Options.Properties wins
		"custom.thing":        "custom-value",
		"missing":             "error status returned by host: not found",
		"set":                 "set-value", // proxy_set_property then proxy_get_property
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %v, want %v", k, p[k], v)
		}
	}
	src, _ := p["source.address"].(string)
	_, port, err := net.SplitHostPort(src)
	if err != nil || strconv.Itoa(int(p["source.port"].(float64))) != port {
		t.Errorf("source.address %q and source.port %v disagree", src, p["source.port"])
	}
	ts, _ := p["request.time"].(float64)
	if rt := time.Unix(0, int64(ts)); rt.Before(before.Add(-time.Second)) || rt.After(time.Now().Add(time.Second)) {
		t.Errorf("request.time %v is not the real time of the request (%v)", rt, before)
	}
}
