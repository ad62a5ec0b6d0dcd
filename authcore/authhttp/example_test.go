package authhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/authhttp"
)

// The README's "Reusing the engine in native Go": parse the configuration,
// build the engine, and serve it in front of the MCP server. Here the MCP
// server is a stub and the gateway an httptest server instead of
// http.ListenAndServe(":8080", ...).
func Example() {
	configJSON, err := os.ReadFile("../testdata/config/minimal.json")
	if err != nil {
		panic(err)
	}
	cfg, err := authcore.ParseConfig(configJSON)
	if err != nil {
		panic(err)
	}
	eng, err := authcore.New(cfg, authcore.Options{})
	if err != nil {
		panic(err)
	}
	mcpServer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "MCP server")
	})
	gateway := httptest.NewServer(&authhttp.Handler{Engine: eng, Next: mcpServer,
		Clusters: map[string]string{"upstream_idp": "https://login.example.com"}})
	defer gateway.Close()

	// Without a token, the protected resource answers 401 with the RFC 9728
	// §5.1 challenge (RFC 6750 §3); its metadata document is public.
	resp, err := http.Post(gateway.URL+"/mcp", "application/json", nil)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	resp, err = http.Get(gateway.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output:
	// 401 Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// 200 application/json
}
