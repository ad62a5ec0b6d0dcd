// Package strictjson is the one strict reader of JSON that comes from an
// attacker: request bodies, registration and metadata documents, token
// headers and the filter configuration. It never recurses, so no input can
// exhaust the stack, and it refuses what parsers disagree on.
//
// Check accepts exactly the JSON texts of RFC 8259 §2 that are also I-JSON
// messages as far as parsers can disagree about them (RFC 7493 §2):
//
//   - the grammar of RFC 8259 §2-§7, with no byte order mark and nothing but
//     whitespace after the value;
//   - strings of valid UTF-8 (RFC 8259 §8.1: "JSON text exchanged between
//     systems that are not part of a closed ecosystem MUST be encoded using
//     UTF-8") without escaped lone surrogates (RFC 7493 §2.1: "MUST NOT
//     include code points that identify Surrogates or Noncharacters"; only
//     the surrogates are refused here, as only they change what a decoder
//     returns);
//   - objects whose member names are unique after unescaping (RFC 8259 §4:
//     "When the names within an object are not unique, the behavior of
//     software that receives such an object is unpredictable. Many
//     implementations report the last name/value pair only. Other
//     implementations report an error or fail to parse the object"; RFC 7493
//     §2.3: "Objects in I-JSON messages MUST NOT have members with duplicate
//     names"), so "n\u0061me" and "name" are the same name;
//   - nesting no deeper than Options.MaxDepth (RFC 8259 §9: "An
//     implementation may set limits on the maximum depth of nesting").
//
// Work is linear in the input; memory is a stack of at most MaxDepth frames
// plus one small entry per member name of the objects still open.
//
// Once Check has accepted a text, every conforming decoder reads the same
// values from it, so a reader such as jsonv that keeps the first of
// duplicate names and encoding/json, which keeps the last, agree.
package strictjson

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mcpgate/mcpgate/authcore/internal/heapsort"
)

// DefaultMaxDepth is the nesting limit when Options.MaxDepth is 0: arrays
// and objects may be nested 64 deep (the outermost counts as 1).
const DefaultMaxDepth = 64

// Options tune Check. The zero value is the strictest useful setting.
type Options struct {
	// MaxDepth is the deepest nesting of arrays and objects accepted; 0
	// means DefaultMaxDepth. A text of scalars only has depth 0.
	MaxDepth int
	// AllowDuplicates skips the duplicate member name check (for callers
	// that read the document with a decoder of known semantics and only need
	// syntax and depth).
	AllowDuplicates bool
}

// SyntaxError reports text that is not JSON under RFC 8259, with the byte
// offset where reading stopped.
type SyntaxError struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "strictjson: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// DepthError reports nesting deeper than the limit. Path names the array
// or object that would have exceeded it.
type DepthError struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	Offset int
	Path   string
	Limit  int
}

func (e *DepthError) Error() string {
	return "strictjson: nesting deeper than " + strconv.Itoa(e.Limit) + " at " + pathOrRoot(e.Path)
}

// DuplicateError reports an object with a member name seen twice. Name is
// the name after unescaping; Path is the member's path in the document in
// the form "params.name" or "[0].params.name" (names joined by ".", array
// indexes in brackets; a name that is empty or contains ".", "[" or "]" is
// quoted as a JSON string); Offset is where the second occurrence starts.
type DuplicateError struct {
	_      [0]func() // not comparable: no equality function in the wasm module
	Offset int
	Path   string
	Name   string
}

func (e *DuplicateError) Error() string {
	return "strictjson: duplicate member name " + strconv.Quote(e.Name) + " at " + pathOrRoot(e.Path)
}

func pathOrRoot(p string) string {
	if p == "" {
		return "the top level"
	}
	return p
}

