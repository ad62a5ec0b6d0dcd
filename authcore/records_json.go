package authcore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonw"
)

// The JSON form of the records, documents and replies authcore encodes:
// written with jsonw byte for byte as encoding/json wrote the tagged
// structs, and read as encoding/json's Unmarshal read them (member names
// matched without regard to case, unknown members ignored, the last of
// repeated members winning, a value of the wrong type an error, null
// leaving a string, number, boolean or object member as it is and setting
// an array or map member to nil), so that records written before still
// read.

// RawJSON is the text of a JSON value, kept as it is. It encodes and
// decodes as encoding/json's RawMessage does (a nil RawJSON is null).
type RawJSON []byte

// MarshalJSON returns r, or null when r is nil.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON sets r to a copy of data.
func (r *RawJSON) UnmarshalJSON(data []byte) error {
	*r = append((*r)[0:0], data...)
	return nil
}

var (
	errRecordSyntax = errors.New("authcore: malformed record: not valid JSON")
	errRecordType   = errors.New("authcore: malformed record: a member of the wrong type")
)

// decodeRecord reads the JSON object data into a record whose set method
// takes one member (name as sent) and reports whether its type fits.
func decodeRecord(data []byte, set func(name string, v jsonv.Result) bool) error {
	if !jsonv.ValidBytes(data) {
		return errRecordSyntax
	}
	return decodeObject(jsonv.ParseBytes(data), set)
}

// decodeObject is decodeRecord for a parsed value: null sets nothing,
// anything but an object is an error.
func decodeObject(v jsonv.Result, set func(name string, v jsonv.Result) bool) error {
	if v.Type == jsonv.Null {
		return nil
	}
	if !v.IsObject() {
		return errRecordType
	}
	var err error
	v.ForEach(func(k, val jsonv.Result) bool {
		if !set(k.Str, val) && err == nil {
			err = errRecordType
		}
		return true
	})
	return err
}

// isField reports whether the member name sent matches a field's name.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func isField(name, field string) bool { return strings.EqualFold(name, field) }

// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func setString(dst *string, v jsonv.Result) bool {
	switch v.Type {
	case jsonv.Null:
		return true
	case jsonv.String:
		*dst = v.Str
		return true
	}
	return false
}

