package authcore

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// A trusted issuer's keys, fetched by callout after start (never in plugin
// start) and shared by the VMs of one Envoy through the Store.
//
//   - Each VM keeps the parsed key set it last saw (issuerKeyState).
//   - A VM that needs keys it does not have (none yet, past their HTTP
//     caching lifetime, or a token names an unknown kid) first reads the
//     Store record "issuer-keys/<issuer>": another worker may have fetched
//     already. Only if that does not help does it claim the refresh in the
//     record (compare-and-swap) and fetch: the issuer's metadata when no
//     jwks_uri is configured (RFC 8414 §3.1 path-inserted form, then the
//     OpenID Connect Discovery 1.0 §4 appended form), then the JWK Set.
//   - The result is written back to the record for every worker.
//   - Concurrent requests in one VM share one refresh (issuer_flights.go).
//   - A refresh because of an unknown kid happens at most once per
//     RefetchInterval per issuer (the claim time in the record bounds all
//     workers together), however many such tokens arrive; a token whose
//     kid is still unknown is refused.
//   - A key set is used for its HTTP caching lifetime clamped to
//     [CacheMin, CacheMax] (RFC 9111 §4.2). When a refresh fails, the old
//     keys stay in use for at most StaleMax past that lifetime
//     (stale-if-error, RFC 5861 §4), and the refresh is retried at most
//     once per RefetchInterval.
//
// Shared data cannot compare-and-swap a record that does not exist yet, so
// on a cold start every worker may fetch once; from then on the claim is
// exact.

// issuerKeyState is one issuer's keys as this VM knows them.
type issuerKeyState struct {
	_          [0]func() // not comparable: no equality function in the wasm module
	keys       *issuerKeySet
	fetchedAt  time.Time // when keys were fetched (by any worker)
	freshUntil time.Time // end of their caching lifetime
	lastClaim  time.Time // the latest refresh started by any worker known here
	jwksURI    string    // from config or discovery
}

// Limits on fetched documents.
const (
	maxIssuerDocBody = 256 << 10
	maxJWKSKeys      = 100
)

func issuerKeysStoreKey(ti *TrustedIssuer) string { return "issuer-keys/" + ti.Issuer }

// issuerKeys returns the key set to verify a token of ti whose header
// names kid ("" when it names none). keys may lack kid: the token is then
// refused as signed by an unknown key. err is set when no key set is
// available at all (the issuer cannot be reached and nothing usable is
// cached).
func (e *Engine) issuerKeys(ti *TrustedIssuer, kid string, then func(keys *issuerKeySet, err *Error) Outcome) Outcome {
	s := &e.issuers
	now := e.now()
	s.mu.Lock()
	st := s.keyState(ti)
	if st.usable(ti, kid, now) {
		ks := st.keys
		s.mu.Unlock()
		return then(ks, nil)
	}
	key := "keys|" + ti.Issuer
	// A refresh is at most two metadata requests and the JWK Set, plus
	// the Store's round trips when it is remote.
	f, ticket := s.join(key, now, 4*ti.Timeout, func(f *issuerFlight) Outcome {
		if f.gaveUp {
			return e.issuerKeys(ti, kid, then)
		}
		return then(f.keys, f.err)
	})
	s.mu.Unlock()
	switch {
	case ticket != 0:
		return Wait{Ticket: ticket}
	case f == nil:
		return then(nil, issuerUnavailable("too many requests are waiting for the issuer's keys"))
	}
	return e.refreshIssuerKeys(ti, kid, func(keys *issuerKeySet, err *Error) Outcome {
		s.mu.Lock()
		f.keys, f.err = keys, err
		s.land(key, f)
		s.mu.Unlock()
		return then(keys, err)
	})
}

func (s *issuerState) keyState(ti *TrustedIssuer) *issuerKeyState {
	if s.keys == nil {
		s.keys = map[*TrustedIssuer]*issuerKeyState{}
	}
	st := s.keys[ti]
	if st == nil {
		st = &issuerKeyState{jwksURI: ti.JWKSURI}
		s.keys[ti] = st
	}
	return st
}

// usable reports whether st's keys answer for kid at now without a
// refresh: they are fresh, or stale within StaleMax right after a failed
// refresh; and they hold kid, or a refresh was started less than
// RefetchInterval ago.
func (st *issuerKeyState) usable(ti *TrustedIssuer, kid string, now time.Time) bool {
	if st.keys == nil {
		return false
	}
	recent := now.Before(st.lastClaim.Add(ti.RefetchInterval))
	live := now.Before(st.freshUntil) || recent && now.Before(st.freshUntil.Add(ti.StaleMax))
	return live && (st.keys.has(kid) || recent)
}