// Check reports whether data is one strict JSON text (see the package
// documentation). The error is a *SyntaxError, *DepthError or
// *DuplicateError.
func Check(data []byte, opts Options) error {
	c := checkers.Get().(*checker)
	// The hash seed is kept: equal hashes are compared byte for byte, so a
	// seed only has to be unpredictable, not fresh per document.
	*c = checker{data: data, maxDepth: opts.MaxDepth, dups: !opts.AllowDuplicates,
		stack: c.stackBuf[:0], keys: c.keysBuf[:0], scratch: c.scratchBuf[:0],
		seed: c.seed, seeded: c.seeded}
	if c.maxDepth <= 0 {
		c.maxDepth = DefaultMaxDepth
	}
	err := c.run()
	if cap(c.stack) > len(c.stackBuf) || cap(c.keys) > len(c.keysBuf) || cap(c.scratch) > len(c.scratchBuf) {
		return err // grown past the buffers: let it go rather than keep it
	}
	c.data = nil // the pool must not keep the caller's document alive
	checkers.Put(c)
	return err
}

// checkers recycles checkers: the stack and name buffers live inside the
// checker, so a JSON-RPC message, a token header or a claims set is checked
// without a heap allocation (a slice field assigned through a pointer
// escapes, so the buffers cannot live on Check's stack, and in wasm each
// allocation costs the request more than the check).
var checkers = sync.Pool{New: func() any { return new(checker) }}

// Valid is Check(data, opts) == nil.
func Valid(data []byte, opts Options) bool { return Check(data, opts) == nil }

// frame is one open array or object.
type frame struct {
	obj bool
	// n counts the elements or members read so far.
	n int
	// key is the offset of the current member name's opening quote.
	key int
	// keys is where this object's entries start in checker.keys.
	keys int
}

// keyEntry is one member name of an open object: the offsets of its
// opening quote and just after its closing quote, whether it holds a
// backslash, and (for objects of more than smallObject members) the hash
// of its unescaped bytes.
type keyEntry struct {
	hash uint64
	off  int
	end  int
	esc  bool
}

// smallObject is the most members an object may have for its names to be
// compared pairwise rather than hashed and sorted: a JSON-RPC message, its
// params and a claims set are checked without hashing a name. A variable
// only so that a test can hold both ways to the same verdicts.
var smallObject = 8

type checker struct {
	data     []byte
	pos      int
	maxDepth int
	dups     bool
	stack    []frame
	keys     []keyEntry
	seed     maphash.Seed
	seeded   bool
	scratch  []byte

	stackBuf   [8]frame
	keysBuf    [16]keyEntry
	scratchBuf [64]byte
}

func (c *checker) syntax(msg string) error { return &SyntaxError{Offset: c.pos, Msg: msg} }

func (c *checker) skipSpace() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// run is an iterative pushdown reader: the loop reads one value, then pops
// every container that value completes.
func (c *checker) run() error {
	for {
		// A value is expected here.
		c.skipSpace()
		if c.pos >= len(c.data) {
			return c.syntax("unexpected end of input")
		}
		switch b := c.data[c.pos]; b {
		case '{', '[':
			if len(c.stack) >= c.maxDepth {
				return &DepthError{Offset: c.pos, Path: c.path(len(c.stack)), Limit: c.maxDepth}
			}
			c.pos++
			c.stack = append(c.stack, frame{obj: b == '{', keys: len(c.keys)})
			c.skipSpace()
			closer := byte(']')
			if b == '{' {
				closer = '}'
			}
			if c.pos < len(c.data) && c.data[c.pos] == closer {
				c.pos++
				c.stack = c.stack[:len(c.stack)-1]
				break
			}
			if b == '{' {
				if err := c.member(); err != nil {
					return err
				}
			}
			continue
		case '"':
			if _, err := c.str(); err != nil {
				return err
			}
		case 't':
			if err := c.literal("true"); err != nil {
				return err
			}
		case 'f':
			if err := c.literal("false"); err != nil {
				return err
			}
		case 'n':
			if err := c.literal("null"); err != nil {
				return err
			}
		default:
			if b == '-' || (b >= '0' && b <= '9') {
				if err := c.number(); err != nil {
					return err
				}
			} else {
				return c.syntax("invalid character " + strconv.QuoteRune(rune(b)) + " looking for a value")
			}
		}
		// A value ended: continue the innermost container or close it.
		for {
			c.skipSpace()
			if len(c.stack) == 0 {
				if c.pos != len(c.data) {
					return c.syntax("data after the top-level value")
				}
				return nil
			}
			if c.pos >= len(c.data) {
				return c.syntax("unexpected end of input")
			}
			top := &c.stack[len(c.stack)-1]
			b := c.data[c.pos]
			if b == ',' {
				c.pos++
				top.n++
				if top.obj {
					c.skipSpace()
					if err := c.member(); err != nil {
						return err
					}
				}
				break
			}
			if (top.obj && b == '}') || (!top.obj && b == ']') {
				if top.obj && c.dups {
					if err := c.checkDuplicates(); err != nil {
						return err
					}
					c.keys = c.keys[:top.keys]
				}
				c.pos++
				c.stack = c.stack[:len(c.stack)-1]
				continue
			}
			if top.obj {
				return c.syntax("expected ',' or '}' after an object member")
			}
			return c.syntax("expected ',' or ']' after an array element")
		}
	}
}

