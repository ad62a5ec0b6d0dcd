package authcore

import (
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonw"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// Identity claims: who the user is, beyond the subject, as the identity
// source tells it ("groups", "email", "email_verified", "hd", "roles"...).
// The claims named in "authorization_server.claims.names" are taken
//
//   - oidc: from the verified ID token (OpenID Connect Core §3.1.3.7), and,
//     when "userinfo_endpoint" is set, from the provider's UserInfo
//     response (§5.3) by callout with the upstream access token, which
//     wins for the claims it contains (§5.3.2: its sub must equal the ID
//     token's);
//   - header: from the trusted request headers in "headers" (a value with
//     commas becomes a list), read like the subject header;
//   - dev: the fixed values in "dev".
//
// They are kept in the grant (grant.go), so policy (policy.go) can decide
// at the authorization endpoint and again at each refresh. The refresh
// rule: a refresh re-evaluates the current policy on the grant's claims;
// with a UserInfo endpoint configured, the claims are first re-read from
// it with the upstream access token kept sealed in the grant, and a
// refused upstream token ends the grant (invalid_grant: the user must sign
// in again). Scopes the user may no longer have are dropped from the grant
// and the new access token; when none of the granted scopes remain, the
// refresh is invalid_grant.
//
// The claims in "access_token" are copied into access tokens as top-level
// claims of the same name (RFC 9068 §2.2.3.1 lists groups and roles as
// such attributes), where the guard's per-tool rules can test them and
// from where "identity_headers" forward them to the MCP server.

// IdentityClaims maps a claim name to its raw JSON value.
type IdentityClaims map[string]RawJSON

// Values returns the claim's values: a string, the strings of an array,
// or the JSON text of a boolean or number. A missing claim has none.
func (c IdentityClaims) Values(name string) []string {
	raw, ok := c[name]
	if !ok {
		return nil
	}
	v := jsonv.ParseBytes(raw)
	switch {
	case v.Type == jsonv.String:
		return []string{v.Str}
	case v.Type == jsonv.True || v.Type == jsonv.False || v.Type == jsonv.Number:
		return []string{v.Raw}
	case v.IsArray():
		var out []string
		for _, x := range v.Array() {
			switch x.Type {
			case jsonv.String:
				out = append(out, x.Str)
			case jsonv.True, jsonv.False, jsonv.Number:
				out = append(out, x.Raw)
			}
		}
		return out
	}
	return nil
}

// Bounds of identity claims: a claim is kept only within them (a user in
// thousands of groups gets the Entra "overage" treatment: nothing, so a
// policy needing the claim denies).
const (
	maxClaimNames   = 16
	maxClaimValues  = 200
	maxClaimValue   = 256
	maxClaimsBytes  = 8 << 10
	maxUserinfoBody = 64 << 10
)

// ClaimsConfig is "authorization_server.claims".
//
//	"claims": {
//	  "names": ["groups", "email", "email_verified"],
//	  "headers": {"groups": "x-user-groups", "email": "x-user-email"},
//	  "dev": {"groups": ["mcp-admins"]},
//	  "userinfo_endpoint": "https://idp.example.com/userinfo",
//	  "access_token": ["groups"],
//	  "identity_headers": {"groups": "x-mcpgate-groups"}
//	}
type ClaimsConfig struct {
	Names            []string
	Headers          map[string]string
	Dev              IdentityClaims
	UserinfoEndpoint string
	AccessToken      []string
	IdentityHeaders  map[string]string

	userinfoURL *uri.URL
}

// reservedClaims are claims of access tokens that identity claims must not
// shadow (RFC 9068 §2.2, RFC 7519 §4.1, and mcpgate's gid).
var reservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "gid", "auth_time", "acr", "amr", "cnf", "act", "may_act"}

func validClaimName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':' || c == '/') {
			return false
		}
	}
	return true
}