// available returns st's keys if they may still be used at all (within
// StaleMax past their lifetime), else nil.
func (st *issuerKeyState) available(ti *TrustedIssuer, now time.Time) *issuerKeySet {
	if st.keys != nil && now.Before(st.freshUntil.Add(ti.StaleMax)) {
		return st.keys
	}
	return nil
}

// issuerKeyRecord is the Store record of an issuer's keys:
// claimedAt, fetchedAt, freshUntil (Unix nanoseconds, 8 bytes each, big
// endian), the length of the JWKS URI (2 bytes), the URI, the JWK Set.
type issuerKeyRecord struct {
	claimedAt, fetchedAt, freshUntil time.Time
	jwksURI                          string
	jwks                             []byte
}

func (r *issuerKeyRecord) encode() []byte {
	b := make([]byte, 26, 26+len(r.jwksURI)+len(r.jwks))
	binary.BigEndian.PutUint64(b[0:], uint64(unixNanoOrZero(r.claimedAt)))
	binary.BigEndian.PutUint64(b[8:], uint64(unixNanoOrZero(r.fetchedAt)))
	binary.BigEndian.PutUint64(b[16:], uint64(unixNanoOrZero(r.freshUntil)))
	binary.BigEndian.PutUint16(b[24:], uint16(len(r.jwksURI)))
	b = append(b, r.jwksURI...)
	return append(b, r.jwks...)
}

func decodeIssuerKeyRecord(b []byte) (*issuerKeyRecord, bool) {
	if len(b) < 26 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(b[24:]))
	if len(b) < 26+n {
		return nil, false
	}
	t := func(i int) time.Time {
		v := int64(binary.BigEndian.Uint64(b[i:]))
		if v == 0 {
			return time.Time{}
		}
		return time.Unix(0, v)
	}
	return &issuerKeyRecord{claimedAt: t(0), fetchedAt: t(8), freshUntil: t(16), jwksURI: string(b[26 : 26+n]), jwks: b[26+n:]}, true
}

func unixNanoOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// recordTTL is how long the Store keeps a key record: as long as its keys
// may be used, and at least a refetch interval (the claim).
func recordTTL(ti *TrustedIssuer, rec *issuerKeyRecord, now time.Time) time.Duration {
	ttl := rec.freshUntil.Add(ti.StaleMax).Sub(now)
	return max(ttl, ti.RefetchInterval, time.Second)
}

// refreshIssuerKeys reads the Store record, adopts a newer key set from
// it, and fetches from the issuer when that is still needed and allowed.
func (e *Engine) refreshIssuerKeys(ti *TrustedIssuer, kid string, then func(*issuerKeySet, *Error) Outcome) Outcome {
	s := &e.issuers
	storeKey := issuerKeysStoreKey(ti)
	return e.store.Get(storeKey, func(val []byte, version uint64, err error) Outcome {
		now := e.now()
		var rec *issuerKeyRecord
		if err == nil {
			rec, _ = decodeIssuerKeyRecord(val)
		} else if err != ErrNotFound {
			e.log(LogWarn, "mcpgate: reading the shared keys of "+ti.Issuer+": "+err.Error())
		}
		s.mu.Lock()
		st := s.keyState(ti)
		if rec != nil {
			e.adoptKeyRecord(ti, st, rec)
		}
		if st.usable(ti, kid, now) {
			ks := st.keys
			s.mu.Unlock()
			return then(ks, nil)
		}
		have := st.available(ti, now)
		s.mu.Unlock()
		if have != nil && rec != nil && now.Before(rec.claimedAt.Add(ti.RefetchInterval)) {
			// Another worker refreshed (or is refreshing) within the interval.
			return then(have, nil)
		}
		claim := issuerKeyRecord{claimedAt: now}
		if rec != nil {
			claim = *rec
			claim.claimedAt = now
		}
		return e.store.Put(storeKey, claim.encode(), version, recordTTL(ti, &claim, now), func(err error) Outcome {
			if err == ErrConflict && have != nil {
				// Another worker claimed the refresh first.
				return then(have, nil)
			}
			if err != nil && err != ErrConflict {
				e.log(LogWarn, "mcpgate: claiming the key refresh of "+ti.Issuer+": "+err.Error())
			}
			s.mu.Lock()
			s.keyState(ti).lastClaim = now
			s.mu.Unlock()
			return e.fetchIssuerKeys(ti, func(jwks []byte, jwksURI string, ttl time.Duration, ferr error) Outcome {
				return e.landIssuerKeys(ti, jwks, jwksURI, ttl, ferr, then)
			})
		})
	})
}

