package authcore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Client authentication with a signed JWT (private_key_jwt, RFC 7523 §2.2
// and §3, RFC 7521 §4.2), for clients whose metadata document publishes
// their keys: "private_key_jwt plus jwks/jwks_uri makes the client
// confidential, and it must then authenticate" (CIMD §6.2, CHECKLIST 31).

// clientAssertionTypeJWT is the client_assertion_type of RFC 7523 §2.2.
const clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSigningAlgs are the JWS algorithms accepted in client
// assertions, advertised as token_endpoint_auth_signing_alg_values_supported.
var assertionSigningAlgs = []string{AlgES256, AlgEdDSA, "RS256", "PS256"}

// Limits on client assertions and client key sets.
const (
	// maxAssertionLifetime bounds exp - now: RFC 7523 §3 lets the server
	// reject assertions that live unreasonably long, and it bounds how long
	// a jti must be remembered.
	maxAssertionLifetime = 10 * time.Minute
	maxAssertionLen      = 8192
	maxClientKeys        = 16
	minRSABits           = 2048
	// maxAssertionJTIs bounds the per-VM table of jti values seen.
	maxAssertionJTIs = 10000
)

// clientKey is one public key from a client's JWK Set.
type clientKey struct {
	kid string
	alg string // the JWK's "alg", or "" when it does not pin one
	pub crypto.PublicKey
}

// parseClientJWKS reads a client's JWK Set (RFC 7517 §5). Keys for another
// use than "sig" and key types mcpgate cannot verify are skipped; a key
// carrying private members is refused, since a published key set must not
// hold them. It fails when no usable key remains.
func parseClientJWKS(raw []byte) ([]clientKey, error) {
	if !gjson.ValidBytes(raw) {
		return nil, errors.New("the JWK Set is not valid JSON")
	}
	keys := gjson.GetBytes(raw, "keys")
	if !keys.IsArray() {
		return nil, errors.New(`the JWK Set has no "keys" array`)
	}
	var out []clientKey
	var bad error
	keys.ForEach(func(_, k gjson.Result) bool {
		if !k.IsObject() {
			bad = errors.New("a JWK Set member is not an object")
			return false
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if k.Get(private).Exists() {
				bad = errors.New("a published key carries private key material")
				return false
			}
		}
		if use := k.Get("use"); use.Exists() && use.String() != "sig" {
			return true
		}
		ck := clientKey{kid: k.Get("kid").String(), alg: k.Get("alg").String()}
		switch k.Get("kty").String() {
		case "RSA":
			pub, err := parseRSAJWK(k)
			if err != nil {
				bad = err
				return false
			}
			ck.pub = pub
		case "EC", "OKP":
			pub, _, _, err := parseJWK(k)
			if err != nil {
				return true // another curve: not one mcpgate verifies
			}
			ck.pub = pub
		default:
			return true
		}
		out = append(out, ck)
		return len(out) < maxClientKeys
	})
	if bad != nil {
		return nil, bad
	}
	if len(out) == 0 {
		return nil, errors.New("the JWK Set has no key mcpgate can verify (EC P-256, Ed25519 or RSA of 2048 bits or more, for signing)")
	}
	return out, nil
}

// parseRSAJWK reads an RSA public key (RFC 7518 §6.3.1).
func parseRSAJWK(k gjson.Result) (*rsa.PublicKey, error) {
	n, err1 := b64.DecodeString(k.Get("n").String())
	e, err2 := b64.DecodeString(k.Get("e").String())
	if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 {
		return nil, errors.New("an RSA key has a malformed n or e")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
	for _, b := range e {
		pub.E = pub.E<<8 | int(b)
	}
	if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("an RSA key is shorter than 2048 bits or has a bad exponent")
	}
	return pub, nil
}

// clientAssertion is a parsed, not yet verified, client assertion.
type clientAssertion struct {
	alg, kid      string
	iss, sub, jti string
	aud           []string
	exp, nbf, iat time.Time
	signed        string // header.payload, what the signature covers
	sig           []byte
}

// parseClientAssertion reads a JWS compact serialization and its claims
// without checking the signature (verify does). iss, sub and exp must be
// present (RFC 7523 §3); jti and aud are checked by the caller.
func parseClientAssertion(s string) (*clientAssertion, error) {
	if len(s) > maxAssertionLen {
		return nil, errors.New("the client assertion is too long")
	}
	h, rest, ok1 := strings.Cut(s, ".")
	p, sg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sg, '.') >= 0 {
		return nil, errors.New("the client assertion is not a signed JWT (JWS compact serialization)")
	}
	hb, err := b64.DecodeString(h)
	if err != nil || !gjson.ValidBytes(hb) {
		return nil, errors.New("the client assertion has a malformed header")
	}
	hdr := gjson.ParseBytes(hb)
	if !hdr.IsObject() || hdr.Get("crit").Exists() {
		return nil, errors.New("the client assertion has a malformed or critical header")
	}
	a := &clientAssertion{signed: s[:len(h)+1+len(p)]}
	alg := hdr.Get("alg")
	if alg.Type != gjson.String || !containsString(assertionSigningAlgs, alg.Str) {
		return nil, errors.New("the client assertion's alg is not one of " + strings.Join(assertionSigningAlgs, ", "))
	}
	a.alg = alg.Str
	if kid := hdr.Get("kid"); kid.Exists() {
		if kid.Type != gjson.String {
			return nil, errors.New("the client assertion has a malformed kid")
		}
		a.kid = kid.Str
	}
	if a.sig, err = b64.DecodeString(sg); err != nil || len(a.sig) == 0 {
		return nil, errors.New("the client assertion has a malformed signature")
	}
	pb, err := b64.DecodeString(p)
	if err != nil || !gjson.ValidBytes(pb) {
		return nil, errors.New("the client assertion has malformed claims")
	}
	claims := gjson.ParseBytes(pb)
	if !claims.IsObject() {
		return nil, errors.New("the client assertion has malformed claims")
	}
	var ok bool
	if a.iss, ok = claimString(claims, "iss"); !ok || a.iss == "" {
		return nil, errors.New("the client assertion has no iss")
	}
	if a.sub, ok = claimString(claims, "sub"); !ok || a.sub == "" {
		return nil, errors.New("the client assertion has no sub")
	}
	a.jti, _ = claimString(claims, "jti")
	if a.aud, ok = claimAudience(claims); !ok {
		return nil, errors.New("the client assertion has a malformed aud")
	}
	if a.exp, ok = claimTime(claims, "exp"); !ok {
		return nil, errors.New("the client assertion has no valid exp")
	}
	if a.nbf, ok = claimTime(claims, "nbf"); !ok && claims.Get("nbf").Exists() {
		return nil, errors.New("the client assertion has a malformed nbf")
	}
	if a.iat, ok = claimTime(claims, "iat"); !ok && claims.Get("iat").Exists() {
		return nil, errors.New("the client assertion has a malformed iat")
	}
	return a, nil
}

