package authcore

import (
	"strconv"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// Guard outcomes, for metrics: the engine counts each under
// "mcpgate.guard.allowed" or "mcpgate.guard.denied.<reason>".
const (
	denyNoToken           = "no_token"
	denyInvalidRequest    = "invalid_request"
	denyInvalidToken      = "invalid_token"
	denyWrongAudience     = "wrong_audience"
	denyExpired           = "expired"
	denyRevoked           = "revoked"
	denyInsufficientScope = "insufficient_scope"
	denyBadBody           = "bad_body"
)

// guardBearer enforces bearer-token authorization on a request to resource r
// (RFC 6750, RFC 9068 §4, MCP 2026-07-28 "Token Handling": "MCP servers
// MUST validate access tokens before processing the request").
func (e *Engine) guardBearer(req *Request, r *Resource) Outcome {
	if req.Method == "OPTIONS" {
		// A CORS preflight carries no credentials and is never challenged.
		return e.preflight(req, "GET, POST, DELETE")
	}
	// RFC 6750 §2.3 query tokens are forbidden by MCP ("Access tokens MUST
	// NOT be included in the URI query string").
	if _, query := req.splitPath(); query != "" && queryHasParam(query, "access_token") {
		return e.deny(req, r, denyInvalidRequest, 400, ErrCodeInvalidRequest, "access tokens must not be sent in the query string", nil)
	}
	token, errDesc := bearerCredential(req.Headers)
	if errDesc != "" {
		return e.deny(req, r, denyInvalidRequest, 400, ErrCodeInvalidRequest, errDesc, nil)
	}
	if token == "" {
		// RFC 6750 §3.1: "If the request lacks any authentication
		// information ..., the resource server SHOULD NOT include an error
		// code or other error information."
		return e.deny(req, r, denyNoToken, 401, "", "", nil)
	}
	now := e.now()
	claims := e.tokens.get(token)
	if claims != nil && claims.recheckAt != 0 && now.UnixNano() >= claims.recheckAt {
		claims = nil // an introspection result past its cache time
	}
	if claims == nil {
		// The b64token syntax is checked only for tokens not seen before:
		// a cached token was checked when it was first verified.
		if !isB64Token(token) {
			return e.deny(req, r, denyInvalidRequest, 400, ErrCodeInvalidRequest, "malformed Bearer credentials", nil)
		}
		if len(e.cfg.TrustedIssuers) > 0 {
			return e.verifyAnyIssuer(req, r, token) // guard_external.go
		}
		var reason string
		if claims, reason = e.verifyToken(token); reason != "" {
			return e.deny(req, r, reason, 401, ErrCodeInvalidToken, "the access token is invalid or expired", nil)
		}
	}
	return e.admit(req, r, claims, now)
}

// admit checks a verified token's time, issuer and audience for resource
// r, and its grant for mcpgate's own tokens, on every request (a cached
// token outlives the moment it was verified and serves every resource).
func (e *Engine) admit(req *Request, r *Resource, claims *AccessTokenClaims, now time.Time) Outcome {
	reason := ""
	if err := claims.checkTime(now); err != nil {
		reason = denyExpired
	} else {
		// RFC 8707 / MCP: "MUST validate that access tokens were issued
		// specifically for them as the intended audience".
		reason = r.acceptsToken(claims)
	}
	if reason != "" {
		return e.deny(req, r, reason, 401, ErrCodeInvalidToken, "the access token is invalid or expired", nil)
	}
	if claims.GrantID == "" || e.grantKnownLive(claims, now) {
		return e.authorize(req, r, claims, now)
	}
	return e.checkGrant(req, r, claims, now)
}

// authorizeScopes checks scopes, reading the body first when a rule needs
// it. now is the time the request was authorized at, which its tool_call
// audit lines carry (as Envoy's access log carries the request's start),
// so the body does not cost another reading of the clock.
func (e *Engine) authorizeScopes(req *Request, r *Resource, claims *AccessTokenClaims, now time.Time) Outcome {
	granted := grantedScopes{scope: claims.Scope, implies: r.Implies}
	if !granted.hasAll(r.Scopes) {
		return e.insufficientScope(req, r, r.Scopes, claims.Scope)
	}
	if (len(r.Rules) == 0 && !e.cfg.Audit.ToolCalls) || req.Method != "POST" {
		return e.allow(r, claims)
	}
	gb := req.guardBody
	if gb == nil {
		gb = new(guardBody)
		req.guardBody = gb
	}
	*gb = guardBody{e: e, req: req, r: r, claims: claims, now: now, granted: granted, out: gb.out, limit: gb.limit}
	if gb.out == nil || gb.limit != r.MaxBodyBytes {
		gb.out, gb.limit = ReadBody{Limit: r.MaxBodyBytes, Resume: gb.resume}, r.MaxBodyBytes
	}
	return gb.out
}

// guardBody is the state the guard resumes with once it has a body to
// read. A Request keeps one, with its ReadBody outcome built once, for
// its next request (Request.Reuse): a closure and its boxed outcome on
// every such request were two allocations, which in wasm cost their share
// of the collector's work.
type guardBody struct {
	_       [0]func() // not comparable: no equality function in the wasm module
	e       *Engine
	req     *Request
	r       *Resource
	claims  *AccessTokenClaims
	now     time.Time
	granted grantedScopes
	// out is ReadBody{Limit: limit, Resume: resume}.
	out   Outcome
	limit int
}

// resume checks the body against the resource's scopes and rules.
func (gb *guardBody) resume(body []byte) Outcome {
	e, req, r, claims, now, granted := gb.e, gb.req, gb.r, gb.claims, gb.now, gb.granted
	var buf [1]rpcOp // a single message, the usual body, needs no allocation
	ops, code, bad := jsonRPCOperations(buf[:0], body, r.MaxJSONDepth, &e.names)
	if bad != "" {
		e.count("mcpgate.guard.denied." + denyBadBody)
		return jsonRPCError(400, code, bad)
	}
	if msg := checkMCPHeaders(req.Headers, ops); msg != "" {
		e.count("mcpgate.guard.denied." + denyBadBody)
		return jsonRPCError(400, -32001, msg)
	}
	for _, op := range ops {
		if !r.opScopesMet(op, granted) {
			// The challenge names every scope the message needs
			// (the resource's and each operation's rules).
			need := append([]string(nil), r.Scopes...)
			for _, op := range ops {
				need = appendUnique(need, r.requiredScopes(op)...)
			}
			return e.insufficientScope(req, r, need, claims.Scope)
		}
	}
	if out := e.checkClaimRules(req, r, claims, ops, now); out != nil {
		return out
	}
	return e.allow(r, claims)
}

// grantedScopes is a token's scopes together with what they imply (the
// resource's implications are closed transitively at configuration, so
// one level is all of them). It answers membership without building the
// expanded list: the guard asks on every request.
type grantedScopes struct {
	scope   []string
	implies map[string][]string
}

func (g grantedScopes) has(s string) bool {
	for _, h := range g.scope {
		if h == s {
			return true
		}
	}
	for _, h := range g.scope {
		for _, i := range g.implies[h] {
			if i == s {
				return true
			}
		}
	}
	return false
}

func (g grantedScopes) hasAll(need []string) bool {
	for _, n := range need {
		if !g.has(n) {
			return false
		}
	}
	return true
}

// allow forwards the request without the client's token (MCP: "MUST NOT
// pass through the token it received from the MCP client") and with the
// verified identity in the configured headers, after removing any copy a
// client sent.
func (e *Engine) allow(r *Resource, claims *AccessTokenClaims) Outcome {
	e.count("mcpgate.guard.allowed")
	e.decision("allow", claims, "")
	if claims.forward != nil {
		return claims.forward
	}
	return Forward{Remove: e.stripHeaders, Set: e.identityHeaders(claims)}
}

// identityHeaders are the configured identity headers for claims. A
// cached token's Forward is built once, when it is verified (verifyToken),
// and shared by its requests (its slices are read-only).
func (e *Engine) identityHeaders(claims *AccessTokenClaims) Header {
	h := e.cfg.IdentityHeaders
	set := make(Header, 0, 3)
	if h.Subject != "" {
		set = append(set, [2]string{h.Subject, claims.Subject})
	}
	if h.ClientID != "" {
		set = append(set, [2]string{h.ClientID, claims.ClientID})
	}
	if h.Scope != "" {
		set = append(set, [2]string{h.Scope, claims.scopeString})
	}
	return append(set, e.claimHeaders(claims.Identity)...)
}

// insufficientScope answers 403 with the scopes this operation needs
// together with those already granted, never offline_access: both the
// 2025-11-25 advice (include granted scopes) and the 2026-07-28 rule
// (list every scope the operation needs; the client unites) are met.
func (e *Engine) insufficientScope(req *Request, r *Resource, need, granted []string) Outcome {
	scopes := appendUnique(nil, need...)
	for _, s := range granted {
		if s != ScopeOfflineAccess && validScopeToken(s) {
			scopes = appendUnique(scopes, s)
		}
	}
	return e.deny(req, r, denyInsufficientScope, 403, ErrCodeInsufficientScope, "the access token lacks a scope this request needs", scopes)
}

// deny renders a challenge. Every value in WWW-Authenticate comes from
// configuration or from a token mcpgate signed, never from request headers.
func (e *Engine) deny(req *Request, r *Resource, reason string, status int, code, desc string, scopes []string) Outcome {
	e.count("mcpgate.guard.denied." + reason)
	e.guardDenied(req, r, reason, status, nil)
	if scopes == nil && status == 401 {
		scopes = r.Scopes
	}
	var b strings.Builder
	b.WriteString("Bearer ")
	if code != "" {
		b.WriteString(`error="` + code + `", `)
	}
	if len(scopes) > 0 {
		b.WriteString(`scope="` + strings.Join(scopes, " ") + `", `)
	}
	b.WriteString(`resource_metadata="` + r.PRMURL() + `"`)
	if desc != "" {
		b.WriteString(`, error_description="` + desc + `"`)
	}
	reply := Reply{Status: status, Headers: Header{{"www-authenticate", b.String()}, {"cache-control", "no-store"}}}
	if code != "" {
		reply = jsonError(&Error{Code: code, Description: desc, Status: status}, reply.Headers[:1])
	} else {
		reply.Headers = append(reply.Headers, Header{{"content-type", "application/json"}}...)
		reply.Body = []byte(`{"error":"unauthorized","error_description":"a bearer access token is required"}` + "\n")
	}
	return e.withCORS(req, reply)
}

// bearerToken extracts the token of "Authorization: Bearer <token>" (RFC
// 6750 §2.1; the scheme is case-insensitive). errDesc is set for a
// malformed request: several Authorization fields, or a Bearer credential
// that is not a b64token. A request without Bearer credentials yields "".
func bearerToken(h Header) (token, errDesc string) {
	token, errDesc = bearerCredential(h)
	if token != "" && !isB64Token(token) {
		return "", "malformed Bearer credentials"
	}
	return token, errDesc
}

// bearerCredential is bearerToken without the b64token syntax check.
func bearerCredential(h Header) (token, errDesc string) {
	var val string
	n := 0
	for _, kv := range h {
		if kv[0] == "authorization" {
			val = kv[1]
			n++
		}
	}
	switch n {
	case 0:
		return "", ""
	case 1:
	default:
		return "", "more than one Authorization header"
	}
	if tok, ok := plainBearer(val); ok {
		return tok, ""
	}
	return readBearer(val)
}

// readBearer reads one Authorization value: "" for another scheme, an
// error text for a Bearer credential without a token.
func readBearer(val string) (token, errDesc string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(val), " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", ""
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" {
		return "", "malformed Bearer credentials"
	}
	return rest, ""
}

