package authcore

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// Opaque access tokens of trusted issuers, checked by OAuth 2.0 Token
// Introspection (RFC 7662) through the issuer's cluster.
//
//   - The token goes to the first of the resource's issuers that has
//     "introspection" configured, authenticated with HTTP Basic.
//   - "active": false (or a token of another issuer) is 401 invalid_token
//     and is remembered for NegativeCache, so a client repeating a dead
//     token does not cost a callout each time.
//   - An active token is cached like a verified JWT, until its "exp" but at
//     most CacheMax; then it is introspected again.
//   - Concurrent requests with one unknown token share one introspection
//     (issuer_flights.go).
//   - The endpoint down or answering anything but a 200 with a JSON
//     object: 503 temporarily_unavailable, never let through (fail
//     closed).
//   - The token is never logged.

// maxInactiveEntries bounds the per-VM table of tokens found inactive.
const maxInactiveEntries = 4096

// introspectFor checks an opaque token for resource r.
func (e *Engine) introspectFor(req *Request, r *Resource, token string) Outcome {
	var ti *TrustedIssuer
	for _, t := range r.trusted {
		if t.Introspection != nil {
			ti = t
			break
		}
	}
	if ti == nil {
		return e.denyToken(req, r, denyOpaque)
	}
	s := &e.issuers
	now := e.now()
	key := "introspect|" + ti.Issuer + "|" + token
	s.mu.Lock()
	if until, ok := s.inactive[key]; ok {
		if now.Before(until) {
			s.mu.Unlock()
			return e.denyToken(req, r, denyInactive)
		}
		delete(s.inactive, key)
	}
	f, ticket := s.join(key, now, ti.Timeout, func(f *issuerFlight) Outcome {
		if f.gaveUp {
			return e.introspectFor(req, r, token)
		}
		return e.introspected(req, r, f)
	})
	s.mu.Unlock()
	switch {
	case ticket != 0:
		return Wait{Ticket: ticket}
	case f == nil:
		return e.unavailable(req, r, issuerUnavailable("too many requests are waiting for token introspection"))
	}
	return e.introspect(ti, token, func(claims *AccessTokenClaims, reason string, err *Error) Outcome {
		now := e.now()
		s.mu.Lock()
		f.claims, f.reason, f.err = claims, reason, err
		if reason == denyInactive && ti.Introspection.NegativeCache > 0 {
			s.rememberInactive(strings.Clone(key), now.Add(ti.Introspection.NegativeCache), now)
		}
		s.land(key, f)
		s.mu.Unlock()
		if claims != nil {
			e.cacheToken(token, claims, now)
		}
		return e.introspected(req, r, f)
	})
}

// introspected answers a request from an introspection's result.
func (e *Engine) introspected(req *Request, r *Resource, f *issuerFlight) Outcome {
	switch {
	case f.err != nil:
		return e.unavailable(req, r, f.err)
	case f.reason != "":
		return e.denyToken(req, r, f.reason)
	}
	return e.admit(req, r, f.claims, e.now())
}

// rememberInactive records a token found inactive, dropping expired
// entries when the table is full (and skipping the entry if it stays
// full). Called with mu held.
func (s *issuerState) rememberInactive(key string, until, now time.Time) {
	if s.inactive == nil {
		s.inactive = map[string]time.Time{}
	}
	if len(s.inactive) >= maxInactiveEntries {
		for k, t := range s.inactive {
			if !now.Before(t) {
				delete(s.inactive, k)
			}
		}
		if len(s.inactive) >= maxInactiveEntries {
			return
		}
	}
	s.inactive[key] = until
}