// claimsConfig parses "authorization_server.claims".
func (p *cfgParser) claimsConfig(path string, v jsonv.Result, dst *ClaimsConfig) {
	headerMap := func(fp string, v jsonv.Result, dst *map[string]string) {
		if !v.Exists() {
			return
		}
		if !v.IsObject() {
			p.fail(fp, "must be an object of claim name to header name")
			return
		}
		*dst = map[string]string{}
		v.ForEach(func(k, h jsonv.Result) bool {
			kp := join(fp, k.Str)
			if h.Type != jsonv.String || !validHeaderName(strings.ToLower(h.Str)) || strings.ToLower(h.Str) == "authorization" || strings.ToLower(h.Str) == "cookie" {
				p.fail(kp, "must be a header name other than authorization and cookie")
				return true
			}
			(*dst)[k.Str] = strings.ToLower(h.Str)
			return true
		})
	}
	p.object(path, v, map[string]func(string, jsonv.Result){
		"names": func(fp string, v jsonv.Result) {
			p.strings(&dst.Names)(fp, v)
			if len(dst.Names) > maxClaimNames {
				p.fail(fp, "at most "+itoa(maxClaimNames)+" claims")
			}
			for i, n := range dst.Names {
				if !validClaimName(n) {
					p.fail(index(fp, i), "must be a claim name (1 to 64 characters of A-Z a-z 0-9 _ - : /)")
				}
			}
		},
		"headers": func(fp string, v jsonv.Result) { headerMap(fp, v, &dst.Headers) },
		"dev": func(fp string, v jsonv.Result) {
			if !v.Exists() {
				return
			}
			if !v.IsObject() {
				p.fail(fp, "must be an object of claim values")
				return
			}
			dst.Dev = IdentityClaims{}
			v.ForEach(func(k, val jsonv.Result) bool {
				dst.Dev[k.Str] = RawJSON(val.Raw)
				return true
			})
		},
		"userinfo_endpoint": func(fp string, v jsonv.Result) {
			p.str(&dst.UserinfoEndpoint)(fp, v)
			if v.Exists() {
				u, msg := checkHTTPSURL(dst.UserinfoEndpoint)
				if msg != "" {
					p.fail(fp, msg)
				}
				dst.userinfoURL = u
			}
		},
		"access_token":     p.strings(&dst.AccessToken),
		"identity_headers": func(fp string, v jsonv.Result) { headerMap(fp, v, &dst.IdentityHeaders) },
	})
	named := func(fp, n string) {
		if !containsString(dst.Names, n) {
			p.fail(fp, quote(n)+" is not in "+join(path, "names"))
		}
	}
	for _, n := range sortedKeys(dst.Headers) {
		named(join(join(path, "headers"), n), n)
	}
	for _, n := range sortedKeys(dst.Dev) {
		named(join(join(path, "dev"), n), n)
	}
	for i, n := range dst.AccessToken {
		named(index(join(path, "access_token"), i), n)
		if containsString(reservedClaims, n) {
			p.fail(index(join(path, "access_token"), i), quote(n)+" is a registered access token claim")
		}
	}
	for _, n := range sortedKeys(dst.IdentityHeaders) {
		if !containsString(dst.AccessToken, n) {
			p.fail(join(join(path, "identity_headers"), n), quote(n)+" must be in "+join(path, "access_token")+": the guard reads it from the access token")
		}
	}
}

// keepClaims returns the configured claims of an object of claims (an ID
// token payload, a UserInfo response), within the bounds.
func (e *Engine) keepClaims(obj jsonv.Result) IdentityClaims {
	names := e.cfg.AS.Claims.Names
	if len(names) == 0 || !obj.IsObject() {
		return nil
	}
	out := IdentityClaims{}
	total := 0
	for _, n := range names {
		v := obj.Get(n)
		if !v.Exists() || !claimWithinBounds(v) {
			if v.Exists() {
				e.log(LogWarn, "mcpgate: identity claim "+n+" dropped: too large")
			}
			continue
		}
		if total += len(v.Raw); total > maxClaimsBytes {
			e.log(LogWarn, "mcpgate: identity claims too large; "+n+" and later claims dropped")
			break
		}
		out[n] = RawJSON(v.Raw)
	}
	return out
}

func claimWithinBounds(v jsonv.Result) bool {
	switch v.Type {
	case jsonv.String:
		return len(v.Str) <= maxClaimValue && !clientmeta.HasControl(v.Str)
	case jsonv.True, jsonv.False, jsonv.Number:
		return true
	}
	if !v.IsArray() {
		return false
	}
	arr := v.Array()
	if len(arr) > maxClaimValues {
		return false
	}
	for _, x := range arr {
		if x.Type != jsonv.String || len(x.Str) > maxClaimValue || clientmeta.HasControl(x.Str) {
			return false
		}
	}
	return true
}