// plainBearer reads the usual credential, "Bearer " (any case) and then a
// token that starts with no space and ends in printable ASCII, without a
// call: the general reading, readBearer (TrimSpace, Cut, EqualFold,
// TrimLeft), is a dozen calls in wasm, on every guarded request.
// For such a value both readings agree (FuzzPlainBearer); ok is false for
// anything else, which the general reading then decides.
func plainBearer(val string) (token string, ok bool) {
	if len(val) < 8 || val[6] != ' ' || val[7] == ' ' || val[len(val)-1] <= ' ' || val[len(val)-1] >= 0x7f {
		return "", false
	}
	// ASCII letters only: setting bit 5 lower-cases a letter and maps no
	// other byte onto one of "bearer"'s.
	if val[0]|0x20 != 'b' || val[1]|0x20 != 'e' || val[2]|0x20 != 'a' || val[3]|0x20 != 'r' || val[4]|0x20 != 'e' || val[5]|0x20 != 'r' {
		return "", false
	}
	return val[7:], true
}

// b64tokenChars marks the characters of RFC 6750 §2.1's b64token before
// its "=" padding: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
var b64tokenChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// isB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// queryHasParam reports whether a raw query has a parameter named name,
// also when percent-encoded.
func queryHasParam(query, name string) bool {
	for query != "" {
		var part string
		part, query, _ = strings.Cut(query, "&")
		k, _, _ := strings.Cut(part, "=")
		if k == name {
			return true
		}
		if strings.IndexByte(k, '%') >= 0 || strings.IndexByte(k, '+') >= 0 {
			if d, ok := normalizeQueryKey(k); ok && d == name {
				return true
			}
		}
	}
	return false
}

