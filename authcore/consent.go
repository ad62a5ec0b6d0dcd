package authcore

import (
	"errors"
	"io"

	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/heapsort"
	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// Consent: mcpgate uses one static client at the upstream provider on
// behalf of many MCP clients, so it asks the user's consent per MCP client
// before issuing any code (MCP 2026-07-28 security considerations,
// "Confused Deputy Problem": "MUST obtain user consent for each
// dynamically registered client"). The flow:
//
//  1. After login, a remembered approval for this user, client, resource
//     and scopes skips straight to the code.
//  2. Otherwise a consent ticket is stored (single use, 10 minutes) and the
//     page posts it back with a CSRF token: an HMAC of the ticket and the
//     browser cookie, so only the browser that was shown the page can
//     submit it (BP: "CSRF protection").
//  3. The consent endpoint checks cookie, CSRF token and ticket, consumes
//     the ticket with a compare-and-swap, and redirects (303) with a code,
//     or with access_denied.
//
// Order: in oidc mode the user logs in upstream first and consents after,
// not the other way round (MCP 2026-07-28 Security Best Practices, "Confused Deputy Problem", suggests setting the upstream state
// only after consent). Consent is remembered per user, so the user must be
// known; and what the confused-deputy rule protects, a code for a client
// the user never approved, is never issued before this page is answered,
// whatever the upstream provider remembered. The upstream state is sealed,
// bound to the browser cookie and expires after 10 minutes.

// consentTicketTTL is how long a consent page can be answered.
const consentTicketTTL = 10 * time.Minute

// maxConsentBody bounds the consent form (its ticket carries the sealed
// authorization request).
const maxConsentBody = 16 << 10

// sealConsentTicket is the sealing purpose of consent tickets.
const sealConsentTicket = "consent-ticket"

// consentTicket is what a consent page's ticket carries, sealed: showing
// the page stores nothing, so unauthenticated or abandoned authorizations
// cost no store record. Answering the page writes the one record that
// makes the ticket single-use (consentTicketKey) until it expires.
type consentTicket struct {
	AR      authzRequest `json:"r"`
	Subject string       `json:"u"`
	// Bind is the hash of the browser cookie the page was shown to.
	Bind string `json:"b"`
	Exp  int64  `json:"e"`
}

func consentTicketKey(ticket string) string { return "consent-ticket/" + hashKey(ticket) }

// consentKey names a remembered approval: per user, client, resource and
// exact set of scopes.
func consentKey(sub string, ar *authzRequest) string {
	scopes := append([]string(nil), ar.Scopes...)
	heapsort.Strings(scopes)
	return "consent/" + hashKey(sub+"\x00"+ar.ClientID+"\x00"+ar.Resource+"\x00"+strings.Join(scopes, " "))
}

// consent continues an authorization once the user is known: it redirects
// a pending error, skips to the code when consent is remembered, and shows
// the consent page otherwise.
func (e *Engine) consent(req *Request, c *Client, ar *authzRequest, sub string) Outcome {
	if ar.ErrCode != "" {
		return e.authorizeErrorFor(c, ar, ar.ErrCode, ar.ErrDesc, 400)
	}
	if denied := e.applyPolicy(c, ar, sub); denied != nil {
		return denied
	}
	if e.cfg.AS.Consent.Remember <= 0 {
		return e.showConsent(req, c, ar, sub)
	}
	return e.store.Get(consentKey(sub, ar), func(_ []byte, _ uint64, err error) Outcome {
		switch {
		case err == nil:
			e.count("mcpgate.consent.remembered")
			return e.issueCode(ar, sub, func(code string, oe *Error) Outcome {
				if oe != nil {
					return e.redirectError(ar, oe.Code, oe.Description, 302, nil)
				}
				return e.redirectCode(ar, code, 302, nil)
			})
		case !errors.Is(err, ErrNotFound):
			e.log(LogError, "mcpgate: consent lookup failed: "+err.Error())
		}
		return e.showConsent(req, c, ar, sub)
	})
}

// showConsent stores a consent ticket and renders the page, setting the
// browser cookie when the browser has none yet.
func (e *Engine) showConsent(req *Request, c *Client, ar *authzRequest, sub string) Outcome {
	var extra Header
	bid := readCookie(req.Headers, e.cfg.cookieName(browserCookie))
	if !validBrowserID(bid) {
		var err error
		if bid, err = e.randomString(32); err != nil {
			return e.errorPage(500, asError(err))
		}
		extra = Header{{"set-cookie", e.cfg.setCookie(browserCookie, bid, 0)}}
	}
	rec := consentTicket{AR: *ar, Subject: sub, Bind: hashKey(bid), Exp: e.now().Add(consentTicketTTL).Unix()}
	val := rec.marshal()
	ticket, err := e.seal(sealConsentTicket, "", val)
	if err != nil {
		return e.errorPage(500, asError(err))
	}
	r := e.resourceByURI(ar.Resource)
	view := consentView{
		ClientName:   c.Name,
		ClientID:     c.ID,
		Source:       c.Source,
		SourceHost:   hostOf(c.ID),
		RedirectHost: redirectHost(ar.RedirectURI),
		AllLoopback:  c.allLoopback(),
		Subject:      sub,
		ResourceURI:  ar.Resource,
		Scopes:       ar.Scopes,
		Action:       e.cfg.Endpoints.Consent,
		Ticket:       ticket,
		CSRF:         e.cfg.AS.SealingKeys[0].macString("csrf", ticket, bid),
		Remember:     humanDuration(e.cfg.AS.Consent.Remember),
	}
	if r != nil {
		view.ResourceName = r.Name
	}
	e.count("mcpgate.consent.shown")
	return e.consentPage(view, ar.RedirectURI, extra)
}

// handleConsent receives the consent form. Every failure is an error page,
// never a redirect: the form did not come, provably, from the user's
// browser, or was already answered.
func (e *Engine) handleConsent(req *Request) Outcome {
	if !isFormContentType(req.Headers.Get("content-type")) {
		return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the consent form must be posted as a form"))
	}
	if !e.sameOriginPost(req) {
		e.count("mcpgate.consent.cross_origin")
		e.log(LogWarn, "mcpgate: consent POST refused: Origin "+quote(strings.Join(req.Headers.Values("origin"), ", "))+" is not the issuer's "+e.issuerOrigin())
		return e.errorPage(403, newError(ErrCodeAccessDenied, 403, "the consent form was posted from another site"))
	}
	return ReadBody{Limit: maxConsentBody, Resume: func(body []byte) Outcome {
		f, err := parseForm(string(body))
		if err != nil {
			return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the consent form is malformed"))
		}
		ticket, csrf, action := f["ticket"], f["csrf"], f["action"]
		if action != "approve" && action != "deny" {
			return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the consent form is malformed"))
		}
		bid := readCookie(req.Headers, e.cfg.cookieName(browserCookie))
		if !validBrowserID(bid) || ticket == "" || !e.validCSRF(csrf, ticket, bid) {
			e.count("mcpgate.consent.csrf_failed")
			return e.errorPage(403, newError(ErrCodeAccessDenied, 403, "this consent form was not opened in this browser; start again from the application"))
		}
		var rec consentTicket
		plain, _, err := e.unseal(sealConsentTicket, "", ticket)
		switch {
		case err != nil || rec.unmarshal(plain) != nil:
			return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "the consent form is malformed"))
		case !e.now().Before(time.Unix(rec.Exp, 0)):
			return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "this consent form has expired; start again from the application"))
		case !equalSecret(rec.Bind, hashKey(bid)):
			return e.errorPage(403, newError(ErrCodeAccessDenied, 403, "this consent form was not opened in this browser; start again from the application"))
		}
		// Single use: the first answer writes the ticket's record; a second
		// finds it (or loses the compare-and-swap) and is refused.
		key := consentTicketKey(ticket)
		return e.store.Get(key, func(_ []byte, ver uint64, err error) Outcome {
			switch {
			case err == nil:
				return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "this consent form was already answered"))
			}
			ar := &rec.AR
			if !errors.Is(err, ErrNotFound) {
				// The sealed ticket vouches for the request: its error
				// goes back to the client, with iss.
				oe := e.storeError("consent ticket lookup failed", err)
				return e.redirectError(ar, oe.Code, oe.Description, 303, nil)
			}
			ttl := time.Unix(rec.Exp, 0).Sub(e.now())
			if ttl < time.Second {
				ttl = time.Second
			}
			return e.store.Put(key, []byte("1"), ver, ttl, func(err error) Outcome {
				if errors.Is(err, ErrConflict) {
					return e.errorPage(400, newError(ErrCodeInvalidRequest, 400, "this consent form was already answered"))
				}
				if err != nil {
					oe := e.storeError("consuming consent ticket failed", err)
					return e.redirectError(ar, oe.Code, oe.Description, 303, nil)
				}
				if action == "deny" {
					e.count("mcpgate.consent.denied")
					e.audit(auditEvent{Event: "consent_refused", Subject: rec.Subject, ClientID: ar.ClientID, Resource: ar.Resource, RequestID: requestID(req), Scopes: ar.Scopes})
					// O21 §4.1.2.1: access_denied, "the resource owner or
					// authorization server denied the request".
					return e.redirectError(ar, ErrCodeAccessDenied, "the user denied the request", 303, nil)
				}
				e.count("mcpgate.consent.approved")
				e.audit(auditEvent{Event: "consent_given", Subject: rec.Subject, ClientID: ar.ClientID, Resource: ar.Resource, RequestID: requestID(req), Scopes: ar.Scopes})
				return e.rememberConsent(rec.Subject, ar, func() Outcome {
					return e.issueCode(ar, rec.Subject, func(code string, oe *Error) Outcome {
						if oe != nil {
							return e.redirectError(ar, oe.Code, oe.Description, 303, nil)
						}
						return e.redirectCode(ar, code, 303, nil)
					})
				})
			})
		})
	}}
}

