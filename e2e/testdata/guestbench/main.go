// Command guestbench runs the guard's paths of package authcore inside
// one WebAssembly instance, as the filter's VM runs them, and prints the
// time per operation measured inside the guest. It is a wasip1 command,
// not a proxy-wasm filter, so that any WASI runtime can run it: e2e
// BenchmarkGuestRuntimes runs it under wazero, the harness's runtime, and
// under V8 (Node's WASI), the runtime of Envoy's wasm filters, to show how
// the harness's numbers would move in Envoy.
//
// Usage: guestbench CASE N CONFIG, with CASE one of cached, pertool, es256
// and eddsa, and CONFIG the filter configuration (e2e's benchmark
// configuration; for eddsa one whose active key is Ed25519); it prints
// "CASE NS" (nanoseconds per operation over N).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/authcore"
)

func main() {
	if len(os.Args) != 4 {
		fail("usage: guestbench cached|pertool|es256|eddsa N CONFIG")
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fail("N must be a positive number")
	}
	ns, err := run(os.Args[1], n, os.Args[3])
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(os.Args[1], ns)
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "guestbench: "+msg)
	os.Exit(2)
}

// run measures case c over n operations with configuration config and
// returns nanoseconds per one.
func run(c string, n int, config string) (float64, error) {
	cfg, err := authcore.ParseConfig([]byte(config))
	if err != nil {
		return 0, err
	}
	// As in the filter: a VM calls the engine from one thread.
	e, err := authcore.New(cfg, authcore.Options{SingleThreaded: true})
	if err != nil {
		return 0, err
	}
	aud, scopes, path, body := "https://mcp.example.com/mcp", []string{"mcp:tools"}, "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	if c == "pertool" {
		aud, scopes, path = "https://mcp.example.com/tools/mcp", []string{"mcp:tools", "mcp:admin"}, "/tools/mcp"
		body = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"admin_stats","arguments":{"verbose":true}}}`
	}
	// The operations run twice, untimed then timed: V8 compiles a module
	// first with a baseline compiler and optimizes what runs hot later,
	// and the guest's heap grows to its steady size (the cached token:
	// 7.2 µs in V8 over 20000 operations, 2.3 µs over 200000). The cached
	// paths use one token; the first-seen cases one per operation, all
	// minted before the clock starts, and warm up on a few more.
	warm := n
	tokens := make([]string, 1)
	if c == "es256" || c == "eddsa" {
		warm = min(n, 50)
		tokens = make([]string, warm+n)
	}
	now := time.Now()
	for i := range tokens {
		if tokens[i], err = e.MintAccessToken(authcore.AccessTokenClaims{Issuer: cfg.Issuer, Subject: "alice", ClientID: "client-1",
			Audience: []string{aud}, Scope: scopes, IssuedAt: now, Expiry: now.Add(time.Hour), JTI: strconv.Itoa(i)}); err != nil {
			return 0, err
		}
	}
	switch c {
	case "cached", "pertool", "es256", "eddsa":
	default:
		return 0, fmt.Errorf("unknown case %q", c)
	}
	headers := make([]authcore.Header, len(tokens))
	for i, t := range tokens {
		headers[i] = authcore.Header{{"content-type", "application/json"}, {"authorization", "Bearer " + t}}
	}
	op := func(i int) error {
		req := &authcore.Request{Method: "POST", Scheme: "https", Authority: "mcp.example.com", Path: path, Headers: headers[i%len(headers)]}
		o := e.Handle(req)
		if rb, ok := o.(authcore.ReadBody); ok {
			o = rb.Resume([]byte(body))
		}
		if _, ok := o.(authcore.Forward); !ok {
			return fmt.Errorf("%s: operation %d was not let through: %T", c, i, o)
		}
		return nil
	}
	for i := 0; i < warm; i++ {
		if err := op(i); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for i := warm; i < warm+n; i++ {
		if err := op(i); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}