func setInt(dst *int64, v jsonv.Result) bool {
	if v.Type == jsonv.Null {
		return true
	}
	if v.Type != jsonv.Number {
		return false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

func setBool(dst *bool, v jsonv.Result) bool {
	switch v.Type {
	case jsonv.Null:
		return true
	case jsonv.True, jsonv.False:
		*dst = v.Type == jsonv.True
		return true
	}
	return false
}

// setStrings reads an array of strings (a null element is "").
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func setStrings(dst *[]string, v jsonv.Result) bool {
	if v.Type == jsonv.Null {
		*dst = nil
		return true
	}
	if !v.IsArray() {
		return false
	}
	list, ok := []string{}, true
	v.ForEach(func(_, e jsonv.Result) bool {
		var s string
		ok = setString(&s, e)
		list = append(list, s)
		return ok
	})
	if ok {
		*dst = list
	}
	return ok
}

// setIntMap reads an object of integers into *dst, added to what it holds
// (a null value is 0).
func setIntMap(dst *map[string]int64, v jsonv.Result) bool {
	if v.Type == jsonv.Null {
		*dst = nil
		return true
	}
	if !v.IsObject() {
		return false
	}
	if *dst == nil {
		*dst = map[string]int64{}
	}
	ok := true
	v.ForEach(func(k, e jsonv.Result) bool {
		var n int64
		if !setInt(&n, e) {
			ok = false
		}
		(*dst)[k.Str] = n
		return true
	})
	return ok
}

// setClaims reads an object of raw values into *dst, added to what it
// holds.
func setClaims(dst *IdentityClaims, v jsonv.Result) bool {
	if v.Type == jsonv.Null {
		*dst = nil
		return true
	}
	if !v.IsObject() {
		return false
	}
	if *dst == nil {
		*dst = IdentityClaims{}
	}
	v.ForEach(func(k, e jsonv.Result) bool {
		(*dst)[k.Str] = RawJSON(e.Raw)
		return true
	})
	return true
}

func (c IdentityClaims) appendJSON(b []byte) []byte {
	return jsonw.Map(b, c, func(b []byte, v RawJSON) []byte { return jsonw.Raw(b, v) })
}

func (ar *authzRequest) appendJSON(b []byte) []byte {
	o := jsonw.Object{B: b}
	o.String("c", ar.ClientID)
	o.String("r", ar.RedirectURI)
	o.OmitBool("x", ar.Explicit)
	o.OmitString("s", ar.State)
	o.OmitString("p", ar.Challenge)
	o.OmitString("a", ar.Resource)
	o.OmitStrings("o", ar.Scopes)
	o.OmitString("e", ar.ErrCode)
	o.OmitString("d", ar.ErrDesc)
	if len(ar.Claims) > 0 {
		o.Key("cl")
		o.B = ar.Claims.appendJSON(o.B)
	}
	o.OmitString("up", ar.Upstream)
	return o.End()
}

func (ar *authzRequest) set(k string, v jsonv.Result) bool {
	switch {
	case isField(k, "c"):
		return setString(&ar.ClientID, v)
	case isField(k, "r"):
		return setString(&ar.RedirectURI, v)
	case isField(k, "x"):
		return setBool(&ar.Explicit, v)
	case isField(k, "s"):
		return setString(&ar.State, v)
	case isField(k, "p"):
		return setString(&ar.Challenge, v)
	case isField(k, "a"):
		return setString(&ar.Resource, v)
	case isField(k, "o"):
		return setStrings(&ar.Scopes, v)
	case isField(k, "e"):
		return setString(&ar.ErrCode, v)
	case isField(k, "d"):
		return setString(&ar.ErrDesc, v)
	case isField(k, "cl"):
		return setClaims(&ar.Claims, v)
	case isField(k, "up"):
		return setString(&ar.Upstream, v)
	}
	return true
}

func (g *grantRecord) marshal() []byte {
	o := jsonw.Object{}
	o.String("st", g.State)
	o.String("c", g.ClientID)
	o.String("u", g.Subject)
	o.String("a", g.Resource)
	o.OmitStrings("o", g.Scopes)
	o.Int("t", g.Created)
	o.Int("e", g.Exp)
	o.OmitBool("rt", g.Refresh)
	o.OmitInt("l", g.LastUsed)
	o.OmitString("h", g.Current)
	o.OmitString("p", g.Previous)
	o.OmitInt("r", g.RotatedAt)
	o.OmitString("n", g.Successor)
	if len(g.Claims) > 0 {
		o.Key("cl")
		o.B = g.Claims.appendJSON(o.B)
	}
	o.OmitString("up", g.Upstream)
	o.OmitStrings("o2", g.Rotated)
	return o.End()
}

func (g *grantRecord) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "st"):
			return setString(&g.State, v)
		case isField(k, "c"):
			return setString(&g.ClientID, v)
		case isField(k, "u"):
			return setString(&g.Subject, v)
		case isField(k, "a"):
			return setString(&g.Resource, v)
		case isField(k, "o"):
			return setStrings(&g.Scopes, v)
		case isField(k, "t"):
			return setInt(&g.Created, v)
		case isField(k, "e"):
			return setInt(&g.Exp, v)
		case isField(k, "rt"):
			return setBool(&g.Refresh, v)
		case isField(k, "l"):
			return setInt(&g.LastUsed, v)
		case isField(k, "h"):
			return setString(&g.Current, v)
		case isField(k, "p"):
			return setString(&g.Previous, v)
		case isField(k, "r"):
			return setInt(&g.RotatedAt, v)
		case isField(k, "n"):
			return setString(&g.Successor, v)
		case isField(k, "cl"):
			return setClaims(&g.Claims, v)
		case isField(k, "up"):
			return setString(&g.Upstream, v)
		case isField(k, "o2"):
			return setStrings(&g.Rotated, v)
		}
		return true
	})
}

