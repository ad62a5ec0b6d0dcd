package authcore

import (
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jose"
)

// Client authentication with a signed JWT (private_key_jwt, RFC 7523 §2.2
// and §3, RFC 7521 §4.2), for clients whose metadata document publishes
// their keys: "private_key_jwt plus jwks/jwks_uri makes the client
// confidential, and it must then authenticate" (CIMD §6.2).

// clientAssertionTypeJWT is the client_assertion_type of RFC 7523 §2.2.
const clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSigningAlgs are the JWS algorithms accepted in client
// assertions, advertised as token_endpoint_auth_signing_alg_values_supported.
var assertionSigningAlgs = []string{AlgES256, AlgEdDSA, jose.RS256, jose.PS256}

// Limits on client assertions and client key sets.
const (
	// maxAssertionLifetime bounds exp - now: RFC 7523 §3 lets the server
	// reject assertions that live unreasonably long, and it bounds how long
	// a jti must be remembered.
	maxAssertionLifetime = 10 * time.Minute
	maxAssertionLen      = 8192
	maxClientKeys        = 16
	// maxAssertionJTIs bounds the per-VM table of jti values seen.
	maxAssertionJTIs = 10000
)

// parseClientJWKS reads a client's JWK Set (RFC 7517 §5) under
// clientKeyPolicy. Keys for another use than "sig" and key types mcpgate
// cannot verify are skipped; a key carrying private members refuses the
// set, since a published key set must not hold them. It fails when no
// usable key remains.
func parseClientJWKS(raw []byte) ([]*jose.Key, error) {
	return jose.ParseJWKS(raw, &clientKeyPolicy)
}

// clientAssertion is a parsed, not yet verified, client assertion.
type clientAssertion struct {
	*jose.Token
	iss, sub, jti string
	aud           []string
	exp, nbf, iat time.Time
}

// parseClientAssertion reads a JWS compact serialization and its claims
// without checking the signature (verifyAssertion does). iss, sub and exp
// must be present (RFC 7523 §3); jti and aud are checked by the caller.
func parseClientAssertion(s string) (*clientAssertion, error) {
	t, err := jose.Parse(s, maxAssertionLen, assertionSigningAlgs)
	if err != nil {
		return nil, errors.New("the client assertion is not a usable signed JWT: " + err.Error())
	}
	claims, err := t.Claims()
	if err != nil {
		return nil, errors.New("the client assertion has " + err.Error())
	}
	a := &clientAssertion{Token: t}
	var ok, present bool
	if a.iss, ok = jose.String(claims, "iss"); !ok || a.iss == "" {
		return nil, errors.New("the client assertion has no iss")
	}
	if a.sub, ok = jose.String(claims, "sub"); !ok || a.sub == "" {
		return nil, errors.New("the client assertion has no sub")
	}
	a.jti, _ = jose.String(claims, "jti")
	if a.aud, ok = jose.Audience(claims); !ok {
		return nil, errors.New("the client assertion has a malformed aud")
	}
	if a.exp, _, ok = jose.NumericDate(claims, "exp"); !ok {
		return nil, errors.New("the client assertion has no valid exp")
	}
	if a.nbf, present, ok = jose.NumericDate(claims, "nbf"); present && !ok {
		return nil, errors.New("the client assertion has a malformed nbf")
	}
	if a.iat, present, ok = jose.NumericDate(claims, "iat"); present && !ok {
		return nil, errors.New("the client assertion has a malformed iat")
	}
	return a, nil
}

// verifyAssertion reports whether one of keys signed a: the key named by
// kid when the assertion has one, else any key; the key must accept the
// algorithm (its type fits, and its own "alg" agrees when it pins one).
func (e *Engine) verifyAssertion(a *clientAssertion, keys []*jose.Key) bool {
	for _, k := range keys {
		if a.Kid != "" && k.Kid != a.Kid || !k.Accepts(a.Alg) {
			continue
		}
		if e.verifySignature(a.Alg, k.Public, a.SigningInput, a.Signature) == nil {
			return true
		}
	}
	return false
}