func normalizeQueryKey(k string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%':
			if i+2 >= len(k) || !isHex(k[i+1]) || !isHex(k[i+2]) {
				return "", false
			}
			b.WriteByte(unhex(k[i+1])<<4 | unhex(k[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func appendUnique(dst []string, ss ...string) []string {
outer:
	for _, s := range ss {
		for _, d := range dst {
			if d == s {
				continue outer
			}
		}
		dst = append(dst, s)
	}
	return dst
}

// rpcOp is what the guard reads of one JSON-RPC message.
type rpcOp struct{ method, name string }

// JSON-RPC 2.0 §5.1 error codes the guard answers with.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
)

// jsonRPCOperations extracts method and target name of a JSON-RPC message
// or of each element of a batch. bad describes an unusable body and code
// is its JSON-RPC error code.
//
// The body is read only after strictjson has accepted it (RFC 8259 with
// unique member names after unescaping, valid UTF-8, at most maxDepth
// levels; 0 means strictjson.DefaultMaxDepth), so this reading and the
// MCP server's cannot differ: a body such as
// {"method":"tools/call","params":{"name":"echo","name":"admin"}}, which
// a first-wins reader sees as "echo" and a last-wins server runs as
// "admin", is refused. RFC 8259 §4: "When the names within an object are
// not unique, the behavior of software that receives such an object is
// unpredictable"; RFC 7493 §2.3: "Objects in I-JSON messages MUST NOT have
// members with duplicate names".
//
// The operations are appended to ops (the caller's buffer), their names
// copied out of body (rpcOp.detach with names, which may be nil).
func jsonRPCOperations(ops []rpcOp, body []byte, maxDepth int, names *nameTable) (_ []rpcOp, code int, bad string) {
	if op, ok := fastCheckedOperation(body, maxDepth); ok {
		return append(ops, op.detach(names)), 0, ""
	}
	switch err := strictjson.Check(body, strictjson.Options{MaxDepth: maxDepth}).(type) {
	case nil:
	case *strictjson.DuplicateError:
		return nil, rpcInvalidRequest, "request body repeats the member name " + quote(err.Name) + " at " + err.Path
	case *strictjson.DepthError:
		return nil, rpcInvalidRequest, "request body is nested deeper than " + itoa(err.Limit) + " levels"
	default:
		return nil, rpcParseError, "request body is not valid JSON"
	}
	// The body is read in place, not copied (it may be MaxBodyBytes
	// long); what outlives this call, the operations' method and name, is
	// copied out (detach); a refusal's text is built by concatenation and
	// strconv.Quote, which copy.
	if op, ok := fastOperation(body); ok {
		return append(ops, op.detach(names)), 0, ""
	}
	v := jsonv.Parse(view(body))
	if v.IsArray() {
		arr := v.Array()
		if len(arr) == 0 {
			return nil, rpcInvalidRequest, "empty JSON-RPC batch"
		}
		for _, el := range arr {
			op, bad := oneOperation(el)
			if bad != "" {
				return nil, rpcInvalidRequest, bad
			}
			ops = append(ops, op.detach(names))
		}
		return ops, 0, ""
	}
	op, bad := oneOperation(v)
	if bad != "" {
		return nil, rpcInvalidRequest, bad
	}
	return append(ops, op.detach(names)), 0, ""
}

// detach copies op's strings out of the body they point into: the body
// is the caller's buffer, and the name reaches the audit trail and the
// host's filter state. With a name table they are interned (nameTable),
// without one copied in one allocation.
func (op rpcOp) detach(names *nameTable) rpcOp {
	if op.method == "" && op.name == "" {
		return op
	}
	if names != nil {
		return rpcOp{method: names.intern(op.method), name: names.intern(op.name)}
	}
	// Not op.method + op.name: a concatenation with an empty operand
	// returns the other operand itself, still in the body.
	b := make([]byte, 0, len(op.method)+len(op.name))
	b = append(append(b, op.method...), op.name...)
	s := view(b)
	return rpcOp{method: s[:len(op.method)], name: s[len(op.method):]}
}

func oneOperation(v jsonv.Result) (rpcOp, string) {
	if !v.IsObject() {
		return rpcOp{}, "JSON-RPC message is not an object"
	}
	m, params, bad := pick(v, "method", "params")
	if bad != "" {
		return rpcOp{}, bad
	}
	if !m.Exists() {
		// A response or notification result from the client: no method,
		// nothing to authorize beyond the baseline.
		return rpcOp{}, ""
	}
	if m.Type != jsonv.String {
		return rpcOp{}, "JSON-RPC method is not a string"
	}
	op := rpcOp{method: m.Str}
	member, named := targetMember(m.Str)
	if !named {
		return op, ""
	}
	var n jsonv.Result
	if params.IsObject() {
		if n, _, bad = pick(params, member, ""); bad != "" {
			return rpcOp{}, bad
		}
	} else {
		n = params.Get(member)
	}
	if n.Exists() && n.Type != jsonv.String {
		return rpcOp{}, "JSON-RPC params." + member + " is not a string"
	}
	op.name = n.Str
	return op, ""
}

// targetMember names the params member that says what a method acts on:
// the tool's or prompt's name, or the resource's URI. named is false for
// methods without a target.
func targetMember(method string) (member string, named bool) {
	switch method {
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return "uri", true
	case "tools/call", "prompts/get":
		return "name", true
	}
	return "", false
}

// pick reads the object v in one pass: the values of the members named a
// and b (b may be empty, and the first member of a name wins, as with
// jsonv's Get), and a refusal of any member whose name differs from a or
// b only by case, such as "Method" or "nAme": encoding/json and many
// decoders built like it match struct fields case-insensitively
// ("preferring an exact match but also accepting a case-insensitive
// match"), keeping the last such member, while the guard reads the exact
// name; refusing the variants leaves one reading. The first variant in
// document order is named. One walk instead of three (two Gets and a
// variant scan), which reads only the two values (jsonv.Members): the
// walk is most of the per-tool body check in wasm.
func pick(v jsonv.Result, a, b string) (va, vb jsonv.Result, bad string) {
	m := v.Members()
	for {
		key, ok := m.Next()
		switch {
		case !ok:
			return va, vb, ""
		case key == a:
			if !va.Exists() {
				va = m.Value()
			}
		case b != "" && key == b:
			if !vb.Exists() {
				vb = m.Value()
			}
		case strings.EqualFold(key, a):
			return va, vb, caseVariantMessage(key, a)
		case b != "" && strings.EqualFold(key, b):
			return va, vb, caseVariantMessage(key, b)
		}
	}
}

func caseVariantMessage(key, name string) string {
	return "JSON-RPC member " + quote(key) + " differs from " + quote(name) + " only by case"
}

// checkMCPHeaders enforces MCP 2026-07-28: the Mcp-Method and Mcp-Name
// headers, when present, must agree with the body; a mismatch is rejected.
func checkMCPHeaders(h Header, ops []rpcOp) string {
	hm, hn := h.Values("mcp-method"), h.Values("mcp-name")
	if len(hm) == 0 && len(hn) == 0 {
		return ""
	}
	if len(hm) > 1 || len(hn) > 1 || len(ops) != 1 {
		return "HeaderMismatch: Mcp-Method/Mcp-Name must be single and the body a single request"
	}
	if len(hm) == 1 && hm[0] != ops[0].method {
		return "HeaderMismatch: Mcp-Method does not match the request body"
	}
	if len(hn) == 1 && hn[0] != ops[0].name {
		return "HeaderMismatch: Mcp-Name does not match the request body"
	}
	return ""
}

// opScopesMet reports whether granted holds the scopes of every rule
// matching op.
func (r *Resource) opScopesMet(op rpcOp, granted grantedScopes) bool {
	for _, rule := range r.Rules {
		if matchPattern(rule.Method, op.method) && matchPattern(rule.Name, op.name) && !granted.hasAll(rule.Scopes) {
			return false
		}
	}
	return true
}

// requiredScopes unites the scopes of every rule matching op.
func (r *Resource) requiredScopes(op rpcOp) []string {
	var need []string
	for _, rule := range r.Rules {
		if matchPattern(rule.Method, op.method) && matchPattern(rule.Name, op.name) {
			need = appendUnique(need, rule.Scopes...)
		}
	}
	return need
}

func matchPattern(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

func jsonRPCError(status, code int, msg string) Reply {
	b := []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":`)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, "}}\n"...)
	return Reply{Status: status, Headers: Header{{"content-type", "application/json"}, {"cache-control", "no-store"}}, Body: b}
}

// verifyToken verifies a token not found in the cache and caches it when
// valid. reason is set otherwise.
func (e *Engine) verifyToken(token string) (*AccessTokenClaims, string) {
	c, err := e.parseAccessToken(token)
	if err != nil {
		e.log(LogDebug, err.Error())
		return nil, denyInvalidToken
	}
	c.Identity = e.accessTokenIdentity(token)
	e.cacheToken(token, c, e.now()) // guard_external.go
	return c, ""
}

// count increments a named counter through the host, if one is wired.
func (e *Engine) count(name string) {
	if e.counter != nil {
		e.counter(name)
	}
}
