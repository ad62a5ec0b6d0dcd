package authcore

import (
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// Operators' revocations and blocks (admin.go) live in one Store record,
// admin/state, so they work with every Store backend (shared data, etcd)
// and each VM reads them with one lookup:
//
//   - "revoke all grants of a user / of a client" records a time: every
//     grant created and every access token issued at or before it is dead
//     (a refresh or a code redemption of such a grant is invalid_grant, the
//     guard refuses such a token). Entries are dropped once no grant of
//     that time can be alive any more;
//   - "block a client id / a CIMD host" stays until unblocked: the client
//     is refused at /authorize and /token (invalid_client) and its tokens
//     by the guard.
//
// Bound: a VM reuses what it read for store.revocation_recheck (default
// adminRecheck), so a revocation or block reaches every worker of every
// Envoy sharing the store within that time.

// adminStateKey is the Store key of the operators' record.
const adminStateKey = "admin/state"

// adminRecheck is how long a VM trusts the admin state it read when
// store.revocation_recheck is not set (config_store.go): the same bound as
// a revoked grant's.
const adminRecheck = time.Second

// adminRecheckInterval is the configured bound.
func (e *Engine) adminRecheckInterval() time.Duration {
	if d := e.cfg.Store.RevocationRecheck; d > 0 {
		return d
	}
	return adminRecheck
}

// maxAdminEntries bounds the record (an entry is its key, up to 2 KiB, and a
// time).
const maxAdminEntries = 2000

// adminState is the admin/state record: subjects, client ids and
// lower-case CIMD hosts as given (the guard looks them up on every request:
// no hashing on the hot path).
type adminState struct {
	Subjects       map[string]int64 `json:"u,omitempty"`
	Clients        map[string]int64 `json:"c,omitempty"`
	BlockedClients map[string]int64 `json:"bc,omitempty"`
	BlockedHosts   map[string]int64 `json:"bh,omitempty"`
}

func (s *adminState) entries() int {
	return len(s.Subjects) + len(s.Clients) + len(s.BlockedClients) + len(s.BlockedHosts)
}

// adminCache is one VM's copy of the admin state.
type adminCache struct {
	_   [0]func() // not comparable: no equality function in the wasm module
	mu  vmLock
	st  *adminState
	ver uint64
	// fetchedAt is when st was read, in Unix nanoseconds (unixNano); 0
	// forces the next read.
	fetchedAt int64
}

// adminView calls then with the admin state, read from the Store unless
// this VM read it less than adminRecheck ago.
func (e *Engine) adminView(then func(*adminState, error) Outcome) Outcome {
	if st := e.adminFresh(e.now()); st != nil {
		return then(st, nil)
	}
	return e.store.Get(adminStateKey, func(val []byte, ver uint64, err error) Outcome {
		st, err := e.adminRead(val, ver, err)
		if err != nil {
			e.log(LogError, "mcpgate: reading the admin state failed: "+err.Error())
			return then(nil, err)
		}
		return then(st, nil)
	})
}

// adminRead parses a read of admin/state into the cache (reusing the
// parsed record when the version did not change).
func (e *Engine) adminRead(val []byte, ver uint64, err error) (*adminState, error) {
	c := &e.admin
	st := &adminState{}
	switch {
	case errors.Is(err, ErrNotFound):
		ver = 0
	case err != nil:
		return nil, err
	default:
		c.mu.Lock()
		same := c.st != nil && c.ver == ver
		if same {
			st = c.st
		}
		c.mu.Unlock()
		if !same {
			if err := st.unmarshal(val); err != nil {
				return nil, err
			}
		}
	}
	c.mu.Lock()
	c.st, c.ver, c.fetchedAt = st, ver, unixNano(e.now())
	c.mu.Unlock()
	return st, nil
}

// cimdHost returns the lower-case host of a URL client id, or "".
func cimdHost(clientID string) string {
	if !strings.HasPrefix(clientID, "https://") {
		return ""
	}
	u, err := uri.Parse(clientID)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// clientBlocked reports whether the client id, or the host of a metadata
// document client id, is blocked.
func (s *adminState) clientBlocked(clientID string) bool {
	if s == nil {
		return false
	}
	if _, ok := s.BlockedClients[clientID]; ok {
		return true
	}
	if len(s.BlockedHosts) == 0 {
		return false
	}
	if h := cimdHost(clientID); h != "" {
		_, ok := s.BlockedHosts[h]
		return ok
	}
	return false
}

// revokedAt reports whether something of sub and clientID issued at t
// (Unix seconds) was revoked by an operator.
func (s *adminState) revokedAt(sub, clientID string, t int64) bool {
	if s == nil || s.entries() == 0 {
		return false
	}
	if at, ok := s.Subjects[sub]; ok && t <= at {
		return true
	}
	if at, ok := s.Clients[clientID]; ok && t <= at {
		return true
	}
	return s.clientBlocked(clientID)
}

// adminScreen is the operators' check of a resolved client, wrapped around
// every client resolution (clients.go): a blocked client is unknown from
// then on (invalid_client), and the native https rule (clientpolicy.go)
// applies.
func (e *Engine) adminScreen(then func(*Client, *Error) Outcome) func(*Client, *Error) Outcome {
	return func(c *Client, oe *Error) Outcome {
		if oe != nil {
			return then(c, oe)
		}
		if oe := e.checkNativeHTTPS(c); oe != nil {
			return then(nil, oe)
		}
		return e.adminView(func(st *adminState, err error) Outcome {
			if err != nil {
				// The store is out: the flow's own next Store operation
				// answers for that (503 temporarily_unavailable), and the
				// guard applies store.revocation_outage to the tokens.
				return then(c, nil)
			}
			if st.clientBlocked(c.ID) {
				e.count("mcpgate.admin.blocked_client_refused")
				return then(nil, newError(ErrCodeInvalidClient, 401, "this client has been blocked by the operator of this server"))
			}
			return then(c, nil)
		})
	}
}

// grantAdminError refuses a grant an operator revoked (by user or client)
// or whose client is blocked. It reads the admin state this VM holds: at
// the token endpoint the client's resolution refreshed it a moment ago.
func (e *Engine) grantAdminError(g *grantRecord) *Error {
	e.admin.mu.Lock()
	st := e.admin.st
	e.admin.mu.Unlock()
	if st.revokedAt(g.Subject, g.ClientID, g.Created) {
		return newError(ErrCodeInvalidGrant, 400, "the authorization grant was revoked")
	}
	return nil
}

// authorize is the guard's last step for a valid token: the operators'
// revocations and blocks, then scopes and rules (guard.go). now is the
// caller's reading of the clock: in wasm each reading is two host calls
// (wall and monotonic), so the guard reads it once per request.
func (e *Engine) authorize(req *Request, r *Resource, claims *AccessTokenClaims, now time.Time) Outcome {
	if st := e.adminFresh(now); st != nil {
		// The common case: no closure, no lookup.
		return e.authorizeAdmin(req, r, claims, st, now)
	}
	return e.adminView(func(st *adminState, err error) Outcome {
		// After the store's answer the clock is read again.
		if err != nil {
			return e.revocationOutage(req, func() Outcome { return e.authorizeScopes(req, r, claims, e.now()) })
		}
		return e.authorizeAdmin(req, r, claims, st, e.now())
	})
}

func (e *Engine) authorizeAdmin(req *Request, r *Resource, claims *AccessTokenClaims, st *adminState, now time.Time) Outcome {
	if st.revokedAt(claims.Subject, claims.ClientID, claims.IssuedAt.Unix()) {
		return e.deny(req, r, denyRevoked, 401, ErrCodeInvalidToken, "the access token is invalid or expired", nil)
	}
	return e.authorizeScopes(req, r, claims, now)
}

// adminFresh returns the admin state this VM read less than adminRecheck
// before now, or nil.
func (e *Engine) adminFresh(now time.Time) *adminState {
	c := &e.admin
	n, fresh := unixNano(now), int64(e.adminRecheckInterval())
	c.mu.Lock() // not deferred, as in tokenCache.get
	st := c.st
	// Not fresh when the wall clock went back since the reading.
	if d := n - c.fetchedAt; d < 0 || d >= fresh {
		st = nil
	}
	c.mu.Unlock()
	return st
}
