package authcore

import (
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// fastCheckedOperation checks body and reads its one JSON-RPC operation in
// a single pass, for bodies made only of what needs no further thought:
// one object whose strings (names and values alike) are ASCII from the
// space up without escapes, with numbers, true, false and null, and at most
// fastMaxMembers members in any object. On those it decides exactly as
// strictjson.Check followed by fastOperation would; ok is false, and the
// body goes the long way (Check, then fastOperation or oneOperation), for
// anything else: a batch, an escape, a byte outside that range, an
// object of more members, nesting deeper than fastMaxDepth or maxDepth, a
// syntax error, a repeated name, a name that differs from one the guard
// reads only by case, a method or params or name of another type. It never
// accepts what Check refuses.
//
// It exists for wasm, where checking and then reading a tools/call body
// were two passes of a third of the per-tool body check (builds without
// either measured 0.86-0.88x and 0.81x). FuzzFastCheckedOperation holds it
// to strictjson.Check and oneOperation.
func fastCheckedOperation(body []byte, maxDepth int) (_ rpcOp, ok bool) {
	if maxDepth <= 0 {
		maxDepth = strictjson.DefaultMaxDepth
	}
	var stack [fastMaxDepth]fastFrame
	depth := 0 // open containers
	var method, name, uri string
	var hasMethod bool
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return rpcOp{}, false // also the empty body and a batch
	}
	// want tells what the value about to be read is: 0 nothing in
	// particular, or the guard's "method", "params", "name" or "uri".
	var want byte
	for {
		// A value is expected at body[i].
		i = skipWS(body, i)
		if i >= len(body) {
			return rpcOp{}, false
		}
		switch c := body[i]; {
		case c == '{' || c == '[':
			if depth >= maxDepth || depth >= fastMaxDepth {
				return rpcOp{}, false
			}
			if want != 0 && !(want == 'p' && c == '{') {
				return rpcOp{}, false // method, name or uri not a string; params not an object
			}
			stack[depth] = fastFrame{obj: c == '{', params: want == 'p'}
			depth++
			i = skipWS(body, i+1)
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if i < len(body) && body[i] == closer {
				depth--
				i++
				break
			}
			if c == '{' {
				var next int
				if want, next, ok = fastMember(body, i, &stack[depth-1], depth); !ok {
					return rpcOp{}, false
				}
				i = next
			} else {
				want = 0
			}
			continue
		case c == '"':
			s, end, sok := plainString(body, i)
			if !sok {
				return rpcOp{}, false
			}
			switch want {
			case 'm':
				method, hasMethod = s, true
			case 'n':
				name = s
			case 'u':
				uri = s
			case 'p':
				return rpcOp{}, false
			}
			i = end
		default:
			if want != 0 {
				return rpcOp{}, false
			}
			if i = jsonv.ScalarEnd(body, i); i < 0 {
				return rpcOp{}, false
			}
		}
		want = 0
		// A value ended: go on in the innermost container or close it.
		for {
			i = skipWS(body, i)
			if depth == 0 {
				if i != len(body) {
					return rpcOp{}, false
				}
				return fastOp(hasMethod, method, name, uri), true
			}
			if i >= len(body) {
				return rpcOp{}, false
			}
			top := &stack[depth-1]
			if body[i] == ',' {
				i = skipWS(body, i+1)
				if top.obj {
					var next int
					if want, next, ok = fastMember(body, i, top, depth); !ok {
						return rpcOp{}, false
					}
					i = next
				}
				break
			}
			if top.obj && body[i] == '}' || !top.obj && body[i] == ']' {
				depth--
				i++
				continue
			}
			return rpcOp{}, false
		}
	}
}

// fastMaxDepth and fastMaxMembers bound what fastCheckedOperation takes on.
const (
	fastMaxDepth   = 16
	fastMaxMembers = 8
)

// fastFrame is one open object or array of fastCheckedOperation.
type fastFrame struct {
	_   [0]func() // not comparable: no equality function in the wasm module
	obj bool
	// params is set on the top-level "params" object.
	params bool
	// names are the member names read so far (views of the body).
	names [fastMaxMembers]string
	n     int
}

// fastMember reads the member name at body[i] of the object f (open at
// depth) and the colon after it, refusing a name seen before in f; want
// tells the caller what the value is for the guard.
func fastMember(body []byte, i int, f *fastFrame, depth int) (want byte, next int, ok bool) {
	key, next, ok := plainName(body, i)
	if !ok || f.n == fastMaxMembers {
		return 0, 0, false
	}
	for _, k := range f.names[:f.n] {
		if k == key {
			return 0, 0, false // strictjson refuses it, with its message
		}
	}
	f.names[f.n] = key
	f.n++
	switch {
	case depth == 1 && key == "method":
		want = 'm'
	case depth == 1 && key == "params":
		want = 'p'
	case depth == 1 && (asciiFold(key, "method") || asciiFold(key, "params")):
		return 0, 0, false
	case depth == 2 && f.params && key == "name":
		want = 'n'
	case depth == 2 && f.params && key == "uri":
		want = 'u'
	case depth == 2 && f.params && (asciiFold(key, "name") || asciiFold(key, "uri")):
		return 0, 0, false
	}
	return want, next, true
}
