package authcore

// Error is an OAuth 2.0 error: the registered error code, a description that
// is safe to show to the client, the HTTP status to answer with, and an
// optional hidden cause that is logged but never sent.
//
// Every endpoint renders its errors in exactly one place, from this type.
type Error struct {
	// Code is the OAuth error code, e.g. "invalid_request" (RFC 6749 §5.2,
	// RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 8707 §2).
	Code string
	// Description is human-readable text for error_description. It is sent
	// to the client, so it never contains secrets or internal details.
	Description string
	// Status is the HTTP status code used when the error is not redirected.
	Status int
	// Cause is logged, never sent.
	Cause error
}

// Error implements error.
func (e *Error) Error() string {
	s := "authcore: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap returns the hidden cause.
func (e *Error) Unwrap() error { return e.Cause }

// OAuth error codes used by mcpgate.
const (
	ErrCodeInvalidRequest          = "invalid_request"
	ErrCodeInvalidClient           = "invalid_client"
	ErrCodeInvalidGrant            = "invalid_grant"
	ErrCodeUnauthorizedClient      = "unauthorized_client"
	ErrCodeUnsupportedGrantType    = "unsupported_grant_type"
	ErrCodeUnsupportedResponseType = "unsupported_response_type"
	ErrCodeInvalidScope            = "invalid_scope"
	ErrCodeInvalidTarget           = "invalid_target"
	ErrCodeAccessDenied            = "access_denied"
	ErrCodeServerError             = "server_error"
	ErrCodeTemporarilyUnavailable  = "temporarily_unavailable"
	ErrCodeInvalidToken            = "invalid_token"
	ErrCodeInsufficientScope       = "insufficient_scope"
	ErrCodeInvalidRedirectURI      = "invalid_redirect_uri"
	ErrCodeInvalidClientMetadata   = "invalid_client_metadata"
	ErrCodeSlowDown                = "slow_down"
)

// newError returns a fresh *Error. Constructors always return new values so
// that no caller can mutate a shared error.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func newError(code string, status int, desc string) *Error {
	return &Error{Code: code, Status: status, Description: desc}
}

// withCause returns e with its hidden cause set.
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (e *Error) withCause(err error) *Error {
	e.Cause = err
	return e
}

// asError converts any error into an *Error, mapping unknown errors to
// server_error so that internal details never reach the client.
func asError(err error) *Error {
	if oe, ok := errorAs[*Error](err); ok {
		return oe
	}
	return &Error{Code: ErrCodeServerError, Status: 500, Description: "internal error", Cause: err}
}

// errorAs finds the first error in err's tree of type T, as errors.As does:
// err itself, then depth first through Unwrap() error and Unwrap() []error.
// It is a type switch and not errors.As because errors.As reaches its
// target through internal/reflectlite, which made the wasm module 52 KB
// larger (TestFilterLinksNoHeavyPackages).
func errorAs[T error](err error) (T, bool) {
	for err != nil {
		if t, ok := err.(T); ok {
			return t, true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if t, ok := errorAs[T](e); ok {
					return t, true
				}
			}
			err = nil
		default:
			err = nil
		}
	}
	var zero T
	return zero, false
}
