package authcore

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// etcdStore is the [Store] kept in an etcd v3 cluster, reached through its
// JSON gateway by [Call]s to an Envoy cluster: every operation returns a
// Call whose Resume runs the continuation, so the same code serves the
// proxy-wasm filter (callouts) and authhttp (net/http). One exists per
// Engine, so per proxy-wasm VM; it is safe for concurrent use natively.
//
// Versions are etcd mod_revisions. Compare-and-swap and create-if-absent
// are transactions (etcd API "Txn": "compare ... target CREATE/MOD"), so
// a create of an existing key loses atomically across every instance: a client assertion's jti used on two
// instances at once is accepted once.
//
// Records expire in etcd itself: each is attached to a lease. Leases are
// shared per TTL bucket (a record expiring at T uses the VM's lease for the
// bucket that ends at or after T), so a write grants no lease of its own;
// a VM grants at most one lease per bucket. A bucket is an eighth of the
// record's TTL, at least 5 s and at most an hour, so a record outlives its
// TTL in etcd by at most that; within it, the expiry written in front of
// the value (8 bytes, Unix nanoseconds, as for shared data) makes the
// record read as missing at exactly its TTL.
type etcdStore struct {
	cfg   *EtcdConfig
	now   func() time.Time
	log   func(LogLevel, string)
	count func(string)

	mu sync.Mutex
	// leases maps a bucket's end (Unix seconds) to the lease granted for it.
	leases map[int64]int64
	// token is the etcd auth token, when Username is set.
	token string
	// down is set while etcd is failing (one log line and one count per
	// outage and per recovery).
	down bool
}

var _ Store = (*etcdStore)(nil)

func newEtcdStore(cfg *EtcdConfig, now func() time.Time, log func(LogLevel, string), count func(string)) *etcdStore {
	return &etcdStore{cfg: cfg, now: now, log: log, count: count, leases: map[int64]int64{}}
}

var b64std = base64.StdEncoding

// errLeaseNotFound is etcd refusing a put on a lease that no longer exists.
var errLeaseNotFound = errors.New("authcore: etcd: lease not found")

// errAuthToken is etcd refusing the auth token (expired or revoked).
var errAuthToken = errors.New("authcore: etcd: auth token refused")

// Get implements [Store] with one range request.
func (s *etcdStore) Get(key string, then func([]byte, uint64, error) Outcome) Outcome {
	k := s.cfg.KeyPrefix + key
	body := `{"key":"` + b64std.EncodeToString([]byte(k)) + `"}`
	return s.call("/v3/kv/range", body, func(r jsonv.Result, err error) Outcome {
		if err != nil {
			return then(nil, 0, err)
		}
		return s.read(first(r.Get("kvs")), then)
	})
}

// first returns the first element of the array arr; the non-existent
// Result when arr is not an array or is empty.
func first(arr jsonv.Result) (el jsonv.Result) {
	if arr.IsArray() {
		arr.ForEach(func(_, v jsonv.Result) bool {
			el = v
			return false
		})
	}
	return el
}

// read decodes one key-value of a range response.
func (s *etcdStore) read(kv jsonv.Result, then func([]byte, uint64, error) Outcome) Outcome {
	if !kv.Exists() {
		return then(nil, 0, ErrNotFound)
	}
	val, exp, rev, err := decodeKV(kv)
	if err != nil {
		return then(nil, 0, err)
	}
	if !s.now().Before(exp) {
		// Expired, its lease not yet: missing, but a compare-and-swap
		// against rev still orders a re-creation.
		return then(nil, rev, ErrNotFound)
	}
	return then(val, rev, nil)
}

// decodeKV reads value, expiry and mod_revision of a range response's kv.
func decodeKV(kv jsonv.Result) (value []byte, exp time.Time, rev uint64, err error) {
	raw, err1 := b64std.DecodeString(kv.Get("value").Str)
	rev, err2 := strconv.ParseUint(kv.Get("mod_revision").String(), 10, 64)
	if err1 != nil || err2 != nil || len(raw) < 8 || rev == 0 {
		return nil, time.Time{}, 0, unavailable("etcd: malformed record")
	}
	return raw[8:], time.Unix(0, int64(binary.BigEndian.Uint64(raw))), rev, nil
}

