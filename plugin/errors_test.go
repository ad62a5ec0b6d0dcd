package main

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mcpgate/mcpgate/authcore"
)

// TestErrorsAsFmt: wrap and unavailable read and unwrap as the fmt.Errorf
// calls they replace.
func TestErrorsAsFmt(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	for _, tc := range []struct{ got, want error }{
		{wrap("reading request body: "+cause.Error(), cause), fmt.Errorf("reading request body: %w", cause)},
		{unavailable("shared data: " + cause.Error()), fmt.Errorf("%w: shared data: %v", authcore.ErrUnavailable, cause)},
		{errBucketFull, fmt.Errorf("%w: shared-data store bucket full", authcore.ErrUnavailable)},
	} {
		if tc.got.Error() != tc.want.Error() {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
		if errors.Unwrap(tc.got) != errors.Unwrap(tc.want) {
			t.Errorf("%q unwraps to %v, want %v", tc.got, errors.Unwrap(tc.got), errors.Unwrap(tc.want))
		}
	}
}

func TestPanicText(t *testing.T) {
	for _, r := range []any{errors.New("boom"), "boom", 42, true} {
		if got, want := panicText(r), fmt.Sprintf("%v", r); got != want {
			t.Errorf("panicText(%#v) = %q, want %q", r, got, want)
		}
	}
}
