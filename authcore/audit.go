package authcore

import (
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
)

// The audit trail: every security event is one JSON object on one log
// line, so that a log pipeline can parse it without a grammar:
//
//	{"audit":"mcpgate","time":"2026-12-06T09:00:00Z","event":"token_issued",
//	 "sub":"alice","client_id":"https://app.example/cimd.json",
//	 "resource":"https://mcp.example.com/mcp","request_id":"…","grant":"…"}
//
// Events: client_registered, consent_given, consent_refused, code_issued,
// token_issued, token_refreshed, refresh_reuse, grant_revoked,
// policy_denied, policy_scopes_removed, admin_action, guard_denied (with
// reason) and tool_call (method and tool name of an allowed request).
// A line never carries a token, a code, a secret or a client assertion:
// only identifiers (subject, client id, the grant id, which is the public
// half of a refresh token), and names.
//
// Lines go to [Options.Audit], by default to the log at Info. The filter
// writes them to Envoy's log; the guard's decision is also Envoy filter
// state ([Options.FilterState]), for the access log and rate limits.

// auditEvent is one audit line; audit writes its fields under these JSON
// names, in this order, after "audit" and "time".
type auditEvent struct {
	Event     string   `json:"event"`
	Subject   string   `json:"sub,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Resource  string   `json:"resource,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
	Grant     string   `json:"grant,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	Method    string   `json:"method,omitempty"`
	Tool      string   `json:"tool,omitempty"`
	Status    int      `json:"status,omitempty"`
	// Admin fields: what an operator did to what.
	Action string `json:"action,omitempty"`
	Target string `json:"target,omitempty"`
	// at is the event's time when the caller has read the clock already;
	// zero means now.
	at time.Time
	// head, when set, is appendAuditHead's text for Event, Subject,
	// ClientID and Resource (toolCallHead), which audit then writes as
	// it is.
	head string
}

// appendAuditHead appends the part of an audit line between its time and
// its request_id: the event and the fields that name who did it where.
func appendAuditHead(b []byte, event, sub, clientID, resource string) []byte {
	b = append(b, `","event":`...)
	b = appendJSONString(b, event)
	b = appendAuditField(b, "sub", sub)
	b = appendAuditField(b, "client_id", clientID)
	return appendAuditField(b, "resource", resource)
}

// auditHead is the head of the tool_call lines of one token at one
// resource.
type auditHead struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	claims *AccessTokenClaims
	r      *Resource
	text   string
}

// auditHeads is the number of tool_call heads an engine keeps.
const auditHeads = 16

// toolCallHead returns the head of a tool_call line for claims at r
// (appendAuditHead). A tool_call line is written for every allowed tool
// call to a resource with rules; escaping its subject, client and
// resource again for each was a measurable part of the per-tool guard in
// wasm. The heads are kept in a small table indexed by the claims'
// address: a cached token's claims are one object for as long as it is
// cached, never written after verification, and kept alive by the head
// that names them, so an address names one token's claims.
func (e *Engine) toolCallHead(claims *AccessTokenClaims, r *Resource) string {
	slot := &e.auditHeads[addr(claims)/64%auditHeads]
	if h := slot.Load(); h != nil && h.claims == claims && h.r == r {
		return h.text
	}
	h := &auditHead{claims: claims, r: r, text: string(appendAuditHead(nil, "tool_call", claims.Subject, claims.ClientID, r.URI))}
	slot.Store(h)
	return h.text
}

// audit writes one audit line. It is built by hand (the field order and
// names of auditEvent's JSON tags): a tool_call line is written for every
// allowed request, and reflection would cost that request more than the
// guard itself.
func (e *Engine) audit(ev auditEvent) {
	// A single-threaded host's sink gets the engine's own buffer, written
	// again for the next line (Options.Audit): in wasm a tool_call line
	// was an allocation on every allowed tool call.
	line := e.auditBuf[:0]
	if e.auditBuf == nil {
		line = make([]byte, 0, 256)
	}
	line = append(line, `{"audit":"mcpgate","time":"`...)
	at := ev.at
	if at.IsZero() {
		at = e.now()
	}
	line = e.appendAuditTime(line, at)
	if ev.head != "" {
		line = append(line, ev.head...)
	} else {
		line = appendAuditHead(line, ev.Event, ev.Subject, ev.ClientID, ev.Resource)
	}
	line = appendAuditField(line, "request_id", ev.RequestID)
	line = appendAuditField(line, "grant", ev.Grant)
	line = appendAuditField(line, "reason", ev.Reason)
	if len(ev.Scopes) > 0 {
		line = append(line, `,"scopes":[`...)
		for i, s := range ev.Scopes {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendJSONString(line, s)
		}
		line = append(line, ']')
	}
	line = appendAuditField(line, "method", ev.Method)
	line = appendAuditField(line, "tool", ev.Tool)
	if ev.Status != 0 {
		line = append(line, `,"status":`...)
		line = strconv.AppendInt(line, int64(ev.Status), 10)
	}
	line = appendAuditField(line, "action", ev.Action)
	line = appendAuditField(line, "target", ev.Target)
	line = append(line, '}')
	if e.auditSink != nil {
		if e.auditBuf != nil {
			e.auditBuf = line[:0] // keeps a buffer that grew
		}
		e.auditSink(line)
		return
	}
	// line is this call's own buffer and is never written again, so the
	// log message can be a view of it rather than a copy.
	e.log(LogInfo, view(line))
}

// auditSecond is the audit time of one second, formatted once.
type auditSecond struct {
	_    [0]func() // not comparable: no equality function in the wasm module
	unix int64
	text string
}

// appendAuditTime appends now in UTC as RFC 3339 at second precision
// (time.RFC3339, no fraction), so its text depends on the second alone.
// The text of the latest second is kept and reused: formatting the time
// was a measurable part of a tool_call line in wasm, written on every
// allowed request to a resource with rules.
func (e *Engine) appendAuditTime(b []byte, now time.Time) []byte {
	sec := now.Unix()
	if c := e.auditClock.Load(); c != nil && c.unix == sec {
		return append(b, c.text...)
	}
	c := &auditSecond{unix: sec, text: now.UTC().Format(time.RFC3339)}
	e.auditClock.Store(c)
	return append(b, c.text...)
}

func appendAuditField(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

// requestID is the request's x-request-id (set by Envoy), for audit lines.
func requestID(req *Request) string {
	if req == nil {
		return ""
	}
	id := req.Headers.Get("x-request-id")
	if len(id) > 128 || clientmeta.HasControl(id) {
		return ""
	}
	return id
}

// Filter state names the guard sets on every guarded request (Envoy
// FILTER_STATE keys, prefixed by the host: "wasm." in Envoy).
const (
	FilterStateDecision = "mcpgate.decision"
	FilterStateSubject  = "mcpgate.subject"
	FilterStateClientID = "mcpgate.client_id"
	FilterStateTool     = "mcpgate.tool"
)

// decision records the guard's decision as filter state: "allow" or
// "deny:<reason>", and the subject, client and tool when known.
func (e *Engine) decision(verdict string, claims *AccessTokenClaims, tool string) {
	if e.filterState == nil {
		return
	}
	e.filterState(FilterStateDecision, verdict)
	if claims != nil {
		e.filterState(FilterStateSubject, claims.Subject)
		e.filterState(FilterStateClientID, claims.ClientID)
	}
	if tool != "" {
		e.filterState(FilterStateTool, tool)
	}
}
