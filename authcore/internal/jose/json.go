package jose

import (
	"errors"

	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
	"github.com/tidwall/gjson"
)

// maxMembers bounds the members of a JOSE header, a claims set or a JWK.
const maxMembers = 64

// object parses raw as a JSON object whose member names are unique (RFC
// 7515 §4: "The Header Parameter names within the JOSE Header MUST be
// unique; JWS parsers MUST either reject JWSs with duplicate Header
// Parameter names or use a JSON parser that returns only the lexically
// last duplicate member name" — mcpgate rejects, since gjson would return
// the first). Names are compared after unescaping.
func object(raw []byte) (gjson.Result, error) {
	if !strictjson.Valid(raw, strictjson.Options{AllowDuplicates: true}) {
		return gjson.Result{}, errors.New("not JSON")
	}
	v := gjson.ParseBytes(raw)
	if !v.IsObject() {
		return gjson.Result{}, errors.New("not a JSON object")
	}
	if err := uniqueMembers(v); err != nil {
		return gjson.Result{}, err
	}
	return v, nil
}

// uniqueMembers checks that the object v has at most maxMembers members,
// each name once.
func uniqueMembers(v gjson.Result) error {
	var names [maxMembers]string
	n := 0
	var err error
	v.ForEach(func(k, _ gjson.Result) bool {
		if n == maxMembers {
			err = errors.New("too many members")
			return false
		}
		for _, seen := range names[:n] {
			if seen == k.Str {
				err = errors.New(`member "` + k.Str + `" appears more than once`)
				return false
			}
		}
		names[n] = k.Str
		n++
		return true
	})
	return err
}