// member reads `"name" :` at c.pos and records the name.
func (c *checker) member() error {
	if c.pos >= len(c.data) || c.data[c.pos] != '"' {
		if c.pos >= len(c.data) {
			return c.syntax("unexpected end of input")
		}
		return c.syntax("expected a member name")
	}
	start := c.pos
	esc, err := c.str()
	if err != nil {
		return err
	}
	top := &c.stack[len(c.stack)-1]
	top.key = start
	if c.dups {
		c.keys = append(c.keys, keyEntry{off: start, end: c.pos, esc: esc})
	}
	c.skipSpace()
	if c.pos >= len(c.data) || c.data[c.pos] != ':' {
		return c.syntax("expected ':' after a member name")
	}
	c.pos++
	return nil
}

func (c *checker) hashName(start, end int, esc bool) uint64 {
	if !c.seeded {
		c.seed = maphash.MakeSeed()
		c.seeded = true
	}
	raw := c.data[start+1 : end-1]
	if !esc {
		return maphash.Bytes(c.seed, raw)
	}
	c.scratch = unescape(c.scratch[:0], raw)
	return maphash.Bytes(c.seed, c.scratch)
}

// checkDuplicates looks for two equal names among the innermost object's
// entries. Up to smallObject entries are compared pairwise (at most 28
// comparisons, most ending at the lengths); more are hashed and sorted by
// hash, and entries of equal hash are compared after unescaping. Either
// way the earliest second occurrence is reported.
func (c *checker) checkDuplicates() error {
	top := c.stack[len(c.stack)-1]
	ks := c.keys[top.keys:]
	if len(ks) < 2 {
		return nil
	}
	if len(ks) <= smallObject {
		// Entries are in document order: the first one equal to an
		// earlier one is the earliest second occurrence.
		for b := 1; b < len(ks); b++ {
			for a := 0; a < b; a++ {
				if c.sameEntry(&ks[a], &ks[b]) {
					return c.duplicate(ks[b].off)
				}
			}
		}
		return nil
	}
	for i := range ks {
		ks[i].hash = c.hashName(ks[i].off, ks[i].end, ks[i].esc)
	}
	sortEntries(ks)
	var dup *keyEntry
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].hash == ks[i].hash {
			j++
		}
		// Within a group (ordered by offset) the first entry equal to an
		// earlier one is the group's earliest second occurrence. Different
		// names share a hash only by chance (the seed is random), so groups
		// of distinct names stay tiny and this is linear.
	group:
		for b := i + 1; b < j; b++ {
			for a := i; a < b; a++ {
				if c.sameName(ks[a].off, ks[b].off) {
					if dup == nil || ks[b].off < dup.off {
						dup = &ks[b]
					}
					break group
				}
			}
		}
		i = j
	}
	if dup == nil {
		return nil
	}
	return c.duplicate(dup.off)
}

