package main

import (
	"strconv"

	"github.com/mcpgate/mcpgate/authcore"
)

// wrapError is an error with its own message that wraps another, for
// errors.Is and errors.As (what fmt.Errorf's %w gives, without linking
// fmt into the filter).
type wrapError struct {
	_   [0]func() // not comparable: no equality function in the wasm module
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

// wrap returns an error reading msg that wraps err.
func wrap(msg string, err error) error { return &wrapError{msg: msg, err: err} }

// unavailable returns an authcore.ErrUnavailable reading
// "<ErrUnavailable>: msg".
func unavailable(msg string) error {
	return wrap(authcore.ErrUnavailable.Error()+": "+msg, authcore.ErrUnavailable)
}

// panicText describes a recovered panic value for the log: an error's or
// Stringer's text, a string, an integer or a boolean as fmt's %v would
// print it, and any other value by a fixed placeholder (formatting an
// arbitrary value needs reflection, which the filter does not link).
func panicText(r any) string {
	switch v := r.(type) {
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return "(a panic value that is neither an error nor a string)"
}