// devClaims are dev mode's fixed claims.
func (e *Engine) devClaims() IdentityClaims {
	if len(e.cfg.AS.Claims.Dev) == 0 {
		return nil
	}
	return e.cfg.AS.Claims.Dev
}

// headerClaims reads the configured claim headers in header mode. The
// subject header's trust rules apply (identity.go): only called after the
// subject header was accepted. A header sent more than once is refused.
func (e *Engine) headerClaims(req *Request) (IdentityClaims, *Error) {
	hs := e.cfg.AS.Claims.Headers
	if len(hs) == 0 {
		return nil, nil
	}
	out := IdentityClaims{}
	for _, name := range sortedKeys(hs) {
		h := hs[name]
		switch req.Headers.Count(h) {
		case 0:
			continue
		case 1:
		default:
			return nil, newError(ErrCodeInvalidRequest, 400, "an identity claim header appears more than once")
		}
		val := req.Headers.Get(h)
		var raw []byte
		if strings.IndexByte(val, ',') >= 0 {
			var list []string
			for _, part := range strings.Split(val, ",") {
				if part = strings.TrimSpace(part); part != "" {
					list = append(list, part)
				}
			}
			raw = jsonw.Strings(nil, list)
		} else {
			raw = jsonw.String(nil, strings.TrimSpace(val))
		}
		if v := jsonv.ParseBytes(raw); claimWithinBounds(v) {
			out[name] = raw
		} else {
			e.log(LogWarn, "mcpgate: identity claim header "+h+" dropped: too large")
		}
	}
	return out, nil
}

// idTokenClaims returns the configured claims of a verified ID token.
func (e *Engine) idTokenClaims(idToken string) IdentityClaims {
	_, rest, _ := strings.Cut(idToken, ".")
	payload, _, _ := strings.Cut(rest, ".")
	pb, err := b64.DecodeString(payload)
	if err != nil || !jsonv.ValidBytes(pb) {
		return nil
	}
	return e.keepClaims(jsonv.ParseBytes(pb))
}

// tokenClaims returns the configured access-token claims of claims.
func (e *Engine) tokenClaims(claims IdentityClaims) IdentityClaims {
	names := e.cfg.AS.Claims.AccessToken
	if len(names) == 0 || len(claims) == 0 {
		return nil
	}
	out := IdentityClaims{}
	for _, n := range names {
		if v, ok := claims[n]; ok {
			out[n] = v
		}
	}
	return out
}

// appendTokenClaims appends the identity claims to an access token payload
// being built (before its closing brace), in the configured order.
func (e *Engine) appendTokenClaims(p []byte, claims IdentityClaims) []byte {
	for _, n := range e.cfg.AS.Claims.AccessToken {
		if v, ok := claims[n]; ok {
			p = append(p, ',')
			p = appendJSONString(p, n)
			p = append(p, ':')
			p = append(p, v...)
		}
	}
	return p
}

// accessTokenIdentity reads the identity claims of a verified access token.
func (e *Engine) accessTokenIdentity(token string) IdentityClaims {
	if len(e.cfg.AS.Claims.AccessToken) == 0 {
		return nil
	}
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	pb, err := b64.DecodeString(payload)
	if err != nil || !jsonv.ValidBytes(pb) {
		return nil
	}
	obj := jsonv.ParseBytes(pb)
	out := IdentityClaims{}
	for _, n := range e.cfg.AS.Claims.AccessToken {
		if v := obj.Get(n); v.Exists() && claimWithinBounds(v) {
			out[n] = RawJSON(v.Raw)
		}
	}
	return out
}

// claimHeaders are the identity headers of the configured claims: the
// values joined by ", " (RFC 9110 §5.3 list syntax).
func (e *Engine) claimHeaders(claims IdentityClaims) Header {
	var h Header
	for _, n := range sortedKeys(e.cfg.AS.Claims.IdentityHeaders) {
		if vals := claims.Values(n); len(vals) > 0 {
			h = append(h, [2]string{e.cfg.AS.Claims.IdentityHeaders[n], strings.Join(vals, ", ")})
		}
	}
	return h
}
