package jsonv

// ValidBytes reports whether data is one JSON text under the grammar of
// RFC 8259 §2-§7: a value with optional whitespace around it. Like
// gjson.ValidBytes it checks the grammar only: strings may hold invalid
// UTF-8 and escaped lone surrogates, member names may repeat, and nesting
// is unbounded (RFC 8259 §9: "An implementation may set limits on the
// maximum depth of nesting"; this one sets none, but it never recurses:
// its memory is one byte per open array or object). strictjson.Check is
// the strict reader that refuses all of these.
func ValidBytes(data []byte) bool {
	var buf [32]byte
	open := buf[:0] // the closing bracket of each open array or object
	i := 0
	for {
		// A value is expected at i.
		i = skipSpaceBytes(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '{':
			if i = skipSpaceBytes(data, i+1); i < len(data) && data[i] == '}' {
				i++
				break
			}
			open = append(open, '}')
			if i = validName(data, i); i < 0 {
				return false
			}
			continue
		case '[':
			if i = skipSpaceBytes(data, i+1); i < len(data) && data[i] == ']' {
				i++
				break
			}
			open = append(open, ']')
			continue
		case '"':
			i = validString(data, i)
		default:
			i = ScalarEnd(data, i)
		}
		if i < 0 {
			return false
		}
		// A value ended at i: close the containers it completes, then
		// expect the next element or member.
		for {
			i = skipSpaceBytes(data, i)
			if len(open) == 0 {
				return i == len(data)
			}
			if i >= len(data) {
				return false
			}
			closer := open[len(open)-1]
			if data[i] == closer {
				open = open[:len(open)-1]
				i++
				continue
			}
			if data[i] != ',' {
				return false
			}
			i++
			if closer == '}' {
				if i = validName(data, skipSpaceBytes(data, i)); i < 0 {
					return false
				}
			}
			break
		}
	}
}

func skipSpaceBytes(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// validName checks the member name and colon at data[i:] and returns the
// offset after the colon, or -1.
func validName(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	if i = validString(data, i); i < 0 {
		return -1
	}
	if i = skipSpaceBytes(data, i); i >= len(data) || data[i] != ':' {
		return -1
	}
	return i + 1
}

// validString checks the string whose opening quote is data[i] (RFC 8259
// §7: no control characters, only the escapes \" \\ \/ \b \f \n \r \t and
// \u with 4 hexadecimal digits) and returns the offset after it, or -1.
func validString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if i++; i == len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if i++; i == len(data) || !isHex(data[i]) {
						return -1
					}
				}
			default:
				return -1
			}
		}
	}
	return -1
}

// validLiteral checks that data[i:] starts with word and returns the
// offset after it, or -1.
func validLiteral(data []byte, i int, word string) int {
	if len(data)-i < len(word) || string(data[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// ScalarEnd checks the number, true, false or null at data[i:] (RFC 8259
// §3, §6) and returns the offset after it, or -1: ValidBytes's reading of
// a scalar, for a caller that walks the structure itself.
func ScalarEnd(data []byte, i int) int {
	switch data[i] {
	case 't':
		return validLiteral(data, i, "true")
	case 'f':
		return validLiteral(data, i, "false")
	case 'n':
		return validLiteral(data, i, "null")
	}
	return validNumber(data, i)
}

// validNumber checks the number at data[i:] (RFC 8259 §6: [ minus ] int
// [ frac ] [ exp ]) and returns the offset after it, or -1.
func validNumber(data []byte, i int) int {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		if i = digits(data, i+1); i < 0 {
			return -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i = digits(data, i); i < 0 {
			return -1
		}
	}
	return i
}

// digits returns the offset after the run of at least one digit at
// data[i:], or -1.
func digits(data []byte, i int) int {
	start := i
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
