package authcore

import (
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// Policy decides who may sign in and which scopes each user may be granted,
// from the user's identity claims (claims.go). It is plain data: a
// condition tests one claim against listed values, or combines conditions
// with all_of, any_of and not. No expression language runs in the filter.
//
//	"policy": {
//	  "login": {"claim": "hd", "any_of": ["example.com"]},
//	  "scopes": [
//	    {"scopes": ["mcp:admin"], "when": {"claim": "groups", "any_of": ["mcp-admins"]}}
//	  ]
//	}
//
// A scope named by any scope rule is restricted: a user may be granted it
// only when the "when" of at least one rule naming it holds. Scopes no rule
// names are not restricted by the policy. Policy is evaluated at the
// authorization endpoint after the user signed in and before the consent
// page, and again at every refresh (claims.go says with which claims).
type Policy struct {
	// Login, when set, must hold for the user to get any authorization.
	Login *Condition
	// Scopes restrict scopes to users whose claims match.
	Scopes []ScopePolicy
}

// ScopePolicy grants the listed scopes only to users for whom When holds.
type ScopePolicy struct {
	Scopes []string
	When   *Condition
}

// Condition is one node of a policy test. Exactly one form is used:
//
//	{"claim": "groups", "any_of": ["a", "b"]}   the claim has a or b
//	{"claim": "groups", "all_of": ["a", "b"]}   the claim has a and b
//	{"claim": "email_verified", "equals": true} the claim is exactly this
//	{"claim": "email", "suffix": "@example.com"} a value ends with this
//	{"all_of": [cond, ...]}   every condition holds
//	{"any_of": [cond, ...]}   at least one holds
//	{"not": cond}             cond does not hold
//
// A claim's values are its string, its array's strings, or the JSON text of
// a boolean or number ("true", "42"). A missing claim has no values, so
// any_of, all_of, equals and suffix on it are false.
type Condition struct {
	Claim  string
	AnyOf  []string
	AllOf  []string
	Equals *string
	Suffix string

	All []*Condition
	Any []*Condition
	Not *Condition
}

// maxConditionDepth bounds the nesting of a policy condition.
const maxConditionDepth = 8

// Holds evaluates the condition against claims (claim name to raw JSON
// value, see [IdentityClaims]).
func (c *Condition) Holds(claims IdentityClaims) bool {
	switch {
	case c == nil:
		return true
	case c.Not != nil:
		return !c.Not.Holds(claims)
	case c.All != nil:
		for _, x := range c.All {
			if !x.Holds(claims) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for _, x := range c.Any {
			if x.Holds(claims) {
				return true
			}
		}
		return false
	}
	vals := claims.Values(c.Claim)
	switch {
	case c.AnyOf != nil:
		for _, want := range c.AnyOf {
			if containsString(vals, want) {
				return true
			}
		}
		return false
	case c.AllOf != nil:
		for _, want := range c.AllOf {
			if !containsString(vals, want) {
				return false
			}
		}
		return len(c.AllOf) > 0
	case c.Equals != nil:
		return len(vals) == 1 && vals[0] == *c.Equals
	case c.Suffix != "":
		for _, v := range vals {
			if strings.HasSuffix(v, c.Suffix) {
				return true
			}
		}
	}
	return false
}

// Restricts reports whether any scope rule names scope.
func (p *Policy) Restricts(scope string) bool {
	for _, r := range p.Scopes {
		if containsString(r.Scopes, scope) {
			return true
		}
	}
	return false
}

// Allows reports whether a user with claims may be granted scope.
func (p *Policy) Allows(scope string, claims IdentityClaims) bool {
	restricted := false
	for _, r := range p.Scopes {
		if !containsString(r.Scopes, scope) {
			continue
		}
		restricted = true
		if r.When.Holds(claims) {
			return true
		}
	}
	return !restricted
}

// Filter returns the scopes of requested that a user with claims may have,
// and those removed. offline_access is kept unless a rule names it.
func (p *Policy) Filter(requested []string, claims IdentityClaims) (kept, removed []string) {
	for _, s := range requested {
		if p.Allows(s, claims) {
			kept = append(kept, s)
		} else {
			removed = append(removed, s)
		}
	}
	return kept, removed
}

// condition parses a policy condition at path.
func (p *cfgParser) condition(path string, v jsonv.Result, depth int) *Condition {
	if !v.IsObject() {
		p.fail(path, `must be a condition object such as {"claim": "groups", "any_of": ["admins"]}`)
		return nil
	}
	if depth > maxConditionDepth {
		p.fail(path, "conditions may nest at most "+itoa(maxConditionDepth)+" deep")
		return nil
	}
	c := &Condition{}
	claim := v.Get("claim")
	if claim.Exists() {
		values := func(fp string, v jsonv.Result, dst *[]string) {
			if !v.Exists() {
				return
			}
			p.strings(dst)(fp, v)
			if *dst == nil {
				*dst = []string{}
			}
			if len(*dst) == 0 {
				p.fail(fp, "must list at least one value")
			}
		}
		n := 0
		p.object(path, v, map[string]func(string, jsonv.Result){
			"claim": func(fp string, v jsonv.Result) {
				p.str(&c.Claim)(fp, v)
				if !validClaimName(c.Claim) {
					p.fail(fp, "must be a claim name (1 to 64 characters, no dots)")
				}
			},
			"any_of": func(fp string, v jsonv.Result) { n += btoi(v.Exists()); values(fp, v, &c.AnyOf) },
			"all_of": func(fp string, v jsonv.Result) { n += btoi(v.Exists()); values(fp, v, &c.AllOf) },
			"equals": func(fp string, v jsonv.Result) {
				if !v.Exists() {
					return
				}
				n++
				switch v.Type {
				case jsonv.String:
					c.Equals = &v.Str
				case jsonv.True, jsonv.False, jsonv.Number:
					s := v.Raw
					c.Equals = &s
				default:
					p.fail(fp, "must be a string, boolean or number")
				}
			},
			"suffix": func(fp string, v jsonv.Result) {
				if !v.Exists() {
					return
				}
				n++
				p.str(&c.Suffix)(fp, v)
				if c.Suffix == "" {
					p.fail(fp, "must not be empty")
				}
			},
		})
		if n != 1 {
			p.fail(path, `with "claim", give exactly one of "any_of", "all_of", "equals", "suffix"`)
		}
		return c
	}
	n := 0
	list := func(fp string, v jsonv.Result, dst *[]*Condition) {
		if !v.Exists() {
			return
		}
		n++
		if !v.IsArray() || len(v.Array()) == 0 {
			p.fail(fp, "must be a non-empty array of conditions")
			return
		}
		*dst = []*Condition{}
		p.array(fp, v, func(ep string, _ int, v jsonv.Result) {
			if x := p.condition(ep, v, depth+1); x != nil {
				*dst = append(*dst, x)
			}
		})
	}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"all_of": func(fp string, v jsonv.Result) { list(fp, v, &c.All) },
		"any_of": func(fp string, v jsonv.Result) { list(fp, v, &c.Any) },
		"not": func(fp string, v jsonv.Result) {
			if v.Exists() {
				n++
				c.Not = p.condition(fp, v, depth+1)
			}
		},
	})
	if n != 1 {
		p.fail(path, `give "claim" with a matcher, or exactly one of "all_of", "any_of", "not"`)
	}
	return c
}