// checkClaims applies RFC 7523 §3 to a verified assertion for client id:
// iss and sub are the client, aud names this server (its issuer or the
// endpoint URL, RFC 7523 §3 item 3), exp is in the future but not too far,
// nbf and iat are not in the future, and there is a jti.
func (a *clientAssertion) checkClaims(id string, audiences []string, now time.Time) string {
	switch {
	case a.iss != id || a.sub != id:
		return "iss and sub must both be the client_id"
	case !anyIn(a.aud, audiences):
		return "aud does not name this authorization server"
	case !now.Before(a.exp.Add(clockSkew)):
		return "the assertion has expired"
	case a.exp.After(now.Add(maxAssertionLifetime + clockSkew)):
		return "the assertion lives longer than " + maxAssertionLifetime.String()
	case !a.nbf.IsZero() && now.Add(clockSkew).Before(a.nbf):
		return "the assertion is not valid yet"
	case !a.iat.IsZero() && now.Add(clockSkew).Before(a.iat):
		return "the assertion was issued in the future"
	case a.jti == "" || len(a.jti) > 256:
		return "the assertion has no usable jti"
	}
	return ""
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if containsString(want, h) {
			return true
		}
	}
	return false
}

// authenticateAssertion authenticates a client by client_assertion, then
// calls then as authenticateClient does.
func (e *Engine) authenticateAssertion(req *Request, f form, ca clientAuth, then func(clientAuth, *Error) Outcome) Outcome {
	if f["client_assertion_type"] != clientAssertionTypeJWT {
		return then(ca, newError(ErrCodeInvalidRequest, 400, "client_assertion_type must be "+clientAssertionTypeJWT))
	}
	a, err := parseClientAssertion(f["client_assertion"])
	if err != nil {
		return then(ca, newError(ErrCodeInvalidClient, 401, "client authentication failed").withCause(err))
	}
	id := a.iss
	if bodyID := f["client_id"]; bodyID != "" && bodyID != id {
		return then(ca, newError(ErrCodeInvalidClient, 401, "client_id differs from the client assertion's issuer"))
	}
	now := e.now()
	if e.as.authFailures.exceeded(lockoutKey(id, req.Source), now) {
		e.count("mcpgate.token.client_auth_throttled")
		return then(ca, newError(ErrCodeInvalidClient, 401, "too many failed authentication attempts; try again later"))
	}
	fail := func(reason string) Outcome {
		e.as.authFailures.allow(lockoutKey(id, req.Source), now)
		e.count("mcpgate.token.client_auth_failed")
		return then(ca, newError(ErrCodeInvalidClient, 401, "client authentication failed").withCause(errors.New(reason)))
	}
	return e.resolveClient(id, func(c *Client, oe *Error) Outcome {
		if oe != nil {
			return then(ca, newError(ErrCodeInvalidClient, 401, "client authentication failed").withCause(oe))
		}
		if c.TokenEndpointAuthMethod != AuthMethodPrivateKeyJWT {
			return fail("the client is not registered for private_key_jwt")
		}
		return e.clientKeys(c, func(keys []*jose.Key, kerr *Error) Outcome {
			if kerr != nil {
				// The client's key set could not be had: not a guess at a
				// credential, so not counted.
				return then(ca, kerr)
			}
			if !e.verifyAssertion(a, keys) {
				return fail("the client assertion's signature does not verify with the client's keys")
			}
			endpoint := e.cfg.url(strings.SplitN(req.Path, "?", 2)[0])
			if reason := a.checkClaims(id, []string{e.cfg.Issuer, e.cfg.url(e.cfg.Endpoints.Token), endpoint}, now); reason != "" {
				return fail(reason)
			}
			return e.rememberAssertion(id, a, now, func(replayed bool, serr error) Outcome {
				if serr != nil {
					return then(ca, e.storeError("client assertion replay check failed", serr))
				}
				if replayed {
					return fail("the client assertion was used before (jti)")
				}
				ca.client = c
				return then(ca, nil)
			})
		})
	})
}