// sortEntries orders ks by hash, then by offset. heapsort is O(n log n) on
// any input, so no object an attacker writes makes it quadratic, and it
// needs no pdqsort instance in the filter (slices.SortFunc's for this type
// was 17 KB of wasm; issue 14).
func sortEntries(ks []keyEntry) {
	heapsort.Func(ks, func(a, b *keyEntry) bool { return a.hash < b.hash || a.hash == b.hash && a.off < b.off })
}

// duplicate reports the member name at off, in the innermost object, as
// a second occurrence.
func (c *checker) duplicate(off int) error {
	name := c.name(off)
	path := c.path(len(c.stack) - 1)
	return &DuplicateError{Offset: off, Path: joinPath(path, name), Name: name}
}

// sameEntry reports whether two recorded names are equal after unescaping.
func (c *checker) sameEntry(a, b *keyEntry) bool {
	if !a.esc && !b.esc {
		return a.end-a.off == b.end-b.off && bytes.Equal(c.data[a.off+1:a.end-1], c.data[b.off+1:b.end-1])
	}
	// An escaped name: hashes first (unescaped in the scratch buffer, no
	// allocation, and kept in the entry: a name meets up to seven others),
	// then, if they agree, the names themselves.
	return c.entryHash(a) == c.entryHash(b) && c.sameName(a.off, b.off)
}

// entryHash returns e's hash, computing it on first use (0 stands for not
// yet computed; a name whose hash is 0 is merely hashed again).
func (c *checker) entryHash(e *keyEntry) uint64 {
	if e.hash == 0 {
		e.hash = c.hashName(e.off, e.end, e.esc)
	}
	return e.hash
}

// name returns the unescaped member name whose opening quote is at off.
func (c *checker) name(off int) string {
	end := stringEnd(c.data, off)
	return string(unescape(nil, c.data[off+1:end-1]))
}

func (c *checker) sameName(a, b int) bool {
	ra := c.data[a+1 : stringEnd(c.data, a)-1]
	rb := c.data[b+1 : stringEnd(c.data, b)-1]
	if bytes.IndexByte(ra, '\\') < 0 && bytes.IndexByte(rb, '\\') < 0 {
		return bytes.Equal(ra, rb)
	}
	return bytes.Equal(unescape(nil, ra), unescape(nil, rb))
}

// path renders the location of the value being read inside the first n
// open containers.
func (c *checker) path(n int) string {
	var p string
	for i := 0; i < n; i++ {
		f := c.stack[i]
		if f.obj {
			p = joinPath(p, c.name(f.key))
		} else {
			p += "[" + strconv.Itoa(f.n) + "]"
		}
	}
	return p
}

