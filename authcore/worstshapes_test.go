package authcore

import (
	"strings"
	"testing"
)

// TestDeepDocumentsRefused: the readers of CIMD documents, registration
// bodies and upstream token responses refuse nesting beyond the strict
// reader's limit instead of recursing over it.
func TestDeepDocumentsRefused(t *testing.T) {
	for _, body := range []string{
		strings.Repeat("[", 1<<20),
		`{"client_id":` + strings.Repeat(`{"a":`, 1<<17),
		`{"client_id":"x","a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		if _, err := parseCIMDDocument(testDocURL, []byte(body)); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
			t.Errorf("CIMD document of %d bytes: %v", len(body), err)
		}
		if _, err := idTokenFromResponse(CallResult{Status: 200, Body: []byte(body)}); err == nil {
			t.Errorf("token response of %d bytes accepted", len(body))
		}
	}
}
