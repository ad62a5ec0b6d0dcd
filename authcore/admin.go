package authcore

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonw"
)

// The admin API lets an operator cut access off (admin_state.go holds the
// record it writes):
//
//	POST <admin.path>
//	Authorization: Bearer <admin credential>
//	Content-Type: application/json
//
//	{"action": "revoke_grant",  "grant": "<grant id>"}
//	{"action": "revoke_user",   "sub": "<subject>"}
//	{"action": "revoke_client", "client_id": "<client id>"}
//	{"action": "block_client",  "client_id": "<client id>"}
//	{"action": "unblock_client","client_id": "<client id>"}
//	{"action": "block_host",    "host": "<CIMD client id host>"}
//	{"action": "unblock_host",  "host": "<CIMD client id host>"}
//
// The credential is a bearer token (RFC 6750 §2.1) whose SHA-256 (hex) is
// "admin.token_sha256" in the configuration: the filter never holds the
// credential itself. Route the admin path only from the internal network
// (docs/config.md shows an Envoy route that refuses it from outside). Each
// action is idempotent and answers 200 {"ok": true, "action": ...}; every
// request, accepted or refused, is an admin_action audit line.

// AdminConfig is the top-level "admin" object.
//
//	"admin": {"path": "/mcpgate/admin", "token_sha256": "<64 hex digits>"}
type AdminConfig struct {
	// Path is the request path of the admin API; empty switches it off.
	Path string
	// tokenHash is SHA-256 of the admin credential.
	tokenHash [32]byte
}

// AuditConfig is the top-level "audit" object (audit.go).
//
//	"audit": {"tool_calls": false, "unauthenticated": false, "filter_state": true}
type AuditConfig struct {
	// ToolCalls writes a tool_call line for every allowed named operation
	// (tools/call, prompts/get, resources/read...) on every resource, and so
	// reads the body of every guarded POST. Default false: tool_call lines
	// are then written for the resources that have rules, whose bodies the
	// guard reads anyway; reading every body roughly doubles the wasm cost
	// of a cached-token request.
	ToolCalls bool
	// Unauthenticated also writes guard_denied lines for requests without
	// any token, the first step of every client's discovery (default
	// false: they carry no identity).
	Unauthenticated bool
	// FilterState sets each guarded request's decision as filter state
	// (audit.go; default true). Each value is one host call per request.
	FilterState bool
}

const maxAdminBody = 4 << 10

func (p *cfgParser) adminConfig(path string, v jsonv.Result, dst *AdminConfig) {
	var hash string
	p.object(path, v, map[string]func(string, jsonv.Result){
		"path":         p.str(&dst.Path),
		"token_sha256": p.str(&hash),
	})
	if !v.Exists() {
		return
	}
	if dst.Path == "" {
		p.fail(join(path, "path"), "required")
	}
	// Decoded by hand: encoding/hex's error type would link fmt.
	ok := len(hash) == 2*len(dst.tokenHash)
	for i := 0; ok && i < len(hash); i++ {
		ok = isHex(hash[i])
	}
	if !ok {
		p.fail(join(path, "token_sha256"), "required: the SHA-256 of the admin credential, 64 hex digits (printf %s \"$TOKEN\" | sha256sum)")
		return
	}
	for i := range dst.tokenHash {
		dst.tokenHash[i] = unhex(hash[2*i])<<4 | unhex(hash[2*i+1])
	}
}

func (p *cfgParser) auditConfig(path string, v jsonv.Result, dst *AuditConfig) {
	dst.FilterState = true
	p.object(path, v, map[string]func(string, jsonv.Result){
		"tool_calls":      p.boolean(&dst.ToolCalls),
		"unauthenticated": p.boolean(&dst.Unauthenticated),
		"filter_state":    p.boolean(&dst.FilterState),
	})
}

// addAdminRoute serves the admin API when configured.
func (e *Engine) addAdminRoute() {
	if e.cfg.Admin.Path != "" {
		e.routes[e.cfg.Admin.Path] = &route{methods: "POST", handle: e.handleAdmin}
	}
}

