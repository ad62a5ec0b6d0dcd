package authcore

import (
	"net/netip"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
)

// maxSubjectLen bounds a user's subject from any identity source.
const maxSubjectLen = 255

// authenticate establishes who the user is, by the configured identity
// mode, and then asks for consent ([Engine.consent]). mcpgate is an
// authorization server, not an identity provider; who the user is comes
// from the identity mode:
//
//   - dev: a fixed subject, announced at Warn on every use;
//   - header: a header set by a trusted earlier filter;
//   - oidc: a login at the upstream OpenID provider (identity_oidc.go),
//     which returns through the callback endpoint.
func (e *Engine) authenticate(req *Request, c *Client, ar *authzRequest) Outcome {
	id := &e.cfg.AS.Identity
	switch id.Mode {
	case IdentityDev:
		e.log(LogWarn, "mcpgate: DEV IDENTITY: authorizing as \""+id.DevSubject+"\" without any login (client "+truncate(c.ID, 80)+"); never use identity mode dev outside a local trial")
		ar.Claims = e.devClaims()
		return e.consent(req, c, ar, id.DevSubject)
	case IdentityHeader:
		sub, oe := e.headerSubject(req)
		if oe != nil {
			return e.errorPage(oe.Status, oe)
		}
		if ar.Claims, oe = e.headerClaims(req); oe != nil {
			return e.errorPage(oe.Status, oe)
		}
		return e.consent(req, c, ar, sub)
	case IdentityOIDC:
		return e.startUpstreamLogin(req, c, ar)
	}
	return e.errorPage(500, newError(ErrCodeServerError, 500, "no identity source is configured"))
}

// headerSubject reads the user's subject from the configured header. The
// header must appear exactly once and hold 1 to 255 printable characters;
// when trusted prefixes are configured, the peer must be in one of them.
// A request without it is not signed in: mcpgate cannot send the user
// anywhere to sign in, so it says so on a page (401), never by redirect.
func (e *Engine) headerSubject(req *Request) (string, *Error) {
	id := &e.cfg.AS.Identity
	if len(id.HeaderTrusted) > 0 && !trustedSource(req.Source, id.HeaderTrusted) {
		e.log(LogWarn, "mcpgate: identity header from untrusted peer "+truncate(req.Source, 64)+" ignored")
		return "", newError(ErrCodeAccessDenied, 401, "you are not signed in")
	}
	switch req.Headers.Count(id.Header) {
	case 0:
		return "", newError(ErrCodeAccessDenied, 401, "you are not signed in")
	case 1:
	default:
		return "", newError(ErrCodeInvalidRequest, 400, "the identity header appears more than once")
	}
	sub := req.Headers.Get(id.Header)
	if sub == "" || len(sub) > maxSubjectLen || clientmeta.HasControl(sub) {
		return "", newError(ErrCodeAccessDenied, 401, "you are not signed in")
	}
	return sub, nil
}

func trustedSource(source string, prefixes []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(source)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(source); err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// truncate shortens s for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