// Put implements [Store]: a transaction comparing the key's mod_revision
// with version (or its create_revision with 0: absent), putting the value
// on the bucket's lease. A ttl of zero or less deletes instead.
func (s *etcdStore) Put(key string, value []byte, version uint64, ttl time.Duration, then func(error) Outcome) Outcome {
	k := b64std.EncodeToString([]byte(s.cfg.KeyPrefix + key))
	if ttl <= 0 {
		return s.txn(k, version, "", 0, 0, then)
	}
	exp := s.now().Add(ttl)
	rec := make([]byte, 8+len(value))
	binary.BigEndian.PutUint64(rec, uint64(exp.UnixNano()))
	copy(rec[8:], value)
	v := b64std.EncodeToString(rec)
	return s.withLease(exp, ttl, func(lease int64, err error) Outcome {
		if err != nil {
			return then(err)
		}
		return s.txn(k, version, v, lease, 0, func(err error) Outcome {
			if !errors.Is(err, errLeaseNotFound) {
				return then(err)
			}
			// The lease is gone (etcd lost or revoked it): grant a
			// fresh one, once.
			s.dropLease(lease)
			return s.withLease(exp, ttl, func(lease int64, err error) Outcome {
				if err != nil {
					return then(err)
				}
				return s.txn(k, version, v, lease, 0, func(err error) Outcome {
					if errors.Is(err, errLeaseNotFound) {
						err = unavailable(err.Error())
					}
					return then(err)
				})
			})
		})
	})
}

// txn writes (value != "") or deletes (value == "") key k, both base64,
// if its version is still version. For version 0 the failure branch reads
// the key, so that a record expired but not yet dropped by its lease is
// taken over by a second compare-and-swap on its mod_revision (attempt 1).
func (s *etcdStore) txn(k string, version uint64, value string, lease int64, attempt int, then func(error) Outcome) Outcome {
	var b strings.Builder
	b.WriteString(`{"compare":[{"key":"`)
	b.WriteString(k)
	if version == 0 {
		b.WriteString(`","target":"CREATE","result":"EQUAL","create_revision":"0"}]`)
	} else {
		b.WriteString(`","target":"MOD","result":"EQUAL","mod_revision":"`)
		b.WriteString(strconv.FormatUint(version, 10))
		b.WriteString(`"}]`)
	}
	b.WriteString(`,"success":[`)
	switch {
	case value != "":
		b.WriteString(`{"request_put":{"key":"` + k + `","value":"` + value + `"`)
		if lease != 0 {
			b.WriteString(`,"lease":"` + strconv.FormatInt(lease, 10) + `"`)
		}
		b.WriteString(`}}`)
	case version != 0:
		b.WriteString(`{"request_delete_range":{"key":"` + k + `"}}`)
	}
	b.WriteString(`]`)
	if version == 0 {
		b.WriteString(`,"failure":[{"request_range":{"key":"` + k + `"}}]`)
	}
	b.WriteString(`}`)
	return s.call("/v3/kv/txn", b.String(), func(r jsonv.Result, err error) Outcome {
		if err != nil {
			return then(err)
		}
		if r.Get("succeeded").Bool() {
			return then(nil)
		}
		if version != 0 || attempt > 0 {
			return then(ErrConflict)
		}
		kv := first(first(r.Get("responses")).Get("response_range").Get("kvs"))
		if !kv.Exists() {
			// Deleted between compare and read: the key is free now,
			// but someone else just had it; a conflict is the safe
			// answer.
			return then(ErrConflict)
		}
		_, exp, rev, err := decodeKV(kv)
		if err != nil {
			return then(err)
		}
		if s.now().Before(exp) {
			return then(ErrConflict)
		}
		return s.txn(k, rev, value, lease, attempt+1, then)
	})
}

// leaseBucket is the width of the expiry bucket for a record of this TTL.
func leaseBucket(ttl time.Duration) int64 {
	g := int64(ttl / 8 / time.Second)
	return min(max(g, 5), 3600)
}

// withLease passes the VM's lease for the bucket of a record expiring at
// exp, granting it first when the VM has none yet.
func (s *etcdStore) withLease(exp time.Time, ttl time.Duration, then func(lease int64, err error) Outcome) Outcome {
	g := leaseBucket(ttl)
	end := (exp.Unix() + g) / g * g // the bucket ends after exp
	now := s.now()
	s.mu.Lock()
	id, ok := s.leases[end]
	s.mu.Unlock()
	if ok {
		return then(id, nil)
	}
	leaseTTL := end - now.Unix() + 1
	body := `{"TTL":"` + strconv.FormatInt(leaseTTL, 10) + `"}`
	return s.call("/v3/lease/grant", body, func(r jsonv.Result, err error) Outcome {
		if err != nil {
			return then(0, err)
		}
		id, perr := strconv.ParseInt(r.Get("ID").String(), 10, 64)
		if perr != nil || id == 0 {
			return then(0, unavailable("etcd: lease grant without an ID"))
		}
		s.mu.Lock()
		nowS := s.now().Unix()
		for e := range s.leases {
			if e <= nowS {
				delete(s.leases, e)
			}
		}
		s.leases[end] = id
		s.mu.Unlock()
		s.count("mcpgate.store.lease_granted")
		return then(id, nil)
	})
}

