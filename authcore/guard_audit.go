package authcore

import "time"

// checkClaimRules applies the "when" of the resource's rules that match an
// operation: the access token's identity claims (claims.go) must satisfy
// it, on top of the rule's scopes. A failure is 403 with a JSON-RPC error:
// no other scope would help, so it is not insufficient_scope (RFC 6750
// §3.1). On success it records the allowed operations: one tool_call audit
// line per named operation, and the tool name as filter state.
func (e *Engine) checkClaimRules(req *Request, r *Resource, claims *AccessTokenClaims, ops []rpcOp, now time.Time) Outcome {
	for _, op := range ops {
		for i := range r.Rules {
			rule := &r.Rules[i]
			if rule.When == nil || !matchPattern(rule.Method, op.method) || !matchPattern(rule.Name, op.name) {
				continue
			}
			if !rule.When.Holds(claims.Identity) {
				e.count("mcpgate.guard.denied." + denyClaims)
				e.guardDenied(req, r, denyClaims, 403, claims)
				e.decisionTool(op.name)
				return jsonRPCError(403, -32003, "Forbidden: this operation needs "+rule.When.describe())
			}
		}
	}
	tool := ""
	for _, op := range ops {
		if op.method == "" {
			continue
		}
		if tool == "" && op.name != "" {
			tool = op.name
		}
		if op.name != "" && (e.cfg.Audit.ToolCalls || len(r.Rules) > 0) {
			e.audit(auditEvent{Event: "tool_call", Subject: claims.Subject, ClientID: claims.ClientID, Resource: r.URI,
				RequestID: requestID(req), Method: op.method, Tool: op.name, at: now, head: e.toolCallHead(claims, r)})
		}
	}
	e.decisionTool(tool)
	return nil
}

// denyClaims is the guard's reason for a request refused by a rule's
// identity condition.
const denyClaims = "claims"

// guardDenied writes the audit line and filter state of a guard denial.
func (e *Engine) guardDenied(req *Request, r *Resource, reason string, status int, claims *AccessTokenClaims) {
	ev := auditEvent{Event: "guard_denied", Resource: r.URI, RequestID: requestID(req), Reason: reason, Status: status}
	if claims != nil {
		ev.Subject, ev.ClientID = claims.Subject, claims.ClientID
	}
	if reason != denyNoToken || e.cfg.Audit.Unauthenticated {
		e.audit(ev)
	}
	e.decision("deny:"+reason, claims, "")
}

// decisionTool records the tool (or prompt or resource) name as filter
// state.
func (e *Engine) decisionTool(name string) {
	if e.filterState != nil && name != "" {
		e.filterState(FilterStateTool, name)
	}
}
