package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedEtcd: -embedded-etcd starts an etcd member that a store
// configuration reaches as cluster "etcd": a token request that must read
// the store is answered from it (invalid_grant for an unknown code, not
// temporarily_unavailable), and the member stops with the gateway.
func TestEmbeddedEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles the filter")
	}
	b, err := os.ReadFile(devConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["store"] = map[string]any{"etcd": map[string]any{"cluster": "etcd"}}
	b, _ = json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-wasm", testWasm(t), "-config", path, "-embedded-etcd",
		"-listen", "127.0.0.1:0", "-upstream-listen", "127.0.0.1:0",
		"-cache-dir", ""}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g, err := start(context.Background(), o, &logs)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	etcdURL := o.clusters["etcd"]
	if etcdURL == "" || !strings.Contains(logs.String(), "embedded etcd on "+etcdURL) {
		t.Fatalf("no embedded etcd cluster: %v\n%s", o.clusters, logs.String())
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"unknown"}, "code_verifier": {strings.Repeat("v", 43)},
		"client_id": {"dev-client"}, "redirect_uri": {"http://127.0.0.1/callback"}}
	res, err := http.Post(g.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if body.Error == "temporarily_unavailable" || body.Error == "" {
		t.Errorf("token request with the embedded etcd: %d %q\n%s", res.StatusCode, body.Error, logs.String())
	}
	if err := g.close(); err != nil {
		t.Fatal(err)
	}
	c := http.Client{Timeout: 2 * time.Second}
	if res, err := c.Post(etcdURL+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"YQ=="}`)); err == nil {
		res.Body.Close()
		t.Errorf("embedded etcd still answers after close: %s", res.Status)
	}
}
