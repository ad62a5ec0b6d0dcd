package authcore

import (
	"errors"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/authcore/internal/heapsort"
	"github.com/mcpgate/mcpgate/authcore/internal/jsonv"
	"github.com/mcpgate/mcpgate/authcore/internal/strictjson"
)

// ConfigError reports one problem in the filter configuration, naming the
// JSON path of the offending value (for example "resources[1].resource").
type ConfigError struct {
	Path string
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return "authcore: config: " + e.Msg
	}
	return "authcore: config: " + e.Path + ": " + e.Msg
}

// configMaxDepth bounds the nesting of the configuration: its deepest
// shipped path (resources[].rules[].scopes[]) is 4 levels deep.
const configMaxDepth = 16

// checkConfigJSON admits a configuration text through strictjson, the one
// strict reader: RFC 8259 with unique member names (a repeated key is
// reported at its path, as every other configuration error is).
func checkConfigJSON(data []byte) error {
	switch err := strictjson.Check(data, strictjson.Options{MaxDepth: configMaxDepth}).(type) {
	case nil:
		return nil
	case *strictjson.DuplicateError:
		return &ConfigError{Path: err.Path, Msg: "duplicate key"}
	case *strictjson.DepthError:
		return &ConfigError{Path: err.Path, Msg: "nested deeper than " + itoa(err.Limit) + " levels"}
	default:
		return &ConfigError{Msg: "not valid JSON: " + strings.TrimPrefix(err.Error(), "strictjson: ")}
	}
}

// cfgParser walks a jsonv document that checkConfigJSON accepted: unknown
// keys and wrong types are errors, each reported with its JSON path.
type cfgParser struct {
	errs []error
}

// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func (p *cfgParser) fail(path, msg string) {
	p.errs = append(p.errs, &ConfigError{Path: path, Msg: msg})
}

func (p *cfgParser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return errors.Join(p.errs...)
}

// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func index(path string, i int) string { return path + "[" + itoa(i) + "]" }

// object checks that v is a JSON object whose keys all appear in fields and
// calls each field's function with the value found (or a non-existent
// result when absent). Fields are visited in sorted order so that errors are
// reported deterministically.
func (p *cfgParser) object(path string, v jsonv.Result, fields map[string]func(path string, v jsonv.Result)) {
	if !v.Exists() {
		v = jsonv.Result{}
	} else if !v.IsObject() {
		p.fail(path, "must be an object")
		return
	}
	seen := map[string]jsonv.Result{}
	v.ForEach(func(k, val jsonv.Result) bool {
		key := k.String()
		seen[key] = val
		if _, ok := fields[key]; !ok {
			p.fail(join(path, key), "unknown key (known keys: "+strings.Join(sortedKeys(fields), ", ")+")")
		}
		return true
	})
	for _, key := range sortedKeys(fields) {
		fields[key](join(path, key), seen[key])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	heapsort.Strings(ks)
	return ks
}

// str stores a string value in dst; absent leaves dst unchanged.
//
// Not inlined: its closure was copied at each call site, which made the wasm module larger.
//
//go:noinline
func (p *cfgParser) str(dst *string) func(string, jsonv.Result) {
	return func(path string, v jsonv.Result) {
		if !v.Exists() {
			return
		}
		if v.Type != jsonv.String {
			p.fail(path, "must be a string")
			return
		}
		*dst = v.Str
	}
}

// boolean stores a boolean value in dst; absent leaves dst unchanged.
//
// Not inlined: its closure was copied at each call site, which made the wasm module larger.
//
//go:noinline
func (p *cfgParser) boolean(dst *bool) func(string, jsonv.Result) {
	return func(path string, v jsonv.Result) {
		if !v.Exists() {
			return
		}
		if !v.IsBool() {
			p.fail(path, "must be true or false")
			return
		}
		*dst = v.Bool()
	}
}

// integer stores a whole number within [min, max] in dst.
//
// Not inlined: its closure was copied at each call site, which made the wasm module larger.
//
//go:noinline
func (p *cfgParser) integer(dst *int, min, max int) func(string, jsonv.Result) {
	return func(path string, v jsonv.Result) {
		if !v.Exists() {
			return
		}
		if v.Type != jsonv.Number || v.Num != float64(int64(v.Num)) {
			p.fail(path, "must be a whole number")
			return
		}
		n := int(v.Num)
		if n < min || n > max {
			p.fail(path, "must be between "+itoa(min)+" and "+itoa(max))
			return
		}
		*dst = n
	}
}

// duration stores a Go duration string ("90s", "10m", "720h") within
// [min, max] in dst.
//
// Not inlined: its closure was copied at each call site, which made the wasm module larger.
//
//go:noinline
func (p *cfgParser) duration(dst *time.Duration, min, max time.Duration) func(string, jsonv.Result) {
	return func(path string, v jsonv.Result) {
		if !v.Exists() {
			return
		}
		if v.Type != jsonv.String {
			p.fail(path, `must be a duration string such as "10m"`)
			return
		}
		d, ok := parseDuration(v.Str)
		if !ok {
			p.fail(path, `must be a duration string such as "10m"`)
			return
		}
		if d < min || d > max {
			p.fail(path, "must be between "+min.String()+" and "+max.String())
			return
		}
		*dst = d
	}
}

// strings stores an array of strings in dst; absent leaves dst unchanged.
//
// Not inlined: its closure was copied at each call site, which made the wasm module larger.
//
//go:noinline
func (p *cfgParser) strings(dst *[]string) func(string, jsonv.Result) {
	return func(path string, v jsonv.Result) {
		if !v.Exists() {
			return
		}
		if !v.IsArray() {
			p.fail(path, "must be an array of strings")
			return
		}
		out := []string{}
		for i, e := range v.Array() {
			if e.Type != jsonv.String {
				p.fail(index(path, i), "must be a string")
				continue
			}
			out = append(out, e.Str)
		}
		*dst = out
	}
}

// array calls each for every element of a JSON array.
func (p *cfgParser) array(path string, v jsonv.Result, each func(path string, i int, v jsonv.Result)) {
	if !v.Exists() {
		return
	}
	if !v.IsArray() {
		p.fail(path, "must be an array")
		return
	}
	for i, e := range v.Array() {
		each(index(path, i), i, e)
	}
}
