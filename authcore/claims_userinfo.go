package authcore

import (
	"errors"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
)

// UserInfo (OpenID Connect Core §5.3): when
// "authorization_server.claims.userinfo_endpoint" is set, mcpgate reads the
// user's claims from it with the upstream access token, by callout on the
// OIDC cluster, at sign-in and again at every refresh (the refresh rule of
// claims.go). §5.3.2: "The sub Claim in the UserInfo Response MUST be
// verified to exactly match the sub Claim in the ID Token; if they do not
// match, the UserInfo Response values MUST NOT be used." The upstream
// access token is kept sealed in the grant (never in a log or a token).

// sealUpstreamToken is the sealing purpose of the upstream access token.
const sealUpstreamToken = "upstream-access-token"

// upstreamToken is what the grant keeps to re-read the claims.
type upstreamToken struct {
	_           [0]func() // not comparable: no equality function in the wasm module
	AccessToken string    `json:"t"`
	Sub         string    `json:"s"`
}

// loginClaims sets the signed-in user's claims from the verified ID token
// and, when configured, the UserInfo endpoint, then continues.
func (e *Engine) loginClaims(tokenResponse []byte, idToken string, ar *authzRequest, then func() Outcome) Outcome {
	ar.Claims = e.idTokenClaims(idToken)
	if e.cfg.AS.Claims.userinfoURL == nil {
		return then()
	}
	up := upstreamToken{AccessToken: jsonv.GetBytes(tokenResponse, "access_token").String(), Sub: idTokenSub(idToken)}
	if up.AccessToken == "" || up.Sub == "" {
		e.log(LogError, "mcpgate: the identity provider sent no access token for the UserInfo endpoint")
		return e.errorPage(502, newError(ErrCodeTemporarilyUnavailable, 502, "the identity provider could not complete the sign-in; try again"))
	}
	return e.userinfo(up, func(claims IdentityClaims, status int, err error) Outcome {
		if err != nil {
			e.log(LogError, "mcpgate: UserInfo at sign-in failed: "+err.Error())
			return e.errorPage(502, newError(ErrCodeTemporarilyUnavailable, 502, "the identity provider could not complete the sign-in; try again"))
		}
		ar.Claims = mergeClaims(ar.Claims, claims)
		plain := up.marshal() //nolint:gosec // G117: sealed (AES-256-GCM) on the next line, never kept or sent in the clear
		sealed, serr := e.seal(sealUpstreamToken, "", plain)
		if serr != nil {
			return e.errorPage(500, asError(serr))
		}
		ar.Upstream = sealed
		return then()
	})
}

// idTokenSub returns the sub claim of a verified ID token.
func idTokenSub(idToken string) string {
	_, rest, _ := strings.Cut(idToken, ".")
	payload, _, _ := strings.Cut(rest, ".")
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return ""
	}
	return jsonv.GetBytes(pb, "sub").String()
}

// userinfo calls the UserInfo endpoint with up's access token. status is
// the HTTP status when the provider answered.
func (e *Engine) userinfo(up upstreamToken, then func(IdentityClaims, int, error) Outcome) Outcome {
	o := e.cfg.AS.Identity.OIDC
	u := e.cfg.AS.Claims.userinfoURL
	return Call{
		Cluster:   o.Cluster,
		Method:    "GET",
		Authority: u.Host,
		Path:      u.RequestURI(),
		Headers:   Header{{"authorization", "Bearer " + up.AccessToken}, {"accept", "application/json"}},
		Timeout:   o.Timeout,
		Resume: func(res CallResult) Outcome {
			switch {
			case res.Err != nil:
				return then(nil, 0, res.Err)
			case res.Status != 200:
				return then(nil, res.Status, errors.New("UserInfo status "+itoa(res.Status)))
			case len(res.Body) > maxUserinfoBody || !jsonv.ValidBytes(res.Body):
				return then(nil, res.Status, errors.New("UserInfo response is not a JSON object"))
			}
			obj := jsonv.ParseBytes(res.Body)
			if !obj.IsObject() {
				return then(nil, res.Status, errors.New("UserInfo response is not a JSON object"))
			}
			if sub := obj.Get("sub"); sub.Type != jsonv.String || sub.Str != up.Sub {
				return then(nil, res.Status, errors.New("UserInfo sub does not match the ID token's"))
			}
			claims := e.keepClaims(obj)
			if claims == nil {
				claims = IdentityClaims{}
			}
			return then(claims, 200, nil)
		},
	}
}

// mergeClaims returns base with over's claims replacing its own.
func mergeClaims(base, over IdentityClaims) IdentityClaims {
	out := IdentityClaims{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// refreshIdentity returns the claims to apply at a refresh: re-read from
// the UserInfo endpoint when the grant keeps an upstream token (its answer
// is then the user's claims: a group it no longer lists is gone), else the
// grant's. A provider that refuses the upstream
// token (401, 403) ends the grant: invalid_grant, the user must sign in
// again; a provider that cannot answer is a 503 the client may retry.
func (e *Engine) refreshIdentity(g *grantRecord, then func(IdentityClaims, *Error) Outcome) Outcome {
	if g.Upstream == "" || e.cfg.AS.Claims.userinfoURL == nil {
		return then(g.Claims, nil)
	}
	plain, _, err := e.unseal(sealUpstreamToken, "", g.Upstream)
	var up upstreamToken
	if err != nil || up.unmarshal(plain) != nil {
		return then(nil, newError(ErrCodeInvalidGrant, 400, "the grant must be renewed: sign in again"))
	}
	return e.userinfo(up, func(claims IdentityClaims, status int, err error) Outcome {
		switch {
		case err == nil:
			e.count("mcpgate.claims.refreshed")
			return then(claims, nil)
		case status == 401 || status == 403:
			e.log(LogInfo, "mcpgate: UserInfo refused the upstream token at refresh: "+err.Error())
			return then(nil, newError(ErrCodeInvalidGrant, 400, "the identity provider no longer accepts this sign-in: sign in again"))
		}
		e.log(LogError, "mcpgate: UserInfo at refresh failed: "+err.Error())
		return then(nil, newError(ErrCodeTemporarilyUnavailable, 503, "the identity provider could not be reached; try again"))
	})
}
