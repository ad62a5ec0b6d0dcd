package jose

import (
	"errors"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
	"github.com/tidwall/gjson"
)

// maxDepth bounds the nesting of a JOSE header, a claims set or a JWK Set
// (a JWK Set is 3 deep; claims may carry small structured values).
const maxDepth = 16

// object admits raw through strictjson and parses it as a JSON object:
// member names are unique at every level (RFC 7515 §4: "The Header
// Parameter names within the JOSE Header MUST be unique; JWS parsers MUST
// either reject JWSs with duplicate Header Parameter names or use a JSON
// parser that returns only the lexically last duplicate member name" —
// mcpgate rejects, since gjson would return the first; RFC 7519 §4: "Claim
// Names within a JWT Claims Set MUST be unique"), strings are valid UTF-8
// and nesting is bounded.
func object(raw []byte) (gjson.Result, error) {
	if err := strictjson.Check(raw, strictjson.Options{MaxDepth: maxDepth}); err != nil {
		return gjson.Result{}, errors.New(strings.TrimPrefix(err.Error(), "strictjson: "))
	}
	v := gjson.ParseBytes(raw)
	if !v.IsObject() {
		return gjson.Result{}, errors.New("not a JSON object")
	}
	return v, nil
}
