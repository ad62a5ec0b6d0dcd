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

// parseDate parses the three HTTP-date formats of RFC 9110 §5.6.7:
//
//	IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
//	asctime-date Sun Nov  6 08:49:37 1994
//
// by their grammar, with time.Parse's readings where the grammar leaves
// room (names in any case, a two-digit year from 1969 to 2068). It is
// written out instead of calling time.Parse, whose general layout parser
// was 54 KB of the wasm module (issue 14); the tests hold it to time.Parse.
func parseDate(s string) (time.Time, bool) {
	var year, month, day, clock int
	var ok bool
	switch {
	case len(s) == 29 && s[3] == ',': // IMF-fixdate
		ok = weekday(s[:3]) && s[3:5] == ", " && s[7] == ' ' && s[11] == ' ' && s[16] == ' ' && s[25:] == " GMT"
		day, month, year = digits(s[5:7]), monthNamed(s[8:11]), digits(s[12:16])
		clock = timeOfDay(s[17:25])
	case len(s) == 24 && s[3] == ' ': // asctime-date
		ok = weekday(s[:3]) && s[7] == ' ' && s[10] == ' ' && s[19] == ' '
		month, year, clock = monthNamed(s[4:7]), digits(s[20:24]), timeOfDay(s[11:19])
		if s[8] == ' ' {
			day = digits(s[9:10])
		} else {
			day = digits(s[8:10])
		}
	default: // rfc850-date: a long day name, then ", DD-Mon-YY HH:MM:SS GMT"
		i := strings.IndexByte(s, ',')
		rest := s[i+1:]
		ok = i > 0 && longWeekday(s[:i]) && len(rest) == 23 && rest[0] == ' ' && rest[3] == '-' && rest[7] == '-' &&
			rest[10] == ' ' && rest[19:] == " GMT"
		if ok {
			day, month, year, clock = digits(rest[1:3]), monthNamed(rest[4:7]), digits(rest[8:10]), timeOfDay(rest[11:19])
			if year >= 69 {
				year += 1900
			} else if year >= 0 {
				year += 2000
			}
		}
	}
	if !ok || year < 0 || month < 1 || clock < 0 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, 0, 0, clock, 0, time.UTC), true
}

const weekdays = "sunmontuewedthufrisat"

// weekday reports whether s is a three-letter day name, in any case.
func weekday(s string) bool {
	l := strings.ToLower(s)
	for i := 0; i+3 <= len(weekdays); i += 3 {
		if l == weekdays[i:i+3] {
			return true
		}
	}
	return false
}

// longWeekday reports whether s is a full day name, in any case.
func longWeekday(s string) bool {
	switch strings.ToLower(s) {
	case "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday":
		return true
	}
	return false
}

const months = "janfebmaraprmayjunjulaugsepoctnovdec"

// monthNamed is the number of a three-letter month name in any case, or 0.
func monthNamed(s string) int {
	l := strings.ToLower(s)
	for i := 0; i+3 <= len(months); i += 3 {
		if l == months[i:i+3] {
			return i/3 + 1
		}
	}
	return 0
}

// digits is the value of s, all ASCII digits, or -1.
func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// timeOfDay is "HH:MM:SS" as seconds into the day, or -1.
func timeOfDay(s string) int {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return -1
	}
	h, m, sec := digits(s[:2]), digits(s[3:5]), digits(s[6:])
	if h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59 {
		return -1
	}
	return h*3600 + m*60 + sec
}

// daysIn is the number of days of month in year (proleptic Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