// introspect performs one introspection request (RFC 7662 §2.1): a form
// POST of "token" and "token_type_hint=access_token", authenticated with
// HTTP Basic.
func (e *Engine) introspect(ti *TrustedIssuer, token string, then func(*AccessTokenClaims, string, *Error) Outcome) Outcome {
	ic := ti.Introspection
	e.count("mcpgate.issuer.introspections")
	body := strings.TrimPrefix(appendQuery("", [][2]string{{"token", token}, {"token_type_hint", "access_token"}}), "?")
	return Call{
		Cluster:   ti.Cluster,
		Method:    "POST",
		Authority: ic.endpointURL.Host,
		Path:      ic.endpointURL.RequestURI(),
		Headers: Header{
			{"content-type", "application/x-www-form-urlencoded"},
			{"accept", "application/json"},
			{"authorization", basicAuth(ic.ClientID, ic.ClientSecret)},
		},
		Body:    []byte(body),
		Timeout: ti.Timeout,
		Resume: func(res CallResult) Outcome {
			var err error
			switch {
			case res.Err != nil:
				err = res.Err
			case res.Status != 200:
				err = errors.New("status " + itoa(res.Status))
			case len(res.Body) > maxIssuerDocBody:
				err = errors.New("response too large")
			}
			if err != nil {
				e.log(LogError, "mcpgate: introspection at "+ti.Issuer+" failed: "+err.Error())
				return then(nil, "", issuerUnavailable("the access token cannot be checked now"))
			}
			claims, reason, perr := parseIntrospection(res.Body, ti, e.now())
			if perr != nil {
				e.log(LogError, "mcpgate: introspection at "+ti.Issuer+": "+perr.Error())
				return then(nil, "", issuerUnavailable("the access token cannot be checked now"))
			}
			return then(claims, reason, nil)
		},
	}
}

// basicAuth is the HTTP Basic credential of RFC 6749 §2.3.1: client id
// and secret each form-encoded first.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(uri.QueryEscape(id)+":"+uri.QueryEscape(secret)))
}

// parseIntrospection reads an introspection response (RFC 7662 §2.2). err
// is set for a response that is not one (the token's state is then
// unknown); reason is set for a token that must be refused: not active
// ("active" REQUIRED), of another issuer, or without "sub" or "aud".
// Positive answers are cached until "exp" but at most CacheMax (recheckAt).
func parseIntrospection(body []byte, ti *TrustedIssuer, now time.Time) (*AccessTokenClaims, string, error) {
	if !jsonv.ValidBytes(body) {
		return nil, "", errors.New("response is not JSON")
	}
	cl := jsonv.ParseBytes(body)
	if !cl.IsObject() {
		return nil, "", errors.New("response is not a JSON object")
	}
	active := cl.Get("active")
	if !active.IsBool() {
		return nil, "", errors.New(`response has no boolean "active"`)
	}
	if !active.Bool() {
		return nil, denyInactive, nil
	}
	c := &AccessTokenClaims{issuer: ti, Issuer: ti.Issuer}
	if iss := cl.Get("iss"); iss.Exists() && (iss.Type != jsonv.String || iss.Str != ti.Issuer) {
		return nil, denyUnknownIssuer, nil
	}
	var ok bool
	if c.Subject, ok = jose.String(cl, "sub"); !ok || c.Subject == "" {
		return nil, denyBadClaims, nil
	}
	if c.Audience, ok = jose.Audience(cl); !ok || len(c.Audience) == 0 {
		return nil, denyBadClaims, nil
	}
	if sc := cl.Get("scope"); sc.Exists() {
		if sc.Type != jsonv.String {
			return nil, denyBadClaims, nil
		}
		c.Scope = clientmeta.SplitScope(sc.Str)
		c.scopeString = strings.Join(c.Scope, " ")
	}
	c.ClientID, _ = jose.String(cl, "client_id")
	if !readTimes(cl, c, false) {
		return nil, denyBadClaims, nil
	}
	recheck := now.Add(ti.Introspection.CacheMax)
	if c.Expiry.IsZero() {
		c.Expiry = recheck
	} else if c.Expiry.Before(recheck) {
		recheck = c.Expiry
	}
	c.recheckAt = max(recheck.UnixNano(), 1)
	return c, "", nil
}
