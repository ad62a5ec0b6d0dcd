package e2e

import (
	"os"
	"testing"

	"github.com/mcpgate/mcpgate/e2e/etcdtest"
)

// TestMain lets the store benchmarks run etcd in a child process (this
// binary, re-executed): see etcdtest.StartProcess.
func TestMain(m *testing.M) {
	if etcdtest.ChildMain() {
		return
	}
	os.Exit(m.Run())
}
