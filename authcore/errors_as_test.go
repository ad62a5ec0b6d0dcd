package authcore

import (
	"errors"
	"io"
	"testing"
)

type wrapErr struct{ err error }

func (w *wrapErr) Error() string { return "wrap: " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }

// TestErrorAsMatchesErrorsAs holds errorAs to errors.As over error trees:
// the error itself, wrapped, joined, joined inside wrapped, and absent.
func TestErrorAsMatchesErrorsAs(t *testing.T) {
	fe := &formError{Param: "state", Err: errors.New("repeated")}
	oe := newError(ErrCodeInvalidRequest, 400, "bad")
	first := &formError{Param: "first", Err: io.EOF}
	cases := map[string]error{
		"nil":            nil,
		"plain":          io.EOF,
		"itself":         fe,
		"wrapped":        &wrapErr{&wrapErr{fe}},
		"joined":         errors.Join(io.EOF, oe, fe),
		"joined wrapped": &wrapErr{errors.Join(io.EOF, &wrapErr{oe})},
		"depth first":    errors.Join(&wrapErr{first}, fe),
		"oauth only":     oe,
	}
	for name, err := range cases {
		var wantF *formError
		okF := errors.As(err, &wantF)
		gotF, ok := errorAs[*formError](err)
		if ok != okF || gotF != wantF {
			t.Errorf("%s: errorAs[*formError] = %v, %v; errors.As = %v, %v", name, gotF, ok, wantF, okF)
		}
		var wantE *Error
		okE := errors.As(err, &wantE)
		gotE, ok := errorAs[*Error](err)
		if ok != okE || gotE != wantE {
			t.Errorf("%s: errorAs[*Error] = %v, %v; errors.As = %v, %v", name, gotE, ok, wantE, okE)
		}
	}
	if got, _ := errorAs[*formError](errors.Join(&wrapErr{first}, fe)); got != first {
		t.Errorf("errorAs took %v, want the first in depth-first order", got)
	}
}