func (c *codeRecord) marshal() []byte {
	o := jsonw.Object{}
	o.Key("r")
	o.B = c.AR.appendJSON(o.B)
	o.String("u", c.Subject)
	o.String("g", c.GID)
	o.OmitBool("x", c.Used)
	o.Int("e", c.Exp)
	return o.End()
}

func (c *codeRecord) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "r"):
			return decodeObject(v, c.AR.set) == nil
		case isField(k, "u"):
			return setString(&c.Subject, v)
		case isField(k, "g"):
			return setString(&c.GID, v)
		case isField(k, "x"):
			return setBool(&c.Used, v)
		case isField(k, "e"):
			return setInt(&c.Exp, v)
		}
		return true
	})
}

func (t *consentTicket) marshal() []byte {
	o := jsonw.Object{}
	o.Key("r")
	o.B = t.AR.appendJSON(o.B)
	o.String("u", t.Subject)
	o.String("b", t.Bind)
	o.Int("e", t.Exp)
	return o.End()
}

func (t *consentTicket) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "r"):
			return decodeObject(v, t.AR.set) == nil
		case isField(k, "u"):
			return setString(&t.Subject, v)
		case isField(k, "b"):
			return setString(&t.Bind, v)
		case isField(k, "e"):
			return setInt(&t.Exp, v)
		}
		return true
	})
}

func (s *upstreamState) marshal() []byte {
	o := jsonw.Object{}
	o.Key("r")
	o.B = s.AR.appendJSON(o.B)
	o.String("n", s.Nonce)
	o.String("v", s.Verifier)
	o.String("b", s.Bind)
	o.Int("e", s.Exp)
	return o.End()
}

func (s *upstreamState) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "r"):
			return decodeObject(v, s.AR.set) == nil
		case isField(k, "n"):
			return setString(&s.Nonce, v)
		case isField(k, "v"):
			return setString(&s.Verifier, v)
		case isField(k, "b"):
			return setString(&s.Bind, v)
		case isField(k, "e"):
			return setInt(&s.Exp, v)
		}
		return true
	})
}

func (u *upstreamToken) marshal() []byte {
	o := jsonw.Object{}
	o.String("t", u.AccessToken)
	o.String("s", u.Sub)
	return o.End()
}

func (u *upstreamToken) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "t"):
			return setString(&u.AccessToken, v)
		case isField(k, "s"):
			return setString(&u.Sub, v)
		}
		return true
	})
}

func (sc *sealedClient) marshal() []byte {
	o := jsonw.Object{}
	o.OmitString("n", sc.Name)
	o.Strings("r", sc.RedirectURIs)
	o.Strings("g", sc.GrantTypes)
	o.String("m", sc.AuthMethod)
	o.String("t", sc.AppType)
	o.OmitStrings("s", sc.Scope)
	o.Int("i", sc.IssuedAt)
	return o.End()
}

func (sc *sealedClient) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "n"):
			return setString(&sc.Name, v)
		case isField(k, "r"):
			return setStrings(&sc.RedirectURIs, v)
		case isField(k, "g"):
			return setStrings(&sc.GrantTypes, v)
		case isField(k, "m"):
			return setString(&sc.AuthMethod, v)
		case isField(k, "t"):
			return setString(&sc.AppType, v)
		case isField(k, "s"):
			return setStrings(&sc.Scope, v)
		case isField(k, "i"):
			return setInt(&sc.IssuedAt, v)
		}
		return true
	})
}

func (s *adminState) marshal() []byte {
	o := jsonw.Object{}
	for _, m := range []struct {
		name string
		m    map[string]int64
	}{{"u", s.Subjects}, {"c", s.Clients}, {"bc", s.BlockedClients}, {"bh", s.BlockedHosts}} {
		if len(m.m) > 0 {
			o.Key(m.name)
			o.B = jsonw.Map(o.B, m.m, jsonw.Int)
		}
	}
	return o.End()
}

