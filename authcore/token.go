package authcore

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/uri"
)

// maxTokenBody bounds a token or revocation request body.
const maxTokenBody = 8 << 10

// TokenResponse is the successful token response (O21 §3.2.3).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// clientAuth is the outcome of client authentication at the token and
// revocation endpoints.
type clientAuth struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	client *Client
	// basic is set when the client used HTTP Basic, so that invalid_client
	// is answered with WWW-Authenticate (O21 §3.2.4).
	basic bool
}

// readTokenForm reads the form body of the token and revocation endpoints:
// application/x-www-form-urlencoded, each parameter at most once (O21
// §3.2: "Request and response parameters defined by this specification
// MUST NOT be included more than once").
func (e *Engine) readTokenForm(req *Request, then func(f form) Outcome) Outcome {
	if !isFormContentType(req.Headers.Get("content-type")) {
		return e.tokenError(req, false, newError(ErrCodeInvalidRequest, 400, "the request must be application/x-www-form-urlencoded"))
	}
	return ReadBody{Limit: maxTokenBody, Resume: func(body []byte) Outcome {
		f, err := parseForm(string(body))
		if err != nil {
			if fe, ok := errorAs[*formError](err); ok && fe.Param != "" {
				return e.tokenError(req, false, newError(ErrCodeInvalidRequest, 400, "the parameter "+fe.Param+" was sent more than once"))
			}
			return e.tokenError(req, false, newError(ErrCodeInvalidRequest, 400, "the request body is malformed"))
		}
		return then(f)
	}}
}

// handleToken serves the token endpoint (O21 §3.2): a form POST in, JSON
// with "Cache-Control: no-store" out, for the authorization_code
// (token_code.go) and refresh_token (token_refresh.go) grants.
func (e *Engine) handleToken(req *Request) Outcome {
	return e.readTokenForm(req, func(f form) Outcome {
		grant := f["grant_type"]
		switch {
		case grant == "":
			return e.tokenError(req, false, newError(ErrCodeInvalidRequest, 400, "grant_type is missing"))
		case grant == GrantAuthorizationCode:
		case grant == GrantRefreshToken && e.cfg.AS.Refresh.Policy != RefreshNever:
		default:
			return e.tokenError(req, false, newError(ErrCodeUnsupportedGrantType, 400, "grant_type "+quote(truncate(grant, 64))+" is not supported"))
		}
		return e.authenticateClient(req, f, func(ca clientAuth, oe *Error) Outcome {
			if oe != nil {
				return e.tokenError(req, ca.basic, oe)
			}
			if grant == GrantAuthorizationCode {
				return e.codeGrant(req, ca, f)
			}
			return e.refreshGrant(req, ca, f)
		})
	})
}

// authenticateClient identifies and authenticates the client of a token or
// revocation request (O21 §2.4, §3.2.1):
//
//   - client_secret_basic: "Authorization: Basic" (scheme case-insensitive),
//     with client id and secret each form-urlencoded before base64 (RFC 6749
//     §2.3.1), so they are form-decoded here;
//   - client_secret_post: client_id and client_secret in the body;
//   - none: client_id in the body, for public clients;
//   - private_key_jwt: client_assertion and client_assertion_type in the
//     body (RFC 7523 §2.2), for clients whose metadata document publishes
//     keys (client_assertion.go).
//
// Using more than one method is invalid_request ("MUST NOT use more than
// one authentication method in each request"). A public client that sends
// a secret, or a confidential one that sends none, is invalid_client: a
// client authenticates the way it registered, with either secret method.
// Secrets are compared in constant time, and failures are counted per
// client id and source address (lockout.go): past maxAuthFailures a minute
// every attempt from there fails (O21 §2.4.1,
// brute force).
func (e *Engine) authenticateClient(req *Request, f form, then func(clientAuth, *Error) Outcome) Outcome {
	var ca clientAuth
	var id, secret string
	switch req.Headers.Count("authorization") {
	case 0:
	case 1:
		ca.basic = true
		var ok bool
		if id, secret, ok = parseBasicAuth(req.Headers.Get("authorization")); !ok {
			return then(ca, newError(ErrCodeInvalidClient, 401, "malformed HTTP Basic credentials"))
		}
	default:
		return then(ca, newError(ErrCodeInvalidRequest, 400, "more than one Authorization header"))
	}
	_, post := f["client_secret"]
	_, assertion := f["client_assertion"]
	if methods := btoi(ca.basic) + btoi(post) + btoi(assertion); methods > 1 {
		return then(ca, newError(ErrCodeInvalidRequest, 400, "the client used more than one authentication method"))
	}
	if assertion {
		return e.authenticateAssertion(req, f, ca, then)
	}
	if bodyID := f["client_id"]; ca.basic && bodyID != "" && bodyID != id {
		return then(ca, newError(ErrCodeInvalidRequest, 400, "client_id differs from the authenticated client"))
	}
	if !ca.basic {
		id, secret = f["client_id"], f["client_secret"]
	}
	if id == "" {
		return then(ca, newError(ErrCodeInvalidClient, 401, "client_id is missing"))
	}
	now := e.now()
	if e.as.authFailures.exceeded(lockoutKey(id, req.Source), now) {
		e.count("mcpgate.token.client_auth_throttled")
		return then(ca, newError(ErrCodeInvalidClient, 401, "too many failed authentication attempts; try again later"))
	}
	return e.resolveClient(id, func(c *Client, oe *Error) Outcome {
		if oe != nil {
			// Unknown ids are not counted: there is no secret to guess, and
			// counting them would let a flood of made-up ids fill the table.
			return then(ca, newError(ErrCodeInvalidClient, 401, "client authentication failed").withCause(oe))
		}
		if reason := e.checkClientSecret(c, secret); reason != "" {
			e.as.authFailures.allow(lockoutKey(id, req.Source), now)
			e.count("mcpgate.token.client_auth_failed")
			return then(ca, newError(ErrCodeInvalidClient, 401, "client authentication failed").withCause(errors.New(reason)))
		}
		ca.client = c
		return then(ca, nil)
	})
}