// adoptKeyRecord takes the record's keys when they are newer than st's.
// Called with s.mu held.
func (e *Engine) adoptKeyRecord(ti *TrustedIssuer, st *issuerKeyState, rec *issuerKeyRecord) {
	if rec.claimedAt.After(st.lastClaim) {
		st.lastClaim = rec.claimedAt
	}
	if len(rec.jwks) == 0 || !rec.fetchedAt.After(st.fetchedAt) {
		return
	}
	ks, err := parseIssuerKeySet(rec.jwks, ti)
	if err != nil {
		e.log(LogWarn, "mcpgate: the shared key set of "+ti.Issuer+" is unusable: "+err.Error())
		return
	}
	st.keys, st.fetchedAt, st.freshUntil = ks, rec.fetchedAt, rec.freshUntil
	if rec.jwksURI != "" && ti.JWKSURI == "" {
		st.jwksURI = rec.jwksURI
	}
}

// landIssuerKeys records the outcome of a fetch, in this VM and in the
// Store, and answers with the keys to use.
func (e *Engine) landIssuerKeys(ti *TrustedIssuer, jwks []byte, jwksURI string, ttl time.Duration, ferr error, then func(*issuerKeySet, *Error) Outcome) Outcome {
	s := &e.issuers
	now := e.now()
	var ks *issuerKeySet
	if ferr == nil {
		ks, ferr = parseIssuerKeySet(jwks, ti)
	}
	s.mu.Lock()
	st := s.keyState(ti)
	if ferr != nil {
		have := st.available(ti, now)
		if ti.JWKSURI == "" {
			// The next refresh reads the metadata again: the jwks_uri
			// it gave may be what changed.
			st.jwksURI = ""
		}
		s.mu.Unlock()
		e.count("mcpgate.issuer.keys_fetch_failed")
		e.log(LogError, "mcpgate: fetching the keys of "+ti.Issuer+" failed: "+ferr.Error())
		if have != nil {
			return then(have, nil) // stale-if-error
		}
		return then(nil, issuerUnavailable("the token issuer's keys are unavailable"))
	}
	e.count("mcpgate.issuer.keys_fetched")
	st.keys, st.fetchedAt, st.freshUntil, st.jwksURI = ks, now, now.Add(ttl), jwksURI
	s.mu.Unlock()
	rec := issuerKeyRecord{claimedAt: now, fetchedAt: now, freshUntil: now.Add(ttl), jwksURI: jwksURI, jwks: jwks}
	if ti.JWKSURI != "" {
		rec.jwksURI = ""
	}
	storeKey := issuerKeysStoreKey(ti)
	return e.store.Get(storeKey, func(_ []byte, version uint64, err error) Outcome {
		if err != nil && err != ErrNotFound {
			return then(ks, nil)
		}
		return e.store.Put(storeKey, rec.encode(), version, recordTTL(ti, &rec, now), func(err error) Outcome {
			if err != nil && err != ErrConflict {
				e.log(LogWarn, "mcpgate: sharing the keys of "+ti.Issuer+": "+err.Error())
			}
			return then(ks, nil)
		})
	})
}

// fetchIssuerKeys fetches the JWK Set, after the issuer's metadata when
// its jwks_uri is not known. ttl is the set's caching lifetime.
func (e *Engine) fetchIssuerKeys(ti *TrustedIssuer, then func(jwks []byte, jwksURI string, ttl time.Duration, err error) Outcome) Outcome {
	e.issuers.mu.Lock()
	jwksURI := e.issuers.keyState(ti).jwksURI
	e.issuers.mu.Unlock()
	if jwksURI == "" {
		return e.discoverIssuer(ti, func(uri string, err error) Outcome {
			if err != nil {
				return then(nil, "", 0, err)
			}
			return e.fetchJWKS(ti, uri, then)
		})
	}
	return e.fetchJWKS(ti, jwksURI, then)
}

