package authcore

import "github.com/mcpgate/mcpgate/authcore/internal/strictjson"

// fastOperation reads the one JSON-RPC operation of body the way
// oneOperation reads it from jsonv, for the message shape clients send:
// one object whose member names are plain ASCII, a "method" string and a
// "params" object whose "name" and "uri" are strings, all without
// escapes. It reads body once, in tight loops, where jsonv's walk went
// over "params" twice and built a Result for every value it kept: in wasm
// that walk was a fifth of the per-tool body check (a build without it
// measured 0.81x). ok is false for anything else (a batch, an escape, a
// byte outside ASCII in a name, a name that differs from one of these
// only by case, a value of another type), which oneOperation then reads,
// with its refusals.
//
// body must have passed strictjson.Check (it is valid JSON without
// duplicate names): what is not checked here is not checked again.
// FuzzFastOperation holds it to oneOperation.
func fastOperation(body []byte) (_ rpcOp, ok bool) {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return rpcOp{}, false
	}
	i++
	var method, name, uri string
	var hasMethod bool
	for {
		i = skipWS(body, i)
		if i >= len(body) {
			return rpcOp{}, false
		}
		if body[i] == '}' {
			break
		}
		if body[i] == ',' {
			i = skipWS(body, i+1)
		}
		key, next, kok := plainName(body, i)
		if !kok {
			return rpcOp{}, false
		}
		i = next
		switch {
		case key == "method":
			s, next, sok := plainString(body, i)
			if !sok {
				return rpcOp{}, false
			}
			method, hasMethod, i = s, true, next
		case key == "params":
			if i >= len(body) || body[i] != '{' {
				return rpcOp{}, false
			}
			var pok bool
			if name, uri, i, pok = fastParams(body, i); !pok {
				return rpcOp{}, false
			}
		case asciiFold(key, "method") || asciiFold(key, "params"):
			return rpcOp{}, false // oneOperation names the variant
		default:
			if i = skipValue(body, i); i < 0 {
				return rpcOp{}, false
			}
		}
	}
	return fastOp(hasMethod, method, name, uri), true
}

// fastOp is the operation of a message whose "method" (if hasMethod) and
// "params" name and uri were read: the name or uri, whichever the method
// acts on (targetMember), or none.
func fastOp(hasMethod bool, method, name, uri string) rpcOp {
	if !hasMethod {
		return rpcOp{}
	}
	op := rpcOp{method: method}
	switch member, named := targetMember(method); {
	case !named:
	case member == "name":
		op.name = name
	default:
		op.name = uri
	}
	return op
}

// fastParams reads the "params" object at body[i] for fastOperation: the
// plain strings "name" and "uri" if present, and where the object ends.
func fastParams(body []byte, i int) (name, uri string, end int, ok bool) {
	i++
	for {
		i = skipWS(body, i)
		if i >= len(body) {
			return "", "", 0, false
		}
		if body[i] == '}' {
			return name, uri, i + 1, true
		}
		if body[i] == ',' {
			i = skipWS(body, i+1)
		}
		key, next, kok := plainName(body, i)
		if !kok {
			return "", "", 0, false
		}
		i = next
		switch {
		case key == "name" || key == "uri":
			s, next, sok := plainString(body, i)
			if !sok {
				return "", "", 0, false
			}
			if key == "name" {
				name = s
			} else {
				uri = s
			}
			i = next
		case asciiFold(key, "name") || asciiFold(key, "uri"):
			return "", "", 0, false
		default:
			if i = skipValue(body, i); i < 0 {
				return "", "", 0, false
			}
		}
	}
}

// plainName reads the member name at body[i] and the colon after it,
// returning the name and where its value starts; ok is false unless the
// name is ASCII without escapes.
func plainName(body []byte, i int) (name string, next int, ok bool) {
	name, i, ok = plainString(body, i)
	if !ok {
		return "", 0, false
	}
	i = skipWS(body, i)
	if i >= len(body) || body[i] != ':' {
		return "", 0, false
	}
	return name, skipWS(body, i+1), true
}

// plainString reads the string at body[i], which must be ASCII without
// escapes, as a view of body, and returns where it ends.
func plainString(body []byte, i int) (s string, next int, ok bool) {
	if i >= len(body) || body[i] != '"' {
		return "", 0, false
	}
	j := i + 1
	for j < len(body) && strictjson.Plain(body[j]) {
		j++
	}
	if j >= len(body) || body[j] != '"' {
		return "", 0, false // an escape, a byte outside ASCII, or the end
	}
	return view(body[i+1 : j]), j + 1, true
}

// skipValue returns where the (valid) value at body[i] ends, or -1.
func skipValue(body []byte, i int) int {
	if i >= len(body) {
		return -1
	}
	switch body[i] {
	case '"':
		return skipString(body, i)
	case '{', '[':
		depth := 0
		for i < len(body) {
			switch body[i] {
			case '"':
				if i = skipString(body, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter.
	for i < len(body) {
		switch body[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns where the string at body[i] ends, or -1.
func skipString(body []byte, i int) int {
	for i++; i < len(body); i++ {
		switch body[i] {
		case '"':
			return i + 1
		case '\\':
			i++ // the escaped byte (of a \uXXXX, the u)
		}
	}
	return -1
}

// skipWS skips JSON whitespace from body[i].
func skipWS(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}

// asciiFold reports whether the ASCII strings a and b are equal ignoring
// the case of letters (strings.EqualFold for ASCII: no other character
// folds onto an ASCII one without a byte outside ASCII, which plainName
// does not let through).
func asciiFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
