package clientmeta

// Values of the grant_types, response_types and application_type members.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	ResponseTypeCode       = "code"
	AppTypeWeb             = "web"    // OpenID Connect Dynamic Client Registration 1.0 §2
	AppTypeNative          = "native" // idem
)

// CheckApplicationType checks application_type: "web", "native" or "" (not
// given). It returns "" or what is wrong.
func CheckApplicationType(s string) string {
	switch s {
	case "", AppTypeWeb, AppTypeNative:
		return ""
	}
	return `application_type must be "web" or "native"`
}

// GrantTypes reads a grant_types list (RFC 7591 §2; the caller supplies
// the default ["authorization_code"] when the member is absent). The
// grants mcpgate serves are kept in order, once each; "implicit" and
// "password" are refused (OAuth 2.1 §10 removed them); other grants
// (client_credentials, device code, jwt-bearer ...) are returned as
// ignored, which registration and metadata documents drop and the
// configuration refuses. authorization_code must be among them: it is the
// only grant mcpgate issues codes for. msg is "" or what is wrong.
func GrantTypes(list []string) (kept, ignored []string, msg string) {
	for _, g := range list {
		switch g {
		case "implicit", "password":
			return nil, nil, "grant type " + g + " is not supported (OAuth 2.1 removed it)"
		case GrantAuthorizationCode, GrantRefreshToken:
			if !contains(kept, g) {
				kept = append(kept, g)
			}
		default:
			ignored = append(ignored, g)
		}
	}
	if !contains(kept, GrantAuthorizationCode) {
		return nil, nil, `grant_types must include "authorization_code", the only grant this server issues codes for`
	}
	return kept, ignored, ""
}

// CheckResponseTypes checks a response_types list given explicitly (RFC
// 7591 §2.1: it must be consistent with grant_types). mcpgate serves only
// "code", which goes with authorization_code, so the list must be
// non-empty and hold nothing else. msg is "" or what is wrong.
func CheckResponseTypes(list []string) string {
	if len(list) == 0 {
		return `response_types must be ["code"], consistent with the authorization_code grant`
	}
	for _, r := range list {
		if r != ResponseTypeCode {
			return `response_types must be ["code"]: only the code response type is supported`
		}
	}
	return ""
}
