package e2e

import (
	"os"
	"testing"

	"github.com/mcpgate/mcpgate/e2e/etcdtest"
)

// TestMain lets the store benchmarks run etcd in a child process (this
// binary, re-executed): see etcdtest.StartProcess. After the tests it
// undoes what they share across tests (afterAll).
func TestMain(m *testing.M) {
	if etcdtest.ChildMain() {
		return
	}
	code := m.Run()
	for i := len(afterAll) - 1; i >= 0; i-- {
		afterAll[i]()
	}
	os.Exit(code)
}

// afterAll holds the cleanups of what is built or started once per test
// binary (the shared etcd member and its data directory, the gateway
// binary), which no single test's Cleanup can own: without them every run
// left over 100 MB in the temporary directory.
var afterAll []func()
