package authcore

import (
	"slices"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/clientmeta"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// CIMDDocument is a validated Client ID Metadata Document (CIMD draft §4,
// RFC 7591 §2 metadata, MCP 2026-07-28 client registration profile).
// Documents handed out by the fetcher are copies: callers may keep them but
// should treat them as read-only.
type CIMDDocument struct {
	// ClientID equals the URL the document was fetched from, byte for byte.
	ClientID string
	// Host is the lower-case host of ClientID: what the consent page shows
	// as the client's origin (CIMD §6.4).
	Host string
	// ClientName is the human-readable name. It is what the document claims,
	// not a verified identity: show it together with Host.
	ClientName string
	// RedirectURIs are the registered redirection URIs, each acceptable to
	// clientmeta.CheckRedirectURI for ApplicationType. Matching against a
	// request is exact (loopback ports aside), done by the authorization
	// server.
	RedirectURIs []string
	// ApplicationType is "web", "native" or "" (not given).
	ApplicationType string
	// TokenEndpointAuthMethod is "none" (the default when absent) or
	// "private_key_jwt". With private_key_jwt the client is confidential
	// and must authenticate at the token endpoint with a key from JWKS or
	// JWKSURI (CIMD §6.2).
	TokenEndpointAuthMethod string
	// JWKS is the raw JSON of the "jwks" member, when given.
	JWKS string
	// JWKSURI is the "jwks_uri" member, when given; it passed the same URL
	// rules as a client ID (path rule aside), and must be fetched through
	// the same vetted path.
	JWKSURI string
	// GrantTypes are the grant types mcpgate knows ("authorization_code",
	// "refresh_token") that the document lists; it always includes
	// authorization_code. Default ["authorization_code"].
	GrantTypes []string
	// IgnoredGrantTypes are the other grant types listed (for instance the
	// JWT bearer grant claude.ai lists): ignored, not an error.
	IgnoredGrantTypes []string
	// ResponseTypes is always ["code"].
	ResponseTypes []string
	// Scope is the space-separated scope the client registers, if any.
	Scope string
	// Display and informational members, kept as given when they are
	// well-formed https URLs (or strings, for the last ones); a malformed
	// one is left out and named in Dropped.
	LogoURI, ClientURI, PolicyURI, TosURI string
	Contacts                              []string
	SoftwareID, SoftwareVersion           string
	// Dropped names optional members that were present but unusable and
	// left out, for the log.
	Dropped []string
	// FetchedAt is when the document was fetched; FreshUntil when the cached
	// copy expires (zero when it was not cached).
	FetchedAt, FreshUntil time.Time
}

// clone returns a copy whose slices the caller may modify.
func (d *CIMDDocument) clone() *CIMDDocument {
	c := *d
	c.RedirectURIs = append([]string(nil), d.RedirectURIs...)
	c.GrantTypes = append([]string(nil), d.GrantTypes...)
	c.IgnoredGrantTypes = append([]string(nil), d.IgnoredGrantTypes...)
	c.ResponseTypes = append([]string(nil), d.ResponseTypes...)
	c.Contacts = append([]string(nil), d.Contacts...)
	c.Dropped = append([]string(nil), d.Dropped...)
	return &c
}

// Confidential reports whether the client must authenticate at the token
// endpoint (private_key_jwt).
func (d *CIMDDocument) Confidential() bool { return d.TokenEndpointAuthMethod == "private_key_jwt" }

// cimdDocError is a document validation failure; its text is safe to show.
type cimdDocError string

func (e cimdDocError) Error() string { return string(e) }

// parseCIMDDocument parses and validates the document fetched from rawURL.
// The body size was capped by the fetcher.
func parseCIMDDocument(rawURL string, body []byte) (*CIMDDocument, error) {
	// The one strict reader: duplicate members are refused (parsers
	// disagree on which one wins, and client_id or redirect_uris must mean
	// one thing), as are invalid UTF-8 and deep nesting.
	switch err := strictjson.Check(body, strictjson.Options{MaxDepth: metadataMaxDepth}).(type) {
	case nil:
	case *strictjson.DuplicateError:
		return nil, cimdDocError("the document has the member " + cimdQuote(err.Path) + " more than once")
	default:
		return nil, cimdDocError("the document is not valid JSON")
	}
	root := jsonv.ParseBytes(body)
	if !root.IsObject() {
		return nil, cimdDocError("the document is not a JSON object")
	}
	members := map[string]jsonv.Result{}
	root.ForEach(func(k, v jsonv.Result) bool {
		members[k.String()] = v
		return true
	})
	get := func(name string) jsonv.Result {
		v := members[name]
		if v.Type == jsonv.Null {
			return jsonv.Result{}
		}
		return v
	}

	// Shared secrets are impossible for a client identified by a public URL
	// (CIMD §4.1): any trace of one rejects the document.
	for _, name := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := members[name]; ok {
			return nil, cimdDocError("the document must not contain " + name)
		}
	}

	d := &CIMDDocument{}
	// client_id: the URL itself, simple string comparison (RFC 3986 §6.2.1).
	id := get("client_id")
	switch {
	case !id.Exists():
		return nil, cimdDocError("the document has no client_id")
	case id.Type != jsonv.String:
		return nil, cimdDocError("client_id must be a string")
	case id.Str != rawURL:
		return nil, cimdDocError("the document's client_id does not equal the URL it was fetched from")
	}
	d.ClientID = rawURL
	if u, err := parseVettedURL(rawURL, true); err == nil {
		d.Host = u.Host
	}

	name := get("client_name")
	switch {
	case !name.Exists():
		return nil, cimdDocError("the document has no client_name")
	case name.Type != jsonv.String:
		return nil, cimdDocError("client_name must be a string")
	}
	if msg := clientmeta.CheckName(name.Str); msg != "" {
		return nil, cimdDocError(msg)
	}
	d.ClientName = name.Str

	// application_type (OpenID Connect Dynamic Client Registration §2)
	// changes which redirect URIs are allowed, so it is read first.
	if at := get("application_type"); at.Exists() {
		if at.Type != jsonv.String || at.Str == "" || clientmeta.CheckApplicationType(at.Str) != "" {
			return nil, cimdDocError("application_type must be \"web\" or \"native\"")
		}
		d.ApplicationType = at.Str
	}

	ru := get("redirect_uris")
	if !ru.Exists() {
		return nil, cimdDocError("the document has no redirect_uris")
	}
	if !ru.IsArray() || len(ru.Array()) == 0 {
		return nil, cimdDocError("redirect_uris must be a non-empty array of strings")
	}
	if len(ru.Array()) > clientmeta.MaxRedirectURIs {
		return nil, cimdDocError("redirect_uris: at most " + itoa(clientmeta.MaxRedirectURIs) + " redirect URIs may be registered")
	}
	for _, v := range ru.Array() {
		if v.Type != jsonv.String {
			return nil, cimdDocError("redirect_uris must be a non-empty array of strings")
		}
		if _, msg := clientmeta.CheckRedirectURI(v.Str, d.ApplicationType); msg != "" {
			return nil, cimdDocError("redirect_uris: " + cimdQuote(v.Str) + " " + msg)
		}
		if !slices.Contains(d.RedirectURIs, v.Str) {
			d.RedirectURIs = append(d.RedirectURIs, v.Str)
		}
	}

	// Client authentication.
	d.TokenEndpointAuthMethod = "none"
	if m := get("token_endpoint_auth_method"); m.Exists() {
		if m.Type != jsonv.String {
			return nil, cimdDocError("token_endpoint_auth_method must be a string")
		}
		switch m.Str {
		case "none", "private_key_jwt":
			d.TokenEndpointAuthMethod = m.Str
		case "client_secret_basic", "client_secret_post", "client_secret_jwt":
			return nil, cimdDocError("token_endpoint_auth_method " + m.Str + " needs a shared secret, which a client metadata document cannot have")
		default:
			return nil, cimdDocError("token_endpoint_auth_method must be \"none\" or \"private_key_jwt\"")
		}
	}
	jwks, jwksURI := get("jwks"), get("jwks_uri")
	if jwks.Exists() {
		keys := jwks.Get("keys")
		if !jwks.IsObject() || !keys.IsArray() || len(keys.Array()) == 0 {
			return nil, cimdDocError("jwks must be a JWK Set with a non-empty keys array")
		}
		for _, k := range keys.Array() {
			if !k.IsObject() {
				return nil, cimdDocError("jwks must be a JWK Set with a non-empty keys array")
			}
		}
		d.JWKS = jwks.Raw
	}
	if jwksURI.Exists() {
		if jwksURI.Type != jsonv.String {
			return nil, cimdDocError("jwks_uri must be a string")
		}
		if _, err := parseVettedURL(jwksURI.Str, false); err != nil {
			return nil, cimdDocError("jwks_uri is not acceptable: " + cimdRuleDetail(err))
		}
		d.JWKSURI = jwksURI.Str
	}
	if jwks.Exists() && jwksURI.Exists() {
		return nil, cimdDocError("jwks and jwks_uri must not both be present (RFC 7591 §2)")
	}
	if d.Confidential() && d.JWKS == "" && d.JWKSURI == "" {
		return nil, cimdDocError("private_key_jwt needs jwks or jwks_uri")
	}

	// Grant and response types: grants mcpgate does not serve are ignored,
	// not an error (the JWT bearer grant claude.ai lists, for instance).
	d.GrantTypes = []string{GrantAuthorizationCode}
	if g := get("grant_types"); g.Exists() {
		list, ok := stringArray(g)
		if !ok {
			return nil, cimdDocError("grant_types must be an array of strings")
		}
		var msg string
		if d.GrantTypes, d.IgnoredGrantTypes, msg = clientmeta.GrantTypes(list); msg != "" {
			return nil, cimdDocError(msg)
		}
	}
	d.ResponseTypes = []string{ResponseTypeCode}
	if r := get("response_types"); r.Exists() {
		list, ok := stringArray(r)
		if !ok {
			return nil, cimdDocError("response_types must be [\"code\"]")
		}
		if msg := clientmeta.CheckResponseTypes(list); msg != "" {
			return nil, cimdDocError(msg)
		}
	}

	if s := get("scope"); s.Exists() {
		if s.Type != jsonv.String {
			return nil, cimdDocError("scope must be a string")
		}
		if sc, ok := clientmeta.ParseScope(s.Str); !ok || len(sc) == 0 {
			return nil, cimdDocError("scope must be space-separated scope tokens")
		}
		d.Scope = s.Str
	}

	// Optional display members: never fatal.
	for _, f := range []struct {
		name string
		dst  *string
	}{{"logo_uri", &d.LogoURI}, {"client_uri", &d.ClientURI}, {"policy_uri", &d.PolicyURI}, {"tos_uri", &d.TosURI}} {
		v := get(f.name)
		if !v.Exists() {
			continue
		}
		if v.Type != jsonv.String {
			d.Dropped = append(d.Dropped, f.name)
			continue
		}
		if _, err := parseVettedURL(v.Str, false); err != nil {
			d.Dropped = append(d.Dropped, f.name)
			continue
		}
		*f.dst = v.Str
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"software_id", &d.SoftwareID}, {"software_version", &d.SoftwareVersion}} {
		v := get(f.name)
		if !v.Exists() {
			continue
		}
		if v.Type != jsonv.String || !clientmeta.DisplayString(v.Str) {
			d.Dropped = append(d.Dropped, f.name)
			continue
		}
		*f.dst = v.Str
	}
	if c := get("contacts"); c.Exists() {
		ok := c.IsArray()
		var cs []string
		for _, v := range c.Array() {
			ok = ok && v.Type == jsonv.String && clientmeta.DisplayString(v.Str)
			cs = append(cs, v.Str)
		}
		if ok {
			d.Contacts = cs
		} else {
			d.Dropped = append(d.Dropped, "contacts")
		}
	}
	return d, nil
}

// cimdQuote quotes s for an error message, cut to 80 bytes.
func cimdQuote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	b := appendJSONString(nil, s)
	return string(b)
}

// cimdRuleDetail returns the user-safe detail of a URL rule error.
func cimdRuleDetail(err error) string {
	if re, ok := err.(*cimdURLError); ok {
		return re.Detail
	}
	return "invalid URL"
}
