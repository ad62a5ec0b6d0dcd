package jose

import (
	"errors"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// maxDepth bounds the nesting of a JOSE header, a claims set or a JWK Set
// (a JWK Set is 3 deep; claims may carry small structured values).
const maxDepth = 16

// object admits raw through strictjson and parses it as a JSON object:
// member names are unique at every level (RFC 7515 §4: "The Header
// Parameter names within the JOSE Header MUST be unique; JWS parsers MUST
// either reject JWSs with duplicate Header Parameter names or use a JSON
// parser that returns only the lexically last duplicate member name" —
// mcpgate rejects, since jsonv would return the first; RFC 7519 §4: "Claim
// Names within a JWT Claims Set MUST be unique"), strings are valid UTF-8
// and nesting is bounded.
func object(raw []byte) (jsonv.Result, error) {
	if err := strictjson.Check(raw, strictjson.Options{MaxDepth: maxDepth}); err != nil {
		return jsonv.Result{}, errors.New(strings.TrimPrefix(err.Error(), "strictjson: "))
	}
	v := jsonv.ParseBytes(raw)
	if !v.IsObject() {
		return jsonv.Result{}, errors.New("not a JSON object")
	}
	return v, nil
}
