package authcore

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// Limits of dynamic registration.
const (
	// metadataMaxDepth bounds the nesting of a registration request or a
	// metadata document (jwks is the deepest member, 3 levels).
	metadataMaxDepth    = 16
	maxRegistrationBody = 8 << 10
	// maxClientIDLen bounds a sealed client id, which travels in every
	// authorization URL.
	maxClientIDLen = 4096
)

// sealedClient is the registered metadata sealed inside a dynamically
// registered client id. No client table exists: the id is the record.
type sealedClient struct {
	Name         string   `json:"n,omitempty"`
	RedirectURIs []string `json:"r"`
	GrantTypes   []string `json:"g"`
	AuthMethod   string   `json:"m"`
	AppType      string   `json:"t"`
	Scope        []string `json:"s,omitempty"`
	IssuedAt     int64    `json:"i"`
}

// RegistrationResponse is the RFC 7591 §3.2.1 client information response:
// "the client identifier, as well as ... all registered metadata about the
// client, including any fields provisioned by the authorization server
// itself".
type RegistrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	ApplicationType         string   `json:"application_type"`
	Scope                   string   `json:"scope,omitempty"`
}

// handleRegister serves the registration endpoint (RFC 7591 §3).
//
// The client id is stateless: the registered metadata and the issue time,
// sealed with the active sealing key for this issuer (seal.go), behind the
// prefix "dcr.". A confidential client's secret is derived from its id
// (HMAC with the sealing key), so nothing is stored and a popular client
// registering itself forty times grows no table. Consequences: a
// registration cannot be changed or deleted (no RFC 7592 management), and
// it lives as long as its sealing key is configured; the secret never
// expires (client_secret_expires_at 0).
func (e *Engine) handleRegister(req *Request) Outcome {
	reg := &e.cfg.AS.Registration
	if reg.initialTokenHash != nil {
		// RFC 7591 §3: the initial access token is an OAuth 2.0 bearer
		// token; a missing or wrong one is RFC 6750 invalid_token.
		tok, _ := bearerToken(req.Headers)
		h := sha256.Sum256([]byte(tok))
		if tok == "" || subtle.ConstantTimeCompare(h[:], reg.initialTokenHash[:]) != 1 {
			err := newError(ErrCodeInvalidToken, 401, "a valid initial access token is required to register")
			return e.withCORS(req, jsonError(err, Header{{"www-authenticate", `Bearer error="invalid_token"`}}))
		}
	}
	if !e.as.registrations.allow(sourceKey(req.Source), e.now()) {
		e.count("mcpgate.register.rate_limited")
		err := newError(ErrCodeSlowDown, 429, "too many registrations from this address; try again in a minute")
		return e.withCORS(req, jsonError(err, Header{{"retry-after", "60"}}))
	}
	if !isJSONContentType(req.Headers.Get("content-type")) {
		return e.withCORS(req, jsonError(newError(ErrCodeInvalidClientMetadata, 400, "the request body must be application/json"), nil))
	}
	return ReadBody{Limit: maxRegistrationBody, Resume: func(body []byte) Outcome {
		resp, oe := e.register(body)
		if oe != nil {
			return e.withCORS(req, jsonError(oe, nil))
		}
		e.count("mcpgate.register.ok")
		e.audit(auditEvent{Event: "client_registered", ClientID: resp.ClientID, RequestID: requestID(req)})
		return e.withCORS(req, jsonReply(201, append(resp.marshal(), '\n'), Header{{"pragma", "no-cache"}}))
	}}
}

