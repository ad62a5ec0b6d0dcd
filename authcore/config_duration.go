package authcore

import "time"

// parseDuration reads a duration as time.ParseDuration does: an optional
// sign, then one or more decimal numbers, each with an optional fraction
// and a unit ("ns", "us" or "µs", "ms", "s", "m", "h"), such as "90s",
// "1.5h" or "2h45m"; "0" alone needs no unit. A value outside
// time.Duration's range is refused. It is not time.ParseDuration because that was 10 KB of the wasm
// module (issue 14); FuzzParseDuration holds the two to the same values.
func parseDuration(s string) (time.Duration, bool) {
	const limit = 1 << 63 // the magnitude of the most negative duration
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "0" {
		return 0, true
	}
	if s == "" {
		return 0, false
	}
	var total uint64
	for s != "" {
		i := 0
		var whole uint64
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			if whole > limit/10 {
				return 0, false
			}
			if whole = whole*10 + uint64(s[i]-'0'); whole > limit {
				return 0, false
			}
		}
		digits := i
		// The fraction keeps the digits that fit; the rest only count.
		var frac uint64
		scale := 1.0
		if i < len(s) && s[i] == '.' {
			i++
			full := false
			for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
				digits++
				if full || frac > (limit-1)/10 {
					full = true
					continue
				}
				if next := frac*10 + uint64(s[i]-'0'); next <= limit {
					frac, scale = next, scale*10
				} else {
					full = true
				}
			}
		}
		if digits == 0 {
			return 0, false
		}
		start := i
		for i < len(s) && s[i] != '.' && (s[i] < '0' || s[i] > '9') {
			i++
		}
		unit := durationUnit(s[start:i])
		if unit == 0 {
			return 0, false
		}
		s = s[i:]
		if whole > limit/unit {
			return 0, false
		}
		v := whole * unit
		if frac > 0 {
			if v += uint64(float64(frac) * (float64(unit) / scale)); v > limit {
				return 0, false
			}
		}
		if total += v; total > limit {
			return 0, false
		}
	}
	if neg {
		return -time.Duration(total), true
	}
	if total > limit-1 {
		return 0, false
	}
	return time.Duration(total), true
}

// durationUnit is the unit's length in nanoseconds, 0 for no unit.
func durationUnit(u string) uint64 {
	switch u {
	case "ns":
		return 1
	case "us", "µs", "μs": // U+00B5 and U+03BC
		return 1e3
	case "ms":
		return 1e6
	case "s":
		return 1e9
	case "m":
		return 60e9
	case "h":
		return 3600e9
	}
	return 0
}
