package harness_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// The README's usage: load a compiled filter (here the harness's kitchen
// test filter, built first; mcpgate's is build/mcpgate.wasm) in front of an
// upstream, and serve the Host as an http.Handler.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "harness-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "kitchen.wasm")
	if err := harness.Build("testdata/kitchen", out); err != nil {
		panic(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		panic(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	defer upstream.Close()

	h, err := harness.New(ctx, harness.Options{
		Wasm:         wasm,
		PluginConfig: []byte(`{}`),
		Upstream:     upstream.URL,                                               // the MCP server
		Clusters:     map[string]harness.Cluster{"backend": {URL: upstream.URL}}, // proxy_http_call targets
	})
	if errors.Is(err, harness.ErrPluginRefused) {
		fmt.Println("the plugin refused to start:", err)
		return
	} else if err != nil {
		panic(err)
	}
	defer func() { _ = h.Close(ctx) }()
	gateway := httptest.NewServer(h) // *Host is an http.Handler
	defer gateway.Close()

	for _, path := range []string{"/hello", "/local"} {
		resp, err := http.Get(gateway.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, string(body))
	}
	// Output:
	// /hello 200 upstream /hello
	// /local 418 {"teapot":true}
}