func (s *adminState) unmarshal(data []byte) error {
	return decodeRecord(data, func(k string, v jsonv.Result) bool {
		switch {
		case isField(k, "u"):
			return setIntMap(&s.Subjects, v)
		case isField(k, "c"):
			return setIntMap(&s.Clients, v)
		case isField(k, "bc"):
			return setIntMap(&s.BlockedClients, v)
		case isField(k, "bh"):
			return setIntMap(&s.BlockedHosts, v)
		}
		return true
	})
}

func (m ProtectedResourceMetadata) marshal() []byte {
	o := jsonw.Object{}
	o.String("resource", m.Resource)
	o.Strings("authorization_servers", m.AuthorizationServers)
	o.OmitStrings("scopes_supported", m.ScopesSupported)
	o.Strings("bearer_methods_supported", m.BearerMethodsSupported)
	o.OmitString("resource_name", m.ResourceName)
	return o.End()
}

func (m AuthorizationServerMetadata) marshal() []byte {
	o := jsonw.Object{}
	o.String("issuer", m.Issuer)
	o.OmitString("authorization_endpoint", m.AuthorizationEndpoint)
	o.OmitString("token_endpoint", m.TokenEndpoint)
	o.OmitString("jwks_uri", m.JWKSURI)
	o.OmitString("registration_endpoint", m.RegistrationEndpoint)
	o.OmitStrings("scopes_supported", m.ScopesSupported)
	o.Strings("response_types_supported", m.ResponseTypesSupported)
	o.OmitStrings("response_modes_supported", m.ResponseModesSupported)
	o.OmitStrings("grant_types_supported", m.GrantTypesSupported)
	o.OmitStrings("token_endpoint_auth_methods_supported", m.TokenEndpointAuthMethodsSupported)
	o.OmitStrings("token_endpoint_auth_signing_alg_values_supported", m.TokenEndpointAuthSigningAlgValuesSupported)
	o.OmitString("revocation_endpoint", m.RevocationEndpoint)
	o.OmitStrings("revocation_endpoint_auth_methods_supported", m.RevocationEndpointAuthMethodsSupported)
	o.OmitStrings("revocation_endpoint_auth_signing_alg_values_supported", m.RevocationEndpointAuthSigningAlgValues)
	o.OmitStrings("code_challenge_methods_supported", m.CodeChallengeMethodsSupported)
	o.OmitBool("authorization_response_iss_parameter_supported", m.AuthorizationResponseIssParameterSupported)
	o.OmitBool("client_id_metadata_document_supported", m.ClientIDMetadataDocumentSupported)
	o.OmitStrings("protected_resources", m.ProtectedResources)
	return o.End()
}

func (r *RegistrationResponse) marshal() []byte {
	o := jsonw.Object{}
	o.String("client_id", r.ClientID)
	o.Int("client_id_issued_at", r.ClientIDIssuedAt)
	o.OmitString("client_secret", r.ClientSecret)
	if r.ClientSecretExpiresAt != nil {
		o.Int("client_secret_expires_at", *r.ClientSecretExpiresAt)
	}
	o.OmitString("client_name", r.ClientName)
	o.Strings("redirect_uris", r.RedirectURIs)
	o.Strings("grant_types", r.GrantTypes)
	o.Strings("response_types", r.ResponseTypes)
	o.String("token_endpoint_auth_method", r.TokenEndpointAuthMethod)
	o.String("application_type", r.ApplicationType)
	o.OmitString("scope", r.Scope)
	return o.End()
}

func (r *TokenResponse) marshal() []byte {
	o := jsonw.Object{}
	o.String("access_token", r.AccessToken)
	o.String("token_type", r.TokenType)
	o.Int("expires_in", r.ExpiresIn)
	o.OmitString("scope", r.Scope)
	o.OmitString("refresh_token", r.RefreshToken)
	return o.End()
}
