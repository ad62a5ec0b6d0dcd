package etcdtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// childEnv names the data directory of an etcd member that the current
// binary, re-executed, runs instead of its tests (see ChildMain).
const childEnv = "MCPGATE_ETCDTEST_CHILD_DIR"

// ChildMain runs a one-member etcd when this process was started by
// StartProcess, and reports whether it did: call it first in TestMain and
// return when it reports true. The member serves until stdin closes.
func ChildMain() bool {
	dir := os.Getenv(childEnv)
	if dir == "" {
		return false
	}
	c, err := Start(dir, 1)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(c.URL(0))
	_, _ = io.Copy(io.Discard, os.Stdin)
	c.Close()
	return true
}

// Process is a one-member etcd in a child process: its heap and CPU are
// not the test's (benchmarks measure the gateway alone).
type Process struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.Closer
}

// StartProcess re-executes the running test binary, whose TestMain calls
// ChildMain, as a one-member etcd under dir.
func StartProcess(dir string) (*Process, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, stdin: in}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "http://") {
			p.Close()
			return nil, fmt.Errorf("etcdtest: child etcd: %q", s)
		}
		p.URL = s
		return p, nil
	case <-time.After(90 * time.Second):
		p.Close()
		return nil, errors.New("etcdtest: child etcd did not start in 90s")
	}
}

// Close stops the child and waits for it.
func (p *Process) Close() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