// checkClientSecret returns why secret does not authenticate c, or "".
func (e *Engine) checkClientSecret(c *Client, secret string) string {
	switch {
	case c.public() && secret != "":
		return "a public client sent a secret"
	case c.public():
		return ""
	case c.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT:
		return "a private_key_jwt client must authenticate with a client assertion"
	case secret == "":
		return "a confidential client sent no secret"
	case c.Source == ClientPreRegistered && c.hasSecret:
		h := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(h[:], c.secretHash[:]) == 1 {
			return ""
		}
		return "wrong secret"
	case c.Source == ClientDynamic && c.sealKey != nil:
		if equalSecret(secret, c.sealKey.macString("client-secret", c.ID)) {
			return ""
		}
		return "wrong secret"
	}
	return "the client has no secret to check"
}

// parseBasicAuth decodes "Basic base64(urlencode(id):urlencode(secret))".
func parseBasicAuth(h string) (id, secret string, ok bool) {
	scheme, cred, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	cred = strings.TrimSpace(cred)
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(cred); err != nil {
			return "", "", false
		}
	}
	rid, rsecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = uri.QueryUnescape(rid); err != nil {
		return "", "", false
	}
	if secret, err = uri.QueryUnescape(rsecret); err != nil {
		return "", "", false
	}
	return id, secret, id != ""
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tokenError renders a token or revocation endpoint error (O21 §3.2.4):
// 400, or 401 for invalid_client, with WWW-Authenticate when the client
// tried HTTP Basic ("MUST respond with an HTTP 401 ... and include the
// WWW-Authenticate response header field").
func (e *Engine) tokenError(req *Request, basic bool, oe *Error) Reply {
	if oe.Cause != nil || oe.Code == ErrCodeServerError {
		e.log(LogInfo, "mcpgate: token endpoint: "+oe.Error())
	}
	extra := Header{{"pragma", "no-cache"}}
	if oe.Code == ErrCodeInvalidClient {
		oe.Status = 401
		if basic {
			extra = append(extra, [2]string{"www-authenticate", `Basic realm="mcpgate", charset="UTF-8"`})
		}
	}
	return e.withCORS(req, jsonError(oe, extra))
}

// tokenReply renders a successful token response (O21 §3.2.3: "MUST
// include ... Cache-Control ... no-store").
func (e *Engine) tokenReply(req *Request, tr *TokenResponse) Reply {
	return e.withCORS(req, jsonReply(200, append(tr.marshal(), '\n'), Header{{"pragma", "no-cache"}}))
}

// mintFor mints the access token of a grant: audience the resource, the
// given scopes without offline_access (it means nothing to a resource),
// and the grant id so a revoked grant is recognised (guard.go).
func (e *Engine) mintFor(clientID, sub, resource, gid string, scopes []string, claims IdentityClaims) (*TokenResponse, *Error) {
	now := e.now()
	jti, err := e.randomString(16)
	if err != nil {
		return nil, asError(err)
	}
	var claimScopes []string
	for _, s := range scopes {
		if s != ScopeOfflineAccess {
			claimScopes = append(claimScopes, s)
		}
	}
	life := e.cfg.Lifetimes.AccessToken
	at, err := e.MintAccessToken(AccessTokenClaims{
		Issuer:   e.cfg.Issuer,
		Subject:  sub,
		Audience: []string{resource},
		ClientID: clientID,
		Scope:    claimScopes,
		IssuedAt: now,
		Expiry:   now.Add(life),
		JTI:      jti,
		GrantID:  gid,
		Identity: e.tokenClaims(claims),
	})
	if err != nil {
		return nil, asError(err)
	}
	e.count("mcpgate.token.issued")
	return &TokenResponse{
		AccessToken: at,
		TokenType:   "Bearer",
		ExpiresIn:   int64(life / time.Second),
		Scope:       strings.Join(scopes, " "),
	}, nil
}
