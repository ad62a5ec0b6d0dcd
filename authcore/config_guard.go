package authcore

import (
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// ScopeRule demands scopes for matching JSON-RPC requests. Every rule that
// matches a request applies (their scopes are united).
type ScopeRule struct {
	// Method matches the JSON-RPC "method": exact ("tools/call") or a
	// prefix pattern ending in "*" ("resources/*"). Empty matches any.
	Method string
	// Name matches the operation's target: params.name for tools/call and
	// prompts/get, params.uri for resources/read and (un)subscribe. Exact
	// or prefix pattern ending in "*". Empty matches any.
	Name string
	// Scopes are required, all of them, when the rule matches.
	Scopes []string
	// When, if set, must hold on the access token's identity claims
	// (policy.go, claims.go) for a matching request to pass.
	When *Condition
}

// IdentityHeaders name the headers set on forwarded requests. Any copy a
// client sent is removed first. An empty name disables that header.
type IdentityHeaders struct {
	Subject  string
	ClientID string
	Scope    string
}

func defaultIdentityHeaders() IdentityHeaders {
	return IdentityHeaders{Subject: "x-mcpgate-subject", ClientID: "x-mcpgate-client-id", Scope: "x-mcpgate-scope"}
}

const defaultMaxBodyBytes = 1 << 20

// guardConfig parses a resource's "rules", "implies", "max_body_bytes" and
// "max_json_depth".
func (p *cfgParser) guardConfig(path string, v jsonv.Result, r *Resource) {
	r.MaxBodyBytes = defaultMaxBodyBytes
	p.integer(&r.MaxBodyBytes, 1024, 16<<20)(join(path, "max_body_bytes"), v.Get("max_body_bytes"))
	r.MaxJSONDepth = strictjson.DefaultMaxDepth
	p.integer(&r.MaxJSONDepth, 2, 1024)(join(path, "max_json_depth"), v.Get("max_json_depth"))
	p.array(join(path, "rules"), v.Get("rules"), func(rp string, _ int, v jsonv.Result) {
		var rule ScopeRule
		p.object(rp, v, map[string]func(string, jsonv.Result){
			"method": p.str(&rule.Method),
			"name":   p.str(&rule.Name),
			"scopes": p.strings(&rule.Scopes),
			"when": func(fp string, v jsonv.Result) {
				if v.Exists() {
					rule.When = p.condition(fp, v, 1)
				}
			},
		})
		if rule.Method == "" && rule.Name == "" {
			p.fail(rp, `needs "method" or "name"`)
		}
		for _, pat := range []string{rule.Method, rule.Name} {
			if i := strings.IndexByte(pat, '*'); i >= 0 && i != len(pat)-1 {
				p.fail(rp, `"*" is allowed only at the end of a pattern`)
			}
		}
		if len(rule.Scopes) == 0 && rule.When == nil {
			p.fail(join(rp, "scopes"), `required: at least one scope (or a "when" condition)`)
		}
		p.checkScopes(join(rp, "scopes"), rule.Scopes)
		r.Rules = append(r.Rules, rule)
	})
	imp := v.Get("implies")
	if imp.Exists() {
		if !imp.IsObject() {
			p.fail(join(path, "implies"), `must be an object such as {"mcp:admin": ["mcp:tools"]}`)
		} else {
			r.Implies = map[string][]string{}
			imp.ForEach(func(k, val jsonv.Result) bool {
				kp := join(join(path, "implies"), k.String())
				if !validScopeToken(k.String()) {
					p.fail(kp, "not a valid scope token (RFC 6749 §3.3)")
				}
				var list []string
				p.strings(&list)(kp, val)
				p.checkScopes(kp, list)
				r.Implies[k.String()] = list
				return true
			})
			r.Implies = closeImplications(r.Implies)
		}
	}
}

func (p *cfgParser) checkScopes(path string, scopes []string) {
	for i, s := range scopes {
		switch {
		case !validScopeToken(s):
			p.fail(index(path, i), "not a valid scope token (RFC 6749 §3.3)")
		case s == ScopeOfflineAccess:
			p.fail(index(path, i), "offline_access is not a resource scope")
		}
	}
}

// closeImplications returns the transitive closure of implies.
func closeImplications(implies map[string][]string) map[string][]string {
	out := map[string][]string{}
	for s := range implies {
		seen := map[string]bool{s: true}
		stack := []string{s}
		var all []string
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, y := range implies[x] {
				if !seen[y] {
					seen[y] = true
					all = append(all, y)
					stack = append(stack, y)
				}
			}
		}
		out[s] = all
	}
	return out
}

// identityHeaders parses "identity_headers".
func (p *cfgParser) identityHeaders(path string, v jsonv.Result, h *IdentityHeaders) {
	p.object(path, v, map[string]func(string, jsonv.Result){
		"subject":   p.str(&h.Subject),
		"client_id": p.str(&h.ClientID),
		"scope":     p.str(&h.Scope),
	})
	for key, name := range map[string]*string{"subject": &h.Subject, "client_id": &h.ClientID, "scope": &h.Scope} {
		if *name == "" {
			continue
		}
		*name = strings.ToLower(*name)
		if !validHeaderName(*name) || *name == "authorization" || strings.HasPrefix(*name, ":") {
			p.fail(join(path, key), "must be a valid header name other than authorization")
		}
	}
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// AllScopes lists every scope a token for r can usefully hold: the
// baseline, the rules' scopes, and the implying scopes, without
// duplicates. The authorization server accepts these in a request.
func (r *Resource) AllScopes() []string {
	var out []string
	seen := map[string]bool{}
	add := func(ss ...string) {
		for _, s := range ss {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	add(r.Scopes...)
	for _, rule := range r.Rules {
		add(rule.Scopes...)
	}
	for _, k := range sortedKeys(r.Implies) {
		add(k)
		add(r.Implies[k]...)
	}
	return out
}