// validCSRF checks a consent CSRF token against every sealing key, so that
// a key rotation does not break a page being answered.
func (e *Engine) validCSRF(csrf, ticket, bid string) bool {
	if csrf == "" {
		return false
	}
	ok := false
	for _, k := range e.cfg.AS.SealingKeys {
		if equalSecret(csrf, k.macString("csrf", ticket, bid)) {
			ok = true
		}
	}
	return ok
}

// rememberConsent records an approval for Consent.Remember. It is an
// idempotent marker, so a lost race or a store error only costs the user
// one more consent page later; it never blocks the authorization.
func (e *Engine) rememberConsent(sub string, ar *authzRequest, then func() Outcome) Outcome {
	d := e.cfg.AS.Consent.Remember
	if d <= 0 {
		return then()
	}
	key := consentKey(sub, ar)
	return e.store.Get(key, func(_ []byte, ver uint64, err error) Outcome {
		if err != nil && !errors.Is(err, ErrNotFound) {
			e.log(LogWarn, "mcpgate: remembering consent failed: "+err.Error())
			return then()
		}
		return e.store.Put(key, []byte("1"), ver, d, func(err error) Outcome {
			if err != nil && !errors.Is(err, ErrConflict) {
				e.log(LogWarn, "mcpgate: remembering consent failed: "+err.Error())
			}
			return then()
		})
	})
}