// handleAdmin serves one admin action.
func (e *Engine) handleAdmin(req *Request) Outcome {
	ev := auditEvent{Event: "admin_action", RequestID: requestID(req)}
	fail := func(oe *Error, extra Header) Outcome {
		ev.Status, ev.Reason = oe.Status, oe.Description
		e.audit(ev)
		return jsonError(oe, extra)
	}
	token, _ := bearerToken(req.Headers)
	h := sha256.Sum256([]byte(token))
	if token == "" || subtle.ConstantTimeCompare(h[:], e.cfg.Admin.tokenHash[:]) != 1 {
		e.count("mcpgate.admin.unauthorized")
		return fail(newError(ErrCodeInvalidToken, 401, "the admin credential is missing or wrong"),
			Header{{"www-authenticate", `Bearer realm="mcpgate-admin"`}, {"cache-control", "no-store"}})
	}
	if !isJSONContentType(req.Headers.Get("content-type")) {
		return fail(newError(ErrCodeInvalidRequest, 400, "the body must be application/json"), nil)
	}
	return ReadBody{Limit: maxAdminBody, Resume: func(body []byte) Outcome {
		if !jsonv.ValidBytes(body) || !jsonv.ParseBytes(body).IsObject() {
			return fail(newError(ErrCodeInvalidRequest, 400, "the body must be a JSON object"), nil)
		}
		b := jsonv.ParseBytes(body)
		str := func(k string) string {
			v := b.Get(k)
			if v.Type != jsonv.String || len(v.Str) > 2048 {
				return ""
			}
			return v.Str
		}
		ev.Action = str("action")
		done := func(target string) Outcome {
			ev.Status, ev.Target = 200, target
			e.audit(ev)
			e.count("mcpgate.admin." + ev.Action)
			o := jsonw.Object{}
			o.String("action", ev.Action)
			o.Bool("ok", true)
			o.String("target", target)
			return jsonReply(200, append(o.End(), '\n'), Header{{"cache-control", "no-store"}})
		}
		storeFailed := func(err error) Outcome {
			e.log(LogError, "mcpgate: admin action failed: "+err.Error())
			return fail(newError(ErrCodeServerError, 500, "the store could not record the action"), nil)
		}
		need := func(k string) (string, Outcome) {
			v := str(k)
			if v == "" {
				return "", fail(newError(ErrCodeInvalidRequest, 400, k+" is required: a non-empty string"), nil)
			}
			return v, nil
		}
		now := e.now().Unix()
		switch ev.Action {
		case "revoke_grant":
			gid, bad := need("grant")
			if bad != nil {
				return bad
			}
			ev.Grant = gid
			return e.revokeGrant(gid, "revoked by an operator", func(err error) Outcome {
				if err != nil {
					return storeFailed(err)
				}
				return done(gid)
			})
		case "revoke_user":
			sub, bad := need("sub")
			if bad != nil {
				return bad
			}
			ev.Subject = sub
			return e.updateAdmin(func(s *adminState) { s.Subjects = setEntry(s.Subjects, sub, now) }, storeFailed, func() Outcome { return done(sub) })
		case "revoke_client", "block_client", "unblock_client":
			id, bad := need("client_id")
			if bad != nil {
				return bad
			}
			ev.ClientID = id
			return e.updateAdmin(func(s *adminState) {
				switch ev.Action {
				case "revoke_client":
					s.Clients = setEntry(s.Clients, id, now)
				case "block_client":
					s.BlockedClients = setEntry(s.BlockedClients, id, now)
				default:
					delete(s.BlockedClients, id)
				}
			}, storeFailed, func() Outcome { return done(id) })
		case "block_host", "unblock_host":
			host, bad := need("host")
			if bad != nil {
				return bad
			}
			host = strings.ToLower(host)
			if !validHostName(host) {
				return fail(newError(ErrCodeInvalidRequest, 400, "host must be a host name such as app.example.com"), nil)
			}
			return e.updateAdmin(func(s *adminState) {
				if ev.Action == "block_host" {
					s.BlockedHosts = setEntry(s.BlockedHosts, host, now)
				} else {
					delete(s.BlockedHosts, host)
				}
			}, storeFailed, func() Outcome { return done(host) })
		}
		return fail(newError(ErrCodeInvalidRequest, 400, "action must be one of revoke_grant, revoke_user, revoke_client, block_client, unblock_client, block_host, unblock_host"), nil)
	}}
}

func setEntry(m map[string]int64, k string, v int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] = v
	return m
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// errAdminFull is returned when the admin record reached its bound.
var errAdminFull = errors.New("the admin record is full (too many revocations and blocks)")

// updateAdmin applies change to admin/state by compare-and-swap, dropping
// revocation times older than any grant can live, and makes this VM see the
// new record at once.
func (e *Engine) updateAdmin(change func(*adminState), failed func(error) Outcome, then func() Outcome) Outcome {
	var attempt func(n int) Outcome
	attempt = func(n int) Outcome {
		return e.store.Get(adminStateKey, func(val []byte, ver uint64, err error) Outcome {
			st := &adminState{}
			switch {
			case errors.Is(err, ErrNotFound):
				ver = 0
			case err != nil:
				return failed(err)
			default:
				if err := st.unmarshal(val); err != nil {
					return failed(err)
				}
			}
			change(st)
			// A grant lives at most lifetimes.refresh_token from its
			// creation, and its last access token a lifetime more.
			horizon := e.now().Add(-e.cfg.Lifetimes.RefreshToken - e.cfg.Lifetimes.AccessToken - 2*clockSkew).Unix()
			for _, m := range []map[string]int64{st.Subjects, st.Clients} {
				for k, t := range m {
					if t < horizon {
						delete(m, k)
					}
				}
			}
			if st.entries() > maxAdminEntries {
				return failed(errAdminFull)
			}
			nval := st.marshal()
			return e.store.Put(adminStateKey, nval, ver, 400*24*time.Hour, func(err error) Outcome {
				switch {
				case errors.Is(err, ErrConflict) && n+1 < maxCASAttempts:
					return attempt(n + 1)
				case err != nil:
					return failed(err)
				}
				// This VM sees the change at once; others within
				// adminRecheck.
				e.admin.mu.Lock()
				e.admin.fetchedAt = 0
				e.admin.mu.Unlock()
				return then()
			})
		})
	}
	return attempt(0)
}
