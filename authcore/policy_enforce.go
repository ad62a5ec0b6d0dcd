package authcore

import (
	"strings"
)

// applyPolicy applies the policy (policy.go) once the user is known, before
// the consent page: a user the login condition refuses gets nothing, and
// scopes the user may not have are removed from the request, so they are
// never shown on the consent page nor granted. When none of the scopes the
// client asked for remain, or none of those it asked for beyond the
// resource's baseline (lostEveryExtraScope), the answer is access_denied (O21 §4.1.2.1: "The
// resource owner or authorization server denied the request"), with iss
// (RFC 9207 §2), on a page that tells the user why, with a link that
// carries the error back to the client. It returns nil to continue.
func (e *Engine) applyPolicy(c *Client, ar *authzRequest, sub string) Outcome {
	pol := &e.cfg.AS.Policy
	if pol.Login == nil && len(pol.Scopes) == 0 {
		return nil
	}
	if pol.Login != nil && !pol.Login.Holds(ar.Claims) {
		e.count("mcpgate.policy.login_denied")
		e.audit(auditEvent{Event: "policy_denied", Subject: sub, ClientID: ar.ClientID, Resource: ar.Resource, Reason: "login"})
		return e.policyDenied(c, ar, "Your account may not use this server. The operator requires: "+pol.Login.describe()+".")
	}
	kept, removed := pol.Filter(ar.Scopes, ar.Claims)
	if len(removed) == 0 {
		return nil
	}
	e.count("mcpgate.policy.scopes_removed")
	e.audit(auditEvent{Event: "policy_scopes_removed", Subject: sub, ClientID: ar.ClientID, Resource: ar.Resource, Scopes: removed})
	if !hasResourceScope(kept) || e.lostEveryExtraScope(ar, kept) {
		var why []string
		for _, s := range removed {
			why = append(why, s+" (needs "+e.scopeCondition(s)+")")
		}
		return e.policyDenied(c, ar, "Your account may not have the access this application asked for: "+strings.Join(why, "; ")+".")
	}
	ar.Scopes = kept
	return nil
}

// lostEveryExtraScope reports whether the client asked for scopes beyond
// the resource's baseline (its protected resource metadata scopes) and the
// policy removed all of them. That is a step-up (MCP 2026-07-28, "Step-Up
// Authorization Flow": the client asks again with the scopes a 403 named)
// the user may not have: granting the baseline alone would answer the
// client's request with a token it already has, and a client that
// remembered consent would loop through authorizations without end, so
// the answer is access_denied.
func (e *Engine) lostEveryExtraScope(ar *authzRequest, kept []string) bool {
	r := e.resourceByURI(ar.Resource)
	if r == nil {
		return false
	}
	for _, s := range kept {
		if s != ScopeOfflineAccess && !containsString(r.Scopes, s) {
			return false
		}
	}
	return true
}

// hasResourceScope reports whether scopes hold any scope besides
// offline_access, which alone gives no access to a resource.
func hasResourceScope(scopes []string) bool {
	for _, s := range scopes {
		if s != ScopeOfflineAccess {
			return true
		}
	}
	return false
}

// scopeCondition describes what a user needs for scope.
func (e *Engine) scopeCondition(scope string) string {
	var parts []string
	for _, r := range e.cfg.AS.Policy.Scopes {
		if containsString(r.Scopes, scope) {
			parts = append(parts, r.When.describe())
		}
	}
	return strings.Join(parts, ", or ")
}

// policyDenied answers access_denied on a page with the reason, for every
// client: the user learns why, and may follow the link to the client.
func (e *Engine) policyDenied(c *Client, ar *authzRequest, why string) Outcome {
	redirect := e.redirectError(ar, ErrCodeAccessDenied, "the user may not be granted the requested access", 302, nil)
	return e.errorLinkPage(403, c, ar, newError(ErrCodeAccessDenied, 403, why), redirect.Headers.Get("location"))
}

// refreshPolicy re-evaluates the policy at refresh on the user's current
// claims (claims.go, the refresh rule): it returns the grant's scopes the
// user may still have, or an invalid_grant error when none remain.
func (e *Engine) refreshPolicy(g *grantRecord, claims IdentityClaims) ([]string, *Error) {
	pol := &e.cfg.AS.Policy
	if pol.Login != nil && !pol.Login.Holds(claims) {
		return nil, newError(ErrCodeInvalidGrant, 400, "the user may no longer use this server")
	}
	kept, removed := pol.Filter(g.Scopes, claims)
	if len(removed) > 0 && !hasResourceScope(kept) {
		return nil, newError(ErrCodeInvalidGrant, 400, "the user may no longer have any of the granted scopes")
	}
	return kept, nil
}