// verify reports whether one of keys signed a: the key named by kid when
// the assertion has one, else any key; the algorithm must suit the key
// type and agree with the key's own "alg" when it pins one.
func (a *clientAssertion) verify(keys []clientKey) bool {
	for _, k := range keys {
		if a.kid != "" && k.kid != a.kid || k.alg != "" && k.alg != a.alg {
			continue
		}
		if verifyWith(k.pub, a.alg, a.signed, a.sig) {
			return true
		}
	}
	return false
}

// verifyWith checks sig over signed with pub in algorithm alg; a key type
// that does not match alg fails (no algorithm confusion).
func verifyWith(pub crypto.PublicKey, alg, signed string, sig []byte) bool {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		return alg == AlgES256 && verifySignature(&SigningKey{Public: pub}, signed, sig)
	case ed25519.PublicKey:
		return alg == AlgEdDSA && ed25519.Verify(pub, []byte(signed), sig)
	case *rsa.PublicKey:
		h := sha256.Sum256([]byte(signed))
		switch alg {
		case "RS256":
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
		case "PS256":
			return rsa.VerifyPSS(pub, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
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
		return then(ca, newError(ErrCodeInvalidRequest, 400, "client_assertion_type must be %s", clientAssertionTypeJWT))
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
	if e.as.authFailures.exceeded(id, now) {
		e.count("mcpgate.token.client_auth_throttled")
		return then(ca, newError(ErrCodeInvalidClient, 401, "too many failed authentication attempts; try again later"))
	}
	fail := func(reason string) Outcome {
		e.as.authFailures.allow(id, now)
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
		return e.clientKeys(c, func(keys []clientKey, kerr *Error) Outcome {
			if kerr != nil {
				// The client's key set could not be had: not a guess at a
				// credential, so not counted.
				return then(ca, kerr)
			}
			if !a.verify(keys) {
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
func (e *Engine) clientKeys(c *Client, then func([]clientKey, *Error) Outcome) Outcome {
	keysErr := func(desc string, cause error) *Error {
		return newError(ErrCodeInvalidClient, 401, "client authentication failed: %s", desc).withCause(cause)
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
	keys  []clientKey
	until time.Time
}

// jwksPut caches keys for url, evicting expired entries (then all) when
// the table is full. s.mu must be held.
func (s *cimdState) jwksPut(url string, keys []clientKey, until, now time.Time) {
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
// Store record makes other VMs see it too, except for two uses racing on
// two VMs, which shared data cannot order (a new key is a blind write).
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
			return then(false, err)
		})
	})
}
