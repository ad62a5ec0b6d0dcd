package authcore

import (
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// What the resource guard does with a token whose grant must be rechecked
// while the store cannot answer (StoreConfig.RevocationOutage).
const (
	// RevocationOutageDeny answers 503 temporarily_unavailable: no request
	// passes on a grant that could have been revoked unseen. The default.
	RevocationOutageDeny = "deny"
	// RevocationOutageAllow lets a token whose signature, lifetime and
	// audience check out through without the recheck, counting and logging
	// the outage: a grant revoked on another instance during the outage
	// keeps working until its access tokens expire. Revocations made by
	// this VM still apply.
	RevocationOutageAllow = "allow"
)

// StoreConfig selects where the records every instance must see live (the
// "store" config section). Without an etcd section they live in proxy-wasm
// shared data (one Envoy process) or, natively, in the Options.Store the
// host gives.
type StoreConfig struct {
	// RevocationRecheck bounds how long a VM trusts that a grant it found
	// live is still not revoked: a revocation on any instance stops the
	// grant's access tokens everywhere within this time. Each VM reads a
	// grant's revocation marker at most once per interval. Default 1s.
	RevocationRecheck time.Duration
	// RevocationOutage is RevocationOutageDeny (default) or
	// RevocationOutageAllow.
	RevocationOutage string
	// Etcd, when set, keeps the records in etcd (store_etcd.go).
	Etcd *EtcdConfig
}

// EtcdConfig reaches an etcd v3 cluster through its JSON gateway
// (/v3/kv/range, /v3/kv/txn, /v3/lease/grant) by outbound calls to an
// Envoy cluster, so TLS and mTLS to etcd are the cluster's business.
type EtcdConfig struct {
	// Cluster is the Envoy cluster of the etcd client endpoints. Required.
	Cluster string
	// Authority is the :authority of the calls; default the cluster name.
	Authority string
	// KeyPrefix is put before every key mcpgate writes; default
	// "mcpgate/<issuer>/". Instances that share state must share it.
	KeyPrefix string
	// Timeout bounds each call to etcd; default 1s, between 50ms and 10s.
	Timeout time.Duration
	// Username and Password, when set, authenticate to etcd
	// (/v3/auth/authenticate); the token is kept per VM and renewed when
	// etcd refuses it.
	Username, Password string
}

// storeConfig parses the "store" section.
func (p *cfgParser) storeConfig(path string, v jsonv.Result, s *StoreConfig) {
	s.RevocationRecheck = time.Second
	s.RevocationOutage = RevocationOutageDeny
	p.object(path, v, map[string]func(string, jsonv.Result){
		"revocation_recheck": p.duration(&s.RevocationRecheck, 100*time.Millisecond, time.Minute),
		"revocation_outage": func(fp string, v jsonv.Result) {
			p.str(&s.RevocationOutage)(fp, v)
			if s.RevocationOutage != RevocationOutageDeny && s.RevocationOutage != RevocationOutageAllow {
				p.fail(fp, "must be "+quote(RevocationOutageDeny)+" or "+quote(RevocationOutageAllow))
			}
		},
		"etcd": func(fp string, v jsonv.Result) {
			if !v.Exists() {
				return
			}
			s.Etcd = p.etcdConfig(fp, v)
		},
	})
}

func (p *cfgParser) etcdConfig(path string, v jsonv.Result) *EtcdConfig {
	c := &EtcdConfig{Timeout: time.Second}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"cluster":    p.str(&c.Cluster),
		"authority":  p.str(&c.Authority),
		"key_prefix": p.str(&c.KeyPrefix),
		"timeout":    p.duration(&c.Timeout, 50*time.Millisecond, 10*time.Second),
		"username":   p.str(&c.Username),
		"password":   p.str(&c.Password),
	})
	if c.Cluster == "" {
		p.fail(join(path, "cluster"), "required: the Envoy cluster of the etcd endpoints")
	}
	switch {
	case c.Authority != "" && !validAuthority(c.Authority):
		p.fail(join(path, "authority"), "must be a host[:port]")
	case c.Authority == "" && c.Cluster != "" && !validAuthority(c.Cluster):
		p.fail(join(path, "authority"), "required: the cluster name "+quote(c.Cluster)+" is not a host name (an Istio cluster such as outbound|2379||etcd.example.com needs the etcd host here)")
	case c.Authority == "":
		c.Authority = c.Cluster
	}
	if (c.Username == "") != (c.Password == "") {
		p.fail(path, `give "username" and "password" together`)
	}
	return c
}

// validAuthority reports whether s can be an HTTP :authority: a host
// name, IPv4 or bracketed IPv6 address, and an optional port.
func validAuthority(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// validateStore fills in what depends on other sections.
func (p *cfgParser) validateStore(c *Config) {
	if e := c.Store.Etcd; e != nil && e.KeyPrefix == "" {
		e.KeyPrefix = "mcpgate/" + c.Issuer + "/"
	}
}
