package authcore_test

import (
	"fmt"
	"os"

	"github.com/mcpgate/mcpgate/authcore"
)

// A host's loop, as the README describes it: Handle returns an Outcome that
// says what to do next; a request for a protected resource without a token
// gets the RFC 6750 §3 challenge as a local Reply, and a request for
// something that is no resource is let through as a Forward.
func ExampleEngine_Handle() {
	configJSON, err := os.ReadFile("testdata/config/minimal.json")
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
	for _, path := range []string{"/mcp", "/healthz"} {
		out := eng.Handle(&authcore.Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: path})
		switch o := out.(type) {
		case authcore.Reply:
			fmt.Println(path, "reply", o.Status, o.Headers.Get("www-authenticate"))
		case authcore.Forward:
			fmt.Println(path, "forward")
		case authcore.Call:
			fmt.Println(path, "call", o.Cluster) // then: out = o.Resume(result)
		default:
			fmt.Printf("%s %T\n", path, o)
		}
	}
	// Output:
	// /mcp reply 401 Bearer scope="mcp:tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
	// /healthz forward
}