// register validates client metadata and returns the registered client.
func (e *Engine) register(body []byte) (*RegistrationResponse, *Error) {
	// The one strict reader: duplicate members are refused (parsers
	// disagree on which one wins, and redirect_uris must mean one thing).
	switch err := strictjson.Check(body, strictjson.Options{MaxDepth: metadataMaxDepth}).(type) {
	case nil:
	case *strictjson.DuplicateError:
		return nil, metadataError("member " + quote(err.Path) + " appears more than once")
	default:
		return nil, metadataError("the request body is not valid JSON")
	}
	doc := jsonv.ParseBytes(body)
	if !doc.IsObject() {
		return nil, metadataError("the request body must be a JSON object")
	}

	sc := sealedClient{IssuedAt: e.now().Unix()}

	// application_type (OpenID Connect Dynamic Client Registration §2):
	// "web" or "native". When absent it defaults to "web", but clients of
	// MCP before 2025-11-25 never send it, so an absent value does not by
	// itself reject loopback or private-use redirect URIs: such a client is
	// registered as "native" (RFC 7591 §3.2.1 lets the server replace
	// values; the response says what was registered).
	appType, ok := optString(doc, "application_type")
	if !ok {
		return nil, metadataError("application_type must be a string")
	}
	if msg := clientmeta.CheckApplicationType(appType); msg != "" {
		return nil, metadataError(msg)
	}

	// redirect_uris: required for the authorization code grant (RFC 7591
	// §2); each is verified (OpenID Registration: "MUST verify ... all
	// registered redirect_uris").
	ru := doc.Get("redirect_uris")
	if !ru.Exists() {
		return nil, redirectError("redirect_uris is required")
	}
	if !ru.IsArray() || len(ru.Array()) == 0 {
		return nil, redirectError("redirect_uris must be a non-empty array of strings")
	}
	if len(ru.Array()) > clientmeta.MaxRedirectURIs {
		return nil, redirectError("at most " + itoa(clientmeta.MaxRedirectURIs) + " redirect URIs may be registered")
	}
	native := false
	for i, r := range ru.Array() {
		if r.Type != jsonv.String {
			return nil, redirectError("redirect_uris[" + itoa(i) + "] must be a string")
		}
		kind, msg := clientmeta.CheckRedirectURI(r.Str, appType)
		if msg != "" {
			return nil, redirectError("redirect_uris[" + itoa(i) + "] " + msg)
		}
		if e.nativeHTTPSRefused(appType, kind) {
			return nil, redirectError(`redirect_uris[` + itoa(i) + `] must be a loopback or private-use URI for application_type "native" on this server`)
		}
		if kind != clientmeta.HTTPS {
			native = true
		}
		if !containsString(sc.RedirectURIs, r.Str) {
			sc.RedirectURIs = append(sc.RedirectURIs, r.Str)
		}
	}
	switch {
	case appType != "":
		sc.AppType = appType
	case native:
		sc.AppType = AppTypeNative
	default:
		sc.AppType = AppTypeWeb
	}

	// token_endpoint_auth_method: RFC 7591 §2 "If unspecified or omitted,
	// the default is client_secret_basic".
	sc.AuthMethod, ok = optString(doc, "token_endpoint_auth_method")
	if !ok {
		return nil, metadataError("token_endpoint_auth_method must be a string")
	}
	switch sc.AuthMethod {
	case "":
		sc.AuthMethod = AuthMethodSecretBasic
	case AuthMethodNone, AuthMethodSecretBasic, AuthMethodSecretPost:
	default:
		return nil, metadataError(`token_endpoint_auth_method must be "none", "client_secret_basic" or "client_secret_post"`)
	}

	// grant_types (default ["authorization_code"]): grants mcpgate does
	// not serve are dropped, as the server may replace requested values
	// (RFC 7591 §3.2.1), and the response says what was registered.
	sc.GrantTypes = []string{GrantAuthorizationCode}
	if g := doc.Get("grant_types"); g.Exists() {
		list, ok := stringArray(g)
		if !ok {
			return nil, metadataError("grant_types must be an array of strings")
		}
		var msg string
		if sc.GrantTypes, _, msg = clientmeta.GrantTypes(list); msg != "" {
			return nil, metadataError(msg)
		}
	}
	if r := doc.Get("response_types"); r.Exists() {
		list, ok := stringArray(r)
		if !ok {
			return nil, metadataError(`response_types must be ["code"]: only the code response type is supported`)
		}
		if msg := clientmeta.CheckResponseTypes(list); msg != "" {
			return nil, metadataError(msg)
		}
	}

	if name, ok := optString(doc, "client_name"); !ok {
		return nil, metadataError("client_name must be a string")
	} else if name != "" {
		if msg := clientmeta.CheckName(name); msg != "" {
			return nil, metadataError(msg)
		}
		sc.Name = name
	}

	// scope: RFC 7591 §2 "scope values that the client can use when
	// requesting access tokens". Scopes no resource knows are dropped, as
	// the server may replace requested values (§3.2.1).
	if s, ok := optString(doc, "scope"); !ok {
		return nil, metadataError("scope must be a string")
	} else if s != "" {
		scopes, ok := clientmeta.ParseScope(s)
		if !ok {
			return nil, metadataError("scope must be space-separated scope tokens")
		}
		known := e.knownScopes()
		for _, x := range scopes {
			if containsString(known, x) {
				sc.Scope = append(sc.Scope, x)
			}
		}
	}

	plain := sc.marshal()
	sealed, serr := e.seal(sealClientID, "", plain)
	if serr != nil {
		return nil, asError(serr)
	}
	id := dcrPrefix + sealed
	if len(id) > maxClientIDLen {
		return nil, metadataError("the client metadata is too large")
	}
	resp := &RegistrationResponse{
		ClientID:                id,
		ClientIDIssuedAt:        sc.IssuedAt,
		ClientName:              sc.Name,
		RedirectURIs:            sc.RedirectURIs,
		GrantTypes:              sc.GrantTypes,
		ResponseTypes:           []string{ResponseTypeCode},
		TokenEndpointAuthMethod: sc.AuthMethod,
		ApplicationType:         sc.AppType,
		Scope:                   strings.Join(sc.Scope, " "),
	}
	if sc.AuthMethod != AuthMethodNone {
		// RFC 7591 §3.2.1: client_secret_expires_at is "REQUIRED if
		// client_secret is issued"; 0 means it does not expire.
		var never int64
		resp.ClientSecret = e.cfg.AS.SealingKeys[0].macString("client-secret", id)
		resp.ClientSecretExpiresAt = &never
	}
	return resp, nil
}