// validBrowserID reports whether a browser cookie value has the form mcpgate
// gives it (32 random bytes, base64url), so a planted value of another shape
// is replaced rather than used.
func validBrowserID(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := b64.DecodeString(s)
	return err == nil
}

// randomString returns n random bytes, base64url-encoded.
func (e *Engine) randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}

// resourceByURI returns the configured resource with this URI, or nil.
func (e *Engine) resourceByURI(uri string) *Resource {
	for _, r := range e.cfg.Resources {
		if r.URI == uri {
			return r
		}
	}
	return nil
}

// sameOriginPost reports whether a form POST may come from the consent
// page: with no Origin header (older browsers, non-browser clients; the
// CSRF token still binds the form to the browser) or with the issuer's own
// origin. Defence in depth beside the CSRF token: RFC 6454 §7.3 "the user
// agent MUST include an Origin header" in such requests, and the consent
// page is served only from the issuer, so any other Origin, "null"
// included (RFC 6454 §7.1), is a cross-site post (OWASP's "verifying
// origin with standard headers").
func (e *Engine) sameOriginPost(req *Request) bool {
	origins := req.Headers.Values("origin")
	if len(origins) == 0 {
		return true
	}
	return len(origins) == 1 && strings.EqualFold(origins[0], e.issuerOrigin())
}

// issuerOrigin is the RFC 6454 origin of the issuer: scheme "://" host
// [":" port].
func (e *Engine) issuerOrigin() string {
	u, err := uri.Parse(e.cfg.Issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