// claimHeaderNames are the identity headers of claims, stripped from every
// client request (engine.go).
func claimHeaderNames(cfg *Config) []string {
	var out []string
	for _, n := range sortedKeys(cfg.AS.Claims.IdentityHeaders) {
		out = append(out, cfg.AS.Claims.IdentityHeaders[n])
	}
	return out
}

// validateClaims checks claims and policy against the identity mode and
// each other: a claim a policy or rule tests must be kept, and a rule of
// the guard can only test claims that travel in access tokens.
func (p *cfgParser) validateClaims(c *Config) {
	a := &c.AS
	const path = "authorization_server.claims"
	if len(a.Claims.Headers) > 0 && a.Identity.Mode != IdentityHeader {
		p.fail(path+".headers", `needs identity mode "header"`)
	}
	if len(a.Claims.Dev) > 0 && a.Identity.Mode != IdentityDev {
		p.fail(path+".dev", `needs identity mode "dev"`)
	}
	if a.Claims.UserinfoEndpoint != "" && a.Identity.Mode != IdentityOIDC {
		p.fail(path+".userinfo_endpoint", `needs identity mode "oidc"`)
	}
	for name, h := range a.Claims.Headers {
		if h == a.Identity.Header {
			p.fail(path+".headers."+name, "must differ from the subject header")
		}
	}
	var check func(fp string, cond *Condition, names []string, list string)
	check = func(fp string, cond *Condition, names []string, list string) {
		if cond == nil {
			return
		}
		if cond.Claim != "" && !containsString(names, cond.Claim) {
			p.fail(fp, "tests claim "+quote(cond.Claim)+", which is not in "+list)
		}
		for _, x := range append(append([]*Condition{}, cond.All...), cond.Any...) {
			check(fp, x, names, list)
		}
		check(fp, cond.Not, names, list)
	}
	check("authorization_server.policy.login", a.Policy.Login, a.Claims.Names, path+".names")
	for i, r := range a.Policy.Scopes {
		check(index("authorization_server.policy.scopes", i)+".when", r.When, a.Claims.Names, path+".names")
	}
	for i, res := range c.Resources {
		for j, rule := range res.Rules {
			check(index(index("resources", i)+".rules", j)+".when", rule.When, a.Claims.AccessToken, path+".access_token")
		}
	}
}

// refreshChecks applies, at refresh, the operators' revocations and the
// policy (the refresh rule of claims.go) to the scopes of the new access
// token.
func (e *Engine) refreshChecks(req *Request, g *grantRecord, gid string, scopes []string, claims IdentityClaims) ([]string, *Error) {
	if oe := e.grantAdminError(g); oe != nil {
		return nil, oe
	}
	allowed, oe := e.refreshPolicy(g, claims)
	if oe != nil {
		e.audit(auditEvent{Event: "policy_denied", Subject: g.Subject, ClientID: g.ClientID, Resource: g.Resource, Reason: "refresh"})
		return nil, oe
	}
	var out []string
	for _, s := range scopes {
		if containsString(allowed, s) {
			out = append(out, s)
		}
	}
	if len(out) < len(scopes) && !hasResourceScope(out) {
		return nil, newError(ErrCodeInvalidGrant, 400, "the user may no longer have any of the requested scopes")
	}
	e.audit(auditEvent{Event: "token_refreshed", Subject: g.Subject, ClientID: g.ClientID, Resource: g.Resource, Grant: gid, RequestID: requestID(req), Scopes: out})
	return out, nil
}

// codeGrantChecks applies the operators' revocations to a grant whose code
// is being redeemed, and writes the token_issued audit line.
func (e *Engine) codeGrantChecks(req *Request, g *grantRecord, gid string) *Error {
	if oe := e.grantAdminError(g); oe != nil {
		return oe
	}
	e.audit(auditEvent{Event: "token_issued", Subject: g.Subject, ClientID: g.ClientID, Resource: g.Resource, Grant: gid, RequestID: requestID(req), Scopes: g.Scopes})
	return nil
}
