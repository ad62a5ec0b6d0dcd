// Package httpcache decides how long mcpgate may keep a fetched document:
// HTTP caching (RFC 9111) as a private cache that never revalidates.
//
// mcpgate keeps a fetched document for the lifetime [Freshness] decides,
// clamped to the configured [cache_min, cache_max]; it never sends
// conditional requests, so a response it may not reuse without
// revalidation is not stored at all. Decisions:
//
//   - no-store: not stored.
//   - no-cache (with or without field names): not stored, since reuse
//     would need revalidation.
//   - Vary: * : not stored (it never matches a later request).
//   - private: stored. The cache is the authorization server's own, used
//     for no one else: it is a private cache in the sense of RFC 9111 §3.5.
//   - s-maxage, public, must-revalidate, immutable: ignored (shared-cache
//     or stale-serving directives; mcpgate never serves stale).
//   - max-age=N gives the lifetime; otherwise Expires minus Date; the
//     current age (the larger of Age and now minus Date) is subtracted.
//   - An invalid or repeated max-age, an invalid Expires, or several
//     different Expires make the response stale (RFC 9111 §4.2.1, §5.3).
//   - No explicit lifetime at all (heuristically cacheable 200): cache_min.
//   - The result is clamped to [cache_min, cache_max]: a stale or max-age=0
//     response is kept for cache_min. That floor is a local bound on how
//     often one URL is refetched; set cache_min to "0s" to honour such
//     responses literally (they are then not stored).
package httpcache

import (
	"strconv"
	"strings"
	"time"
)

// Header is a response's header fields: Values returns the value of every
// field line with the given lower-case name, in order.
type Header interface {
	Values(name string) []string
}

// Decision is the caching decision for one response.
type Decision struct {
	// Store tells whether the response may be cached.
	Store bool
	// TTL is how long, clamped; 0 when not stored.
	TTL time.Duration
	// Why explains the decision, for logs and tests.
	Why string
}

// Freshness decides how long a 200 response received at now may be
// reused, clamped to [floor, ceiling] (cache_min, cache_max).
func Freshness(h Header, now time.Time, floor, ceiling time.Duration) Decision {
	cc := parseDirectives(h.Values("cache-control"))
	switch {
	case cc.has("no-store"):
		return Decision{Why: "no-store"}
	case cc.has("no-cache"):
		return Decision{Why: "no-cache (mcpgate does not revalidate)"}
	}
	for _, v := range h.Values("vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return Decision{Why: "vary: *"}
			}
		}
	}

	date, dateOK := headerDate(h, "date")
	if !dateOK {
		date = now
	}
	var lifetime time.Duration
	var why string
	switch vals := cc.values("max-age"); {
	case len(vals) > 1:
		why = "repeated max-age: stale"
	case len(vals) == 1:
		n, ok := deltaSeconds(vals[0])
		if !ok {
			why = "invalid max-age: stale"
			break
		}
		lifetime, why = n, "max-age"
	case len(h.Values("expires")) > 0:
		exp, ok := headerDate(h, "expires")
		if !ok {
			why = "invalid or conflicting expires: stale"
			break
		}
		lifetime, why = exp.Sub(date), "expires"
	default:
		return clamp(floor, floor, ceiling, "no explicit lifetime: cache_min")
	}

	// Current age (RFC 9111 §4.2.3), the response just received.
	age := now.Sub(date)
	if age < 0 {
		age = 0
	}
	if vs := h.Values("age"); len(vs) == 1 {
		if a, ok := deltaSeconds(strings.TrimSpace(vs[0])); ok && a > age {
			age = a
		}
	}
	return clamp(lifetime-age, floor, ceiling, why)
}

func clamp(ttl, floor, ceiling time.Duration, why string) Decision {
	switch {
	case ttl < floor:
		ttl, why = floor, why+", raised to cache_min"
	case ttl > ceiling:
		ttl, why = ceiling, why+", lowered to cache_max"
	}
	if ttl <= 0 {
		return Decision{Why: why + ", not stored"}
	}
	return Decision{Store: true, TTL: ttl, Why: why}
}

// directives holds parsed directives: lower-case name to values ("" for
// a directive without argument), in order.
type directives map[string][]string

func (c directives) has(name string) bool        { return len(c[name]) > 0 }
func (c directives) values(name string) []string { return c[name] }

// parseDirectives parses every cache-control field line (RFC 9111 §5.2):
// comma-separated directives, token or quoted-string arguments. Commas in
// quoted strings do not split.
func parseDirectives(lines []string) directives {
	cc := directives{}
	for _, line := range lines {
		for _, d := range splitDirectives(line) {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			name, arg, _ := strings.Cut(d, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			arg = strings.TrimSpace(arg)
			if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = unquote(arg[1 : len(arg)-1])
			}
			cc[name] = append(cc[name], arg)
		}
	}
	return cc
}

// splitDirectives splits s at commas outside double quotes.
func splitDirectives(s string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// unquote removes quoted-pair backslashes.
func unquote(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// deltaSeconds parses delta-seconds (RFC 9111 §1.2.2): digits only; values
// past 2^31 are capped there.
func deltaSeconds(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1<<31 {
		n = 1 << 31
	}
	return time.Duration(n) * time.Second, true
}

// headerDate parses the named header as an HTTP-date; several lines
// must agree. ok is false when absent, invalid or conflicting.
func headerDate(h Header, name string) (time.Time, bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return time.Time{}, false
	}
	var t time.Time
	for i, v := range vs {
		u, ok := parseDate(strings.TrimSpace(v))
		if !ok || (i > 0 && !u.Equal(t)) {
			return time.Time{}, false
		}
		t = u
	}
	return t, true
}

// parseDate parses the three HTTP-date formats (RFC 9110 §5.6.7).
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{
		"Mon, 02 Jan 2006 15:04:05 GMT",  // IMF-fixdate
		"Monday, 02-Jan-06 15:04:05 GMT", // obsolete RFC 850
		"Mon Jan _2 15:04:05 2006",       // obsolete asctime
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
