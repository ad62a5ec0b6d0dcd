// Package etcdtest starts real etcd members in process, on loopback, for
// tests and local trials: go.etcd.io/etcd/server/v3's embed package, the
// same server as the etcd binary, with its v3 JSON gateway on the client
// URL. Several members form one cluster.
package etcdtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Cluster is a running set of etcd members.
type Cluster struct {
	dir     string
	mu      sync.Mutex
	members []*member
}

type member struct {
	name      string
	cfg       *embed.Config
	etcd      *embed.Etcd // nil while stopped
	clientURL string
}

// Start starts n members (1 or 3, say) under dir, each on two free
// loopback ports, and waits until the cluster has a leader.
func Start(dir string, n int) (*Cluster, error) {
	c := &Cluster{dir: dir}
	var initial []string
	for i := 0; i < n; i++ {
		cport, err1 := freePort()
		pport, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("m%d", i)
		cu, _ := url.Parse("http://127.0.0.1:" + cport)
		pu, _ := url.Parse("http://127.0.0.1:" + pport)
		cfg := embed.NewConfig()
		cfg.Name = name
		cfg.Dir = filepath.Join(dir, name)
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.InitialClusterToken = "mcpgate-test"
		cfg.LogLevel = "panic" // a stopped member logs its closed listeners as errors
		cfg.UnsafeNoFsync = true
		// Loaded test machines: generous election timing so elections
		// happen when a test asks for one, not from CPU starvation.
		cfg.TickMs = 100
		cfg.ElectionMs = 1500
		c.members = append(c.members, &member{name: name, cfg: cfg, clientURL: cu.String()})
		initial = append(initial, name+"="+pu.String())
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	// Members of a new cluster wait for each other: start them together.
	errs := make(chan error, n)
	for _, m := range c.members {
		go func() { errs <- c.start(m) }()
	}
	var err error
	for range c.members {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, c.WaitLeader(30 * time.Second)
}

func (c *Cluster) start(m *member) error {
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return fmt.Errorf("etcdtest: starting %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return fmt.Errorf("etcdtest: %s not ready after 60s", m.name)
	}
	c.mu.Lock()
	m.etcd = e
	c.mu.Unlock()
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

// URLs returns every member's client URL (running or not).
func (c *Cluster) URLs() []string {
	var us []string
	for _, m := range c.members {
		us = append(us, m.clientURL)
	}
	return us
}

// URL returns member i's client URL.
func (c *Cluster) URL(i int) string { return c.members[i].clientURL }

// Stop stops member i; its data stays for Restart.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	e := c.members[i].etcd
	c.members[i].etcd = nil
	c.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// Restart starts a stopped member again on the same ports and data.
func (c *Cluster) Restart(i int) error {
	m := c.members[i]
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	return c.start(m)
}

// Leader returns the index of the member that is leader, or -1.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.etcd != nil && m.etcd.Server.Leader() == m.etcd.Server.MemberID() {
			return i
		}
	}
	return -1
}

// WaitLeader waits until a running member is leader.
func (c *Cluster) WaitLeader(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.Leader() >= 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("etcdtest: no leader")
}

// Close stops every member.
func (c *Cluster) Close() {
	for i := range c.members {
		c.Stop(i)
	}
}

// Keys lists the keys under prefix, read through member i's JSON gateway
// (a serializable read of that member's state is not wanted: this is a
// linearizable range).
func (c *Cluster) Keys(ctx context.Context, i int, prefix string) ([]string, error) {
	end := []byte(prefix)
	end[len(end)-1]++
	body, _ := json.Marshal(map[string]any{
		"key":       base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end": base64.StdEncoding.EncodeToString(end),
		"keys_only": true,
	})
	req, err := http.NewRequestWithContext(ctx, "POST", c.members[i].clientURL+"/v3/kv/range", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("etcdtest: range: %s: %s", res.Status, b)
	}
	var out struct {
		KVs []struct {
			Key []byte `json:"key"`
		} `json:"kvs"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	var keys []string
	for _, kv := range out.KVs {
		keys = append(keys, string(kv.Key))
	}
	return keys, nil
}

// TempDir makes a directory for a cluster's data; the caller removes it.
func TempDir() (string, error) { return os.MkdirTemp("", "mcpgate-etcd") }