// policy parses "authorization_server.policy".
func (p *cfgParser) policy(path string, v jsonv.Result, dst *Policy) {
	p.object(path, v, map[string]func(string, jsonv.Result){
		"login": func(fp string, v jsonv.Result) {
			if v.Exists() {
				dst.Login = p.condition(fp, v, 1)
			}
		},
		"scopes": func(fp string, v jsonv.Result) {
			p.array(fp, v, func(rp string, _ int, v jsonv.Result) {
				var r ScopePolicy
				p.object(rp, v, map[string]func(string, jsonv.Result){
					"scopes": func(fp string, v jsonv.Result) {
						p.strings(&r.Scopes)(fp, v)
						if len(r.Scopes) == 0 {
							p.fail(fp, "required: at least one scope")
						}
						for i, s := range r.Scopes {
							if !validScopeToken(s) {
								p.fail(index(fp, i), "not a valid scope token (RFC 6749 §3.3)")
							}
						}
					},
					"when": func(fp string, v jsonv.Result) {
						if !v.Exists() {
							p.fail(fp, "required: the condition under which the scopes may be granted")
							return
						}
						r.When = p.condition(fp, v, 1)
					},
				})
				dst.Scopes = append(dst.Scopes, r)
			})
		},
	})
}

// describe renders a condition for the user-facing denial page and logs.
func (c *Condition) describe() string {
	switch {
	case c == nil:
		return ""
	case c.Not != nil:
		return "not (" + c.Not.describe() + ")"
	case c.All != nil || c.Any != nil:
		parts, sep := c.All, " and "
		if c.Any != nil {
			parts, sep = c.Any, " or "
		}
		var ss []string
		for _, x := range parts {
			ss = append(ss, "("+x.describe()+")")
		}
		return strings.Join(ss, sep)
	case c.AnyOf != nil:
		return c.Claim + " includes one of " + strings.Join(quoteAll(c.AnyOf), ", ")
	case c.AllOf != nil:
		return c.Claim + " includes all of " + strings.Join(quoteAll(c.AllOf), ", ")
	case c.Equals != nil:
		return c.Claim + " is " + quote(*c.Equals)
	}
	return c.Claim + " ends with " + quote(c.Suffix)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}