// dropLease forgets a lease etcd no longer knows.
func (s *etcdStore) dropLease(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e, l := range s.leases {
		if l == id {
			delete(s.leases, e)
		}
	}
}

// call posts body to an etcd JSON gateway path and passes the parsed
// answer on. Authentication, when configured, comes first; a refused token
// is renewed once.
func (s *etcdStore) call(path, body string, then func(jsonv.Result, error) Outcome) Outcome {
	if s.cfg.Username == "" {
		return s.post(path, body, "", then)
	}
	return s.authToken(func(token string, err error) Outcome {
		if err != nil {
			return then(jsonv.Result{}, err)
		}
		return s.post(path, body, token, func(r jsonv.Result, err error) Outcome {
			if !errors.Is(err, errAuthToken) {
				return then(r, err)
			}
			s.mu.Lock()
			if s.token == token {
				s.token = ""
			}
			s.mu.Unlock()
			return s.authToken(func(token string, err error) Outcome {
				if err != nil {
					return then(jsonv.Result{}, err)
				}
				return s.post(path, body, token, func(r jsonv.Result, err error) Outcome {
					if errors.Is(err, errAuthToken) {
						err = unavailable(err.Error())
					}
					return then(r, err)
				})
			})
		})
	})
}

// authToken passes the VM's etcd auth token, authenticating first when
// there is none (etcd API "Authenticate").
func (s *etcdStore) authToken(then func(string, error) Outcome) Outcome {
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	if token != "" {
		return then(token, nil)
	}
	body := `{"name":` + quote(s.cfg.Username) + `,"password":` + quote(s.cfg.Password) + `}`
	return s.post("/v3/auth/authenticate", body, "", func(r jsonv.Result, err error) Outcome {
		if err != nil {
			return then("", err)
		}
		token := r.Get("token").Str
		if token == "" {
			return then("", unavailable("etcd: authentication answered no token"))
		}
		s.mu.Lock()
		s.token = token
		s.mu.Unlock()
		return then(token, nil)
	})
}

// post is one call to the etcd cluster.
func (s *etcdStore) post(path, body, token string, then func(jsonv.Result, error) Outcome) Outcome {
	h := Header{{"content-type", "application/json"}}
	if token != "" {
		h = append(h, [2]string{"authorization", token})
	}
	return Call{
		Cluster:   s.cfg.Cluster,
		Method:    "POST",
		Authority: s.cfg.Authority,
		Path:      path,
		Headers:   h,
		Body:      []byte(body),
		Timeout:   s.cfg.Timeout,
		Resume: func(res CallResult) Outcome {
			r, err := s.answer(path, res)
			return then(r, err)
		},
	}
}

// answer interprets an etcd gateway response. Errors etcd reports about
// the request itself (a lost lease, a refused token) are returned as such;
// anything else (no answer, a timeout, a server error, an unreadable
// body) wraps ErrUnavailable and counts as an outage until a call
// succeeds again.
func (s *etcdStore) answer(path string, res CallResult) (jsonv.Result, error) {
	var err error
	switch {
	case res.Err != nil:
		err = unavailable("etcd " + path + ": " + res.Err.Error())
	case res.Status == 200 && jsonv.ValidBytes(res.Body):
		s.health(nil)
		return jsonv.ParseBytes(res.Body), nil
	default:
		msg := jsonv.GetBytes(res.Body, "message").Str
		if msg == "" {
			msg = jsonv.GetBytes(res.Body, "error").Str
		}
		switch {
		case strings.Contains(msg, "requested lease not found"):
			s.health(nil)
			return jsonv.Result{}, errLeaseNotFound
		case strings.Contains(msg, "invalid auth token"):
			s.health(nil)
			return jsonv.Result{}, errAuthToken
		}
		err = unavailable("etcd " + path + ": status " + itoa(res.Status) + ": " + truncate(msg, 200))
	}
	s.health(err)
	return jsonv.Result{}, err
}

// health logs and counts the start and the end of an outage, once each.
func (s *etcdStore) health(err error) {
	s.mu.Lock()
	was := s.down
	s.down = err != nil
	s.mu.Unlock()
	switch {
	case err != nil && !was:
		s.log(LogError, "mcpgate: store: etcd unavailable, answering temporarily_unavailable until it is back: "+err.Error())
		s.count("mcpgate.store.outage")
	case err == nil && was:
		s.log(LogInfo, "mcpgate: store: etcd is back")
		s.count("mcpgate.store.recovered")
	}
}