func joinPath(path, name string) string {
	if name == "" || strings.ContainsAny(name, ".[]\"") {
		name = strconv.Quote(name)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func (c *checker) literal(word string) error {
	if !bytes.HasPrefix(c.data[c.pos:], []byte(word)) {
		return c.syntax("invalid literal, expected " + word)
	}
	c.pos += len(word)
	return nil
}

// number reads RFC 8259 §6: [ minus ] int [ frac ] [ exp ].
func (c *checker) number() error {
	d := c.data
	if d[c.pos] == '-' {
		c.pos++
	}
	switch {
	case c.pos < len(d) && d[c.pos] == '0':
		c.pos++
	case c.pos < len(d) && d[c.pos] >= '1' && d[c.pos] <= '9':
		for c.pos < len(d) && isDigit(d[c.pos]) {
			c.pos++
		}
	default:
		return c.syntax("invalid number")
	}
	if c.pos < len(d) && d[c.pos] == '.' {
		c.pos++
		if c.pos >= len(d) || !isDigit(d[c.pos]) {
			return c.syntax("invalid number: digit expected after '.'")
		}
		for c.pos < len(d) && isDigit(d[c.pos]) {
			c.pos++
		}
	}
	if c.pos < len(d) && (d[c.pos] == 'e' || d[c.pos] == 'E') {
		c.pos++
		if c.pos < len(d) && (d[c.pos] == '+' || d[c.pos] == '-') {
			c.pos++
		}
		if c.pos >= len(d) || !isDigit(d[c.pos]) {
			return c.syntax("invalid number: digit expected in exponent")
		}
		for c.pos < len(d) && isDigit(d[c.pos]) {
			c.pos++
		}
	}
	return nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// str reads a string (RFC 8259 §7) whose opening quote is at c.pos and
// leaves c.pos after its closing quote. esc reports a backslash inside.
func (c *checker) str() (esc bool, err error) {
	d := c.data
	c.pos++
	for {
		// Runs of plain ASCII are skipped in a local loop with one table
		// load per byte; in wasm the switch below, which reads and writes
		// c.pos in memory, cost about 20 ns a byte.
		i := c.pos
		for i < len(d) && strPlain[d[i]] {
			i++
		}
		c.pos = i
		if c.pos >= len(d) {
			return esc, c.syntax("unterminated string")
		}
		b := d[c.pos]
		switch {
		case b == '"':
			c.pos++
			return esc, nil
		case b == '\\':
			esc = true
			if c.pos+1 >= len(d) {
				c.pos++
				return esc, c.syntax("unterminated string")
			}
			switch d[c.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.pos += 2
			case 'u':
				r, ok := hex4(d, c.pos+2)
				if !ok {
					return esc, c.syntax(`invalid \u escape`)
				}
				c.pos += 6
				if utf16.IsSurrogate(r) {
					// RFC 7493 §2.1: a high surrogate must be followed by
					// an escaped low one; anything else is a lone surrogate.
					lo, ok := rune(0), false
					if r < 0xDC00 && c.pos+1 < len(d) && d[c.pos] == '\\' && d[c.pos+1] == 'u' {
						lo, ok = hex4(d, c.pos+2)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return esc, c.syntax("lone surrogate in \\u escape")
					}
					c.pos += 6
				}
			default:
				return esc, c.syntax("invalid escape in string")
			}
		case b < 0x20:
			return esc, c.syntax("control character in string")
		case b < utf8.RuneSelf:
			c.pos++
		default:
			r, n := utf8.DecodeRune(d[c.pos:])
			if r == utf8.RuneError && n <= 1 {
				return esc, c.syntax("invalid UTF-8 in string")
			}
			c.pos += n
		}
	}
}

// Plain reports whether b stands for itself in a JSON string and is
// ASCII: from the space on, but the quote and the backslash. (A table
// load, inlined: the guard's one-pass reader scans with it too.)
func Plain(b byte) bool { return strPlain[b] }

// strPlain marks the bytes that stand for themselves in a string: ASCII
// from the space on, but the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, b := range d[i : i+4] {
		switch {
		case b >= '0' && b <= '9':
			r = r<<4 | rune(b-'0')
		case b >= 'a' && b <= 'f':
			r = r<<4 | rune(b-'a'+10)
		case b >= 'A' && b <= 'F':
			r = r<<4 | rune(b-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// stringEnd returns the offset just after the closing quote of the string
// (already checked) whose opening quote is at off.
func stringEnd(d []byte, off int) int {
	for i := off + 1; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(d)
}

// unescape appends the decoded contents of a checked string (without its
// quotes) to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if b != '\\' {
			dst = append(dst, b)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+1)
			i += 4
			if utf16.IsSurrogate(r) {
				lo, _ := hex4(raw, i+3)
				r = utf16.DecodeRune(r, lo)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

// Unquote returns the value of the checked JSON string literal s (with its
// quotes), as a decoder reads it. It is for callers that located a string
// in a text Check accepted.
func Unquote(s []byte) string {
	if len(s) < 2 {
		return ""
	}
	raw := s[1 : len(s)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	return string(unescape(nil, raw))
}
