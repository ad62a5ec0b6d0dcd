package authcore

import (
	"math"
	"time"
)

// unixNano is t in Unix nanoseconds, saturated at the ends of int64 (years
// before 1678 or after 2262: a token's far-future "exp" must not wrap
// around). The guard compares its times as integers: in wasm each of
// time.Time's Before, Add and Sub is a function call, and checkTime and
// adminFresh made nine of them per request.
func unixNano(t time.Time) int64 {
	s := t.Unix()
	switch {
	case s >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	case s <= math.MinInt64/int64(time.Second):
		return math.MinInt64
	}
	return s*int64(time.Second) + int64(t.Nanosecond())
}

// addSat is a+b for b >= 0, saturated at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