// clientKeys returns a private_key_jwt client's keys: its inline "jwks",
// or its "jwks_uri" fetched through the same vetted egress as metadata
// documents (SSRF rules, size cap, no redirects) and cached by its HTTP
// caching headers within the CIMD cache bounds.
func (e *Engine) clientKeys(c *Client, then func([]*jose.Key, *Error) Outcome) Outcome {
	keysErr := func(desc string, cause error) *Error {
		return newError(ErrCodeInvalidClient, 401, "client authentication failed: "+desc).withCause(cause)
	}
	if c.jwks != "" {
		keys, err := parseClientJWKS([]byte(c.jwks))
		if err != nil {
			return then(nil, keysErr("the client's jwks is not usable", err))
		}
		return then(keys, nil)
	}
	if c.jwksURI == "" {
		return then(nil, keysErr("the client publishes no keys", nil))
	}
	cfg := &e.cfg.CIMD
	u, err := cfg.vetURL(c.jwksURI, false)
	if err != nil {
		return then(nil, keysErr("the client's jwks_uri is not acceptable", err))
	}
	now := e.now()
	s := &e.cimd
	s.mu.Lock()
	if ent, ok := s.jwks[c.jwksURI]; ok && now.Before(ent.until) {
		s.mu.Unlock()
		return then(ent.keys, nil)
	}
	if !s.rateAllow("jwks "+c.jwksURI, now, cfg.FetchRatePerMinute) {
		s.mu.Unlock()
		return then(nil, newError(ErrCodeInvalidClient, 401, "the client's jwks_uri was fetched too often; try again in a minute"))
	}
	s.mu.Unlock()
	return e.egressGetJSON(u, "client JWK Set", cfg.MaxBytes, func(body []byte, h Header, at time.Time, ferr *Error) Outcome {
		if ferr != nil {
			return then(nil, keysErr("the client's jwks_uri could not be fetched", ferr))
		}
		keys, err := parseClientJWKS(body)
		if err != nil {
			return then(nil, keysErr("the client's jwks_uri document is not usable", err))
		}
		if fr := cacheFreshness(h, at, cfg.CacheMin, cfg.CacheMax); fr.Store {
			s.mu.Lock()
			s.jwksPut(c.jwksURI, keys, at.Add(fr.TTL), now)
			s.mu.Unlock()
		}
		return then(keys, nil)
	})
}

// jwksEntry is a cached client key set.
type jwksEntry struct {
	keys  []*jose.Key
	until time.Time
}

// jwksPut caches keys for url, evicting expired entries (then all) when
// the table is full. s.mu must be held.
func (s *cimdState) jwksPut(url string, keys []*jose.Key, until, now time.Time) {
	if s.jwks == nil {
		s.jwks = map[string]jwksEntry{}
	}
	if len(s.jwks) >= cimdCacheEntries {
		for k, v := range s.jwks {
			if !now.Before(v.until) {
				delete(s.jwks, k)
			}
		}
		if len(s.jwks) >= cimdCacheEntries {
			clear(s.jwks)
		}
	}
	s.jwks[url] = jwksEntry{keys: keys, until: until}
}

// rememberAssertion records the assertion's jti until it expires and
// reports whether it was already recorded (RFC 7523 §3 item 7: "The
// authorization server MAY ensure that JWTs are not replayed by
// maintaining the set of used jti values for the length of time for which
// the JWT would be considered valid"). The VM's own table is exact; the
// Store record makes other VMs and instances see it too; two uses racing
// on two VMs are ordered by the Store's create-if-absent (atomic in etcd
// and in the plugin's shared-data bucket table).
func (e *Engine) rememberAssertion(id string, a *clientAssertion, now time.Time, then func(replayed bool, err error) Outcome) Outcome {
	sum := sha256.Sum256([]byte(id + "\x00" + a.jti))
	key := "assertion-jti/" + b64.EncodeToString(sum[:16])
	until := a.exp.Add(clockSkew)
	as := &e.as
	as.mu.Lock()
	if t, ok := as.assertionJTIs[key]; ok && now.Before(t) {
		as.mu.Unlock()
		return then(true, nil)
	}
	if as.assertionJTIs == nil {
		as.assertionJTIs = map[string]time.Time{}
	}
	if len(as.assertionJTIs) >= maxAssertionJTIs {
		for k, t := range as.assertionJTIs {
			if !now.Before(t) {
				delete(as.assertionJTIs, k)
			}
		}
	}
	full := len(as.assertionJTIs) >= maxAssertionJTIs
	if !full {
		as.assertionJTIs[key] = until
	}
	as.mu.Unlock()
	if full {
		return then(false, errors.New("too many client assertions in flight on this VM"))
	}
	return e.store.Get(key, func(_ []byte, _ uint64, err error) Outcome {
		switch err {
		case nil:
			return then(true, nil)
		case ErrNotFound:
		default:
			return then(false, err)
		}
		return e.store.Put(key, []byte{1}, 0, until.Sub(now), func(err error) Outcome {
			if errors.Is(err, ErrConflict) {
				// Another instance recorded it first (an atomic
				// create-if-absent, as in etcd, orders racing uses).
				return then(true, nil)
			}
			return then(false, err)
		})
	})
}
