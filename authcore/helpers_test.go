package authcore

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// loadConfig parses testdata/config/<name>.json.
func loadConfig(t testing.TB, name string) *Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "config", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("config %s: %v", name, err)
	}
	return cfg
}

// newTestEngine builds an engine for testdata/config/<name>.json.
func newTestEngine(t testing.TB, name string) *Engine {
	t.Helper()
	e, err := New(loadConfig(t, name), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// golden compares got with testdata/golden/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func get(path string) *Request {
	return &Request{Method: "GET", Scheme: "https", Authority: "mcp.example.com", Path: path}
}

func mustReply(t *testing.T, o Outcome) Reply {
	t.Helper()
	r, ok := o.(Reply)
	if !ok {
		t.Fatalf("outcome is %T, want Reply", o)
	}
	return r
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