// stringArray reads a JSON array of strings; ok is false for anything
// else.
func stringArray(v jsonv.Result) (list []string, ok bool) {
	if !v.IsArray() {
		return nil, false
	}
	ok = true
	v.ForEach(func(_, x jsonv.Result) bool {
		ok = x.Type == jsonv.String
		list = append(list, x.Str)
		return ok
	})
	return list, ok
}

// openClientID returns the client sealed in a dynamically registered client
// id. An id sealed by another issuer, or with a key that is no longer
// configured, does not open: a foreign client_id gets invalid_client (MCP
// 2026-07-28 "Authorization Server Binding").
func (e *Engine) openClientID(id string) (*Client, error) {
	if len(id) > maxClientIDLen {
		return nil, errUnseal
	}
	plain, key, err := e.unseal(sealClientID, "", strings.TrimPrefix(id, dcrPrefix))
	if err != nil {
		return nil, err
	}
	var sc sealedClient
	if err := sc.unmarshal(plain); err != nil {
		return nil, errUnseal
	}
	return &Client{
		ID:                      id,
		Name:                    sc.Name,
		RedirectURIs:            sc.RedirectURIs,
		GrantTypes:              sc.GrantTypes,
		ResponseTypes:           []string{ResponseTypeCode},
		TokenEndpointAuthMethod: sc.AuthMethod,
		ApplicationType:         sc.AppType,
		Scope:                   sc.Scope,
		Source:                  ClientDynamic,
		IssuedAt:                time.Unix(sc.IssuedAt, 0),
		sealKey:                 key,
	}, nil
}

// knownScopes lists every scope some resource accepts, plus offline_access.
func (e *Engine) knownScopes() []string {
	var out []string
	for _, r := range e.cfg.Resources {
		out = appendUnique(out, r.AllScopes()...)
	}
	return appendUnique(out, ScopeOfflineAccess)
}

// metadataError is invalid_client_metadata (RFC 7591 §3.2.2).
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func metadataError(desc string) *Error {
	return newError(ErrCodeInvalidClientMetadata, 400, desc)
}

// redirectError is invalid_redirect_uri (RFC 7591 §3.2.2).
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func redirectError(desc string) *Error {
	return newError(ErrCodeInvalidRedirectURI, 400, desc)
}

// optString reads an optional string member; ok is false for another type.
func optString(doc jsonv.Result, name string) (string, bool) {
	v := doc.Get(name)
	if !v.Exists() || v.Type == jsonv.Null {
		return "", true
	}
	if v.Type != jsonv.String {
		return "", false
	}
	return v.Str, true
}

// sourceKey is the rate-limit key of a peer address "ip:port": the IP, or
// for IPv6 its /64, so one host cannot rotate through its addresses.
func sourceKey(source string) string {
	ap, err := netip.ParseAddrPort(source)
	if err != nil {
		if a, err := netip.ParseAddr(source); err == nil {
			ap = netip.AddrPortFrom(a, 0)
		} else {
			return source
		}
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