func (e *Engine) fetchJWKS(ti *TrustedIssuer, jwksURI string, then func([]byte, string, time.Duration, error) Outcome) Outcome {
	u, _ := uri.Parse(jwksURI)
	return e.issuerGET(ti, u, func(res CallResult, err error) Outcome {
		if err != nil {
			return then(nil, "", 0, errors.New("JWK Set "+jwksURI+": "+err.Error()))
		}
		d := cacheFreshness(res.Headers, e.now(), ti.CacheMin, ti.CacheMax)
		ttl := d.TTL
		if !d.Store {
			ttl = ti.CacheMin // never cached: refetched when next needed
		}
		return then(res.Body, jwksURI, ttl, nil)
	})
}

// issuerGET performs a GET on the issuer's cluster and checks for a
// bounded 200 response.
func (e *Engine) issuerGET(ti *TrustedIssuer, u *uri.URL, then func(CallResult, error) Outcome) Outcome {
	return Call{
		Cluster:   ti.Cluster,
		Method:    "GET",
		Authority: u.Host,
		Path:      u.RequestURI(),
		Headers:   Header{{"accept", "application/json"}},
		Timeout:   ti.Timeout,
		Resume: func(res CallResult) Outcome {
			switch {
			case res.Err != nil:
				return then(res, res.Err)
			case res.Status != 200:
				return then(res, errors.New("status "+itoa(res.Status)))
			case len(res.Body) > maxIssuerDocBody:
				return then(res, errors.New("response larger than "+itoa(maxIssuerDocBody)+" bytes"))
			}
			return then(res, nil)
		},
	}
}

// issuerMetadataURLs are where an issuer's metadata is looked for: the RFC
// 8414 §3.1 form ("the well-known URI string ... is inserted between the
// host component and the path component, if any"; "any terminating "/"
// MUST be removed before inserting") and then OpenID Connect Discovery 1.0
// §4's ("appending /.well-known/openid-configuration to the Issuer",
// without a doubled slash).
func issuerMetadataURLs(iss *uri.URL) []*uri.URL {
	base := iss.Scheme + "://" + iss.Host
	p := strings.TrimSuffix(iss.EscapedPath(), "/")
	inserted, _ := uri.Parse(base + WellKnownAS + p)
	appended, _ := uri.Parse(base + p + "/.well-known/openid-configuration")
	return []*uri.URL{inserted, appended}
}

// discoverIssuer reads the issuer's jwks_uri from its metadata, trying
// each form of issuerMetadataURLs in turn.
func (e *Engine) discoverIssuer(ti *TrustedIssuer, then func(jwksURI string, err error) Outcome) Outcome {
	urls := issuerMetadataURLs(ti.issuerURL)
	var try func(i int, errs []string) Outcome
	try = func(i int, errs []string) Outcome {
		if i == len(urls) {
			return then("", errors.New("no usable metadata: "+strings.Join(errs, "; ")))
		}
		return e.issuerGET(ti, urls[i], func(res CallResult, err error) Outcome {
			if err == nil {
				var uri string
				if uri, err = parseIssuerMetadata(res.Body, ti.Issuer); err == nil {
					e.count("mcpgate.issuer.discovered")
					return then(uri, nil)
				}
			}
			return try(i+1, append(errs, urls[i].String()+": "+err.Error()))
		})
	}
	return try(0, nil)
}

// parseIssuerMetadata reads jwks_uri from an RFC 8414 §2 or OpenID
// Connect Discovery §3 document. Its "issuer" must be the configured one
// byte for byte (RFC 8414 §3.3: "The "issuer" value returned MUST be
// identical to the authorization server's issuer identifier value into
// which the well-known URI string was inserted"; OIDC Discovery §4.3).
func parseIssuerMetadata(body []byte, issuer string) (string, error) {
	if !jsonv.ValidBytes(body) {
		return "", errors.New("not JSON")
	}
	doc := jsonv.ParseBytes(body)
	if !doc.IsObject() {
		return "", errors.New("not a JSON object")
	}
	if iss := doc.Get("issuer"); iss.Type != jsonv.String || iss.Str != issuer {
		return "", errors.New(`its "issuer" is not the configured issuer`)
	}
	j := doc.Get("jwks_uri")
	if j.Type != jsonv.String {
		return "", errors.New(`no "jwks_uri"`)
	}
	if _, msg := checkHTTPSURL(j.Str); msg != "" {
		return "", errors.New(`"jwks_uri" ` + msg)
	}
	return j.Str, nil
}

// issuerUnavailable is the error for a token that cannot be checked now
// because the issuer cannot be reached: 503, fail closed.
func issuerUnavailable(desc string) *Error {
	return &Error{Code: ErrCodeTemporarilyUnavailable, Status: 503, Description: desc}
}
