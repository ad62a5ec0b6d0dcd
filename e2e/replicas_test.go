package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/authhttp"
	"github.com/mcpgate/mcpgate/e2e/demomcp"
	"github.com/mcpgate/mcpgate/e2e/etcdtest"
	harness "github.com/mcpgate/mcpgate/wazero-harness"
)

// Several replicas: two gateway instances, each a harness host (one Envoy:
// its own shared data) running the compiled filter in two VMs, in front of
// one demo MCP server, sharing nothing but a real etcd cluster (embedded
// members on loopback). One front URL, like a load balancer, sends each
// request to the instance the test picks.

// replicas is two instances behind one front URL.
type replicas struct {
	base string
	// hosts are the harness hosts (wasm), handlers what the front calls.
	hosts    [2]*harness.Host
	handlers [2]http.Handler
	prefix   string // the etcd key prefix of this gateway's records
	// pick chooses the instance (0 or 1) for a request; default: A.
	pick atomic.Pointer[func(*http.Request) int]
	// next alternates between instances for alternate().
	next atomic.Int32
}

// route makes f choose the instance for every following request.
func (rp *replicas) route(f func(*http.Request) int) { rp.pick.Store(&f) }

// onPath routes requests whose path ends with suffix to instance i and
// everything else to the other.
func (rp *replicas) onPath(suffix string, i int) {
	rp.route(func(r *http.Request) int {
		if strings.HasSuffix(r.URL.Path, suffix) {
			return i
		}
		return 1 - i
	})
}

// alternate spreads requests over both instances in turn.
func (rp *replicas) alternate() {
	rp.route(func(*http.Request) int { return int(rp.next.Add(1) % 2) })
}

// etcdConfig adds a store section reaching etcd through cluster "etcd".
func etcdConfig(template, prefix, extraStore string) string {
	store := `"store": {` + extraStore + `"etcd": {"cluster": "etcd", "key_prefix": "` + prefix + `", "timeout": "2s"}}`
	i := strings.LastIndex(template, "}")
	return template[:i] + ",\n  " + store + "\n}\n"
}

var replicaPrefixes atomic.Int32

// startReplicas starts the two instances; instance i reaches etcd at
// etcdURLs[i]. cfgTemplate gets a store section with a key prefix of its
// own, so tests can share one etcd cluster.
func startReplicas(t testing.TB, etcdURLs [2]string, cfgTemplate, extraStore string) *replicas {
	return startReplicasOf(t, wasm, etcdURLs, cfgTemplate, extraStore, nil)
}

// startReplicasOf is startReplicas for a kind of target: wasm (harness
// hosts, which also get clusters) or native (authhttp handlers, each with
// its own engine).
func startReplicasOf(t testing.TB, kind string, etcdURLs [2]string, cfgTemplate, extraStore string, clusters map[string]harness.Cluster) *replicas {
	t.Helper()
	demo := demomcp.NewDemo(demomcp.Options{AllowAnyHost: true})
	upstream := httptest.NewServer(demo.Handler)
	t.Cleanup(upstream.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &replicas{base: "http://" + ln.Addr().String()}
	rp.prefix = "mcpgate-test/" + t.Name() + "/" + string(rune('a'+replicaPrefixes.Add(1)%26)) + "/"
	cfg := etcdConfig(strings.ReplaceAll(cfgTemplate, "{{BASE}}", rp.base), rp.prefix, extraStore)
	for i := range rp.hosts {
		if kind == native {
			c, err := authcore.ParseConfig([]byte(cfg))
			if err != nil {
				t.Fatal(err)
			}
			eng, err := authcore.New(c, authcore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(upstream.URL)
			rp.handlers[i] = &authhttp.Handler{Engine: eng, Next: httputil.NewSingleHostReverseProxy(u), Clusters: map[string]string{"etcd": etcdURLs[i]}}
			continue
		}
		cl := map[string]harness.Cluster{"etcd": {URL: etcdURLs[i]}}
		for k, v := range clusters {
			cl[k] = v
		}
		h, err := harness.New(context.Background(), harness.Options{
			Wasm:         filterWasm(t),
			PluginConfig: []byte(cfg),
			VMs:          2,
			Upstream:     upstream.URL,
			Clusters:     cl,
			Log: func(level int, msg string) {
				if level >= 4 {
					t.Logf("instance %c: wasm[%d]: %s", 'A'+i, level, msg)
				}
			},
		})
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		rp.hosts[i], rp.handlers[i] = h, h
	}
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if f := rp.pick.Load(); f != nil {
			i = (*f)(r)
		}
		rp.handlers[i].ServeHTTP(w, r)
	})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: front}}
	srv.Start()
	t.Cleanup(srv.Close)
	return rp
}

// target returns the replicas as a target for the suite's helpers.
func (rp *replicas) target() *target { return &target{kind: wasm, base: rp.base} }

var (
	sharedEtcdOnce sync.Once
	sharedEtcd     *etcdtest.Cluster
	sharedEtcdErr  error
)

// oneEtcd returns a one-member etcd cluster shared by the tests that do not
// stop it (each gateway uses its own key prefix).
func oneEtcd(t testing.TB) *etcdtest.Cluster {
	t.Helper()
	sharedEtcdOnce.Do(func() {
		dir, err := etcdtest.TempDir()
		if err != nil {
			sharedEtcdErr = err
			return
		}
		sharedEtcd, sharedEtcdErr = etcdtest.Start(dir, 1)
		afterAll = append(afterAll, func() {
			if sharedEtcd != nil {
				sharedEtcd.Close()
			}
			os.RemoveAll(dir)
		})
	})
	if sharedEtcdErr != nil {
		t.Fatalf("etcd: %v", sharedEtcdErr)
	}
	return sharedEtcd
}

// newEtcd starts a cluster of n members for one test.
func newEtcd(t testing.TB, n int) *etcdtest.Cluster {
	t.Helper()
	c, err := etcdtest.Start(t.TempDir(), n)
	if err != nil {
		t.Fatalf("etcd: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// tokenPost posts a form to the token endpoint (or another) and decodes
// the JSON answer.
func tokenPost(t testing.TB, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	m := map[string]any{}
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}
