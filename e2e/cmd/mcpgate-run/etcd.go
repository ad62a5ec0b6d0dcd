package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mcpgate/mcpgate/e2e/etcdtest"
)

// etcdOptions are the flags for trying the etcd store locally: a
// configuration with "store": {"etcd": {"cluster": "etcd"}} needs a cluster
// named etcd, either one you run (-cluster etcd=http://127.0.0.1:2379) or an
// embedded member started here (-embedded-etcd).
type etcdOptions struct {
	embedded bool
	dir      string
	cluster  string
}

func addEtcdFlags(flags *flag.FlagSet, o *etcdOptions) {
	flags.BoolVar(&o.embedded, "embedded-etcd", false,
		"start an embedded one-member etcd on loopback for the store (a config with \"store\": {\"etcd\": {\"cluster\": \"etcd\"}}); its URL becomes the cluster named by -embedded-etcd-cluster")
	flags.StringVar(&o.dir, "embedded-etcd-dir", "", "data directory of the embedded etcd (default: a temporary directory, removed on exit)")
	flags.StringVar(&o.cluster, "embedded-etcd-cluster", "etcd", "cluster name the embedded etcd is reached by")
}

// startEtcd starts the embedded member when asked and adds its client URL
// to clusters. The returned function stops it (and is never nil).
func startEtcd(o *etcdOptions, clusters clusterFlags, logger *log.Logger) (func(), error) {
	if !o.embedded {
		return func() {}, nil
	}
	if _, taken := clusters[o.cluster]; taken {
		return nil, fmt.Errorf("-embedded-etcd: cluster %q is also given with -cluster", o.cluster)
	}
	dir, temp := o.dir, o.dir == ""
	if temp {
		var err error
		if dir, err = etcdtest.TempDir(); err != nil {
			return nil, err
		}
	}
	c, err := etcdtest.Start(filepath.Clean(dir), 1)
	if err != nil {
		if temp {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	clusters[o.cluster] = c.URL(0)
	logger.Printf("embedded etcd on %s (data in %s), cluster %q", c.URL(0), dir, o.cluster)
	return func() {
		c.Close()
		if temp {
			os.RemoveAll(dir)
		}
	}, nil
}
