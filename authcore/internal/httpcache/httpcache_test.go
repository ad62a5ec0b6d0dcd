package httpcache

import (
	"strings"
	"testing"
	"time"
)

// testHeader is authcore.Header: lower-case field lines in order.
type testHeader [][2]string

func (h testHeader) Values(name string) []string {
	var out []string
	for _, f := range h {
		if f[0] == name {
			out = append(out, f[1])
		}
	}
	return out
}

func TestFreshness(t *testing.T) {
	now := time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format("Mon, 02 Jan 2006 15:04:05 GMT") }
	const floor, ceiling = time.Minute, 24 * time.Hour
	cases := []struct {
		name  string
		h     testHeader
		store bool
		ttl   time.Duration
		why   string
	}{
		{"max-age", testHeader{{"cache-control", "max-age=600"}}, true, 10 * time.Minute, "max-age"},
		{"max-age, case and spaces", testHeader{{"cache-control", " Public , MAX-AGE=600 "}}, true, 10 * time.Minute, "max-age"},
		{"max-age quoted", testHeader{{"cache-control", `max-age="600"`}}, true, 10 * time.Minute, "max-age"},
		{"max-age across lines", testHeader{{"cache-control", "public"}, {"cache-control", "max-age=600"}}, true, 10 * time.Minute, "max-age"},
		{"no-store", testHeader{{"cache-control", "max-age=600, no-store"}}, false, 0, "no-store"},
		{"no-store on its own line", testHeader{{"cache-control", "max-age=600"}, {"cache-control", "No-Store"}}, false, 0, "no-store"},
		{"no-cache", testHeader{{"cache-control", "no-cache"}}, false, 0, "no-cache"},
		{"qualified no-cache", testHeader{{"cache-control", `no-cache="set-cookie", max-age=600`}}, false, 0, "no-cache"},
		{"no-store inside a quoted string is not a directive", testHeader{{"cache-control", `private="x, no-store", max-age=600`}}, true, 10 * time.Minute, "max-age"},
		{"escaped quote does not end a quoted string", testHeader{{"cache-control", `private="x\", max-age=5", max-age=600`}}, true, 10 * time.Minute, "max-age"},
		{"no-store after a quoted string with an escaped quote", testHeader{{"cache-control", `private="x\"", no-store`}}, false, 0, "no-store"},
		{"private is fine for the AS's own cache", testHeader{{"cache-control", "private, max-age=600"}}, true, 10 * time.Minute, "max-age"},
		{"s-maxage ignored", testHeader{{"cache-control", "s-maxage=5, max-age=600"}}, true, 10 * time.Minute, "max-age"},
		{"s-maxage alone is no lifetime", testHeader{{"cache-control", "s-maxage=7200"}}, true, floor, "no explicit lifetime"},
		{"vary star", testHeader{{"cache-control", "max-age=600"}, {"vary", "accept, *"}}, false, 0, "vary"},
		{"vary accept is fine", testHeader{{"cache-control", "max-age=600"}, {"vary", "accept"}}, true, 10 * time.Minute, "max-age"},
		{"max-age clamped up", testHeader{{"cache-control", "max-age=5"}}, true, floor, "raised to cache_min"},
		{"max-age=0 clamped up", testHeader{{"cache-control", "max-age=0"}}, true, floor, "raised to cache_min"},
		{"max-age clamped down", testHeader{{"cache-control", "max-age=31536000"}}, true, ceiling, "lowered to cache_max"},
		{"huge max-age", testHeader{{"cache-control", "max-age=99999999999999999999999"}}, true, ceiling, "lowered"},
		{"max-age minus Age", testHeader{{"cache-control", "max-age=600"}, {"age", "100"}}, true, 500 * time.Second, "max-age"},
		{"max-age minus apparent age", testHeader{{"cache-control", "max-age=600"}, {"date", date(-200 * time.Second)}}, true, 400 * time.Second, "max-age"},
		{"larger of Age and apparent age", testHeader{{"cache-control", "max-age=600"}, {"date", date(-200 * time.Second)}, {"age", "300"}}, true, 300 * time.Second, "max-age"},
		{"Date in the future is age 0", testHeader{{"cache-control", "max-age=600"}, {"date", date(time.Hour)}}, true, 10 * time.Minute, "max-age"},
		{"invalid Age ignored", testHeader{{"cache-control", "max-age=600"}, {"age", "-5"}}, true, 10 * time.Minute, "max-age"},
		{"max-age beats Expires", testHeader{{"cache-control", "max-age=600"}, {"date", date(0)}, {"expires", date(time.Hour)}}, true, 10 * time.Minute, "max-age"},
		{"Expires minus Date", testHeader{{"date", date(0)}, {"expires", date(2 * time.Hour)}}, true, 2 * time.Hour, "expires"},
		{"Expires without Date", testHeader{{"expires", date(2 * time.Hour)}}, true, 2 * time.Hour, "expires"},
		{"Expires relative to a skewed Date", testHeader{{"date", date(-time.Hour)}, {"expires", date(0)}}, true, floor, "expires"},
		{"Expires RFC 850", testHeader{{"date", date(0)}, {"expires", now.Add(3 * time.Hour).Format("Monday, 02-Jan-06 15:04:05 GMT")}}, true, 3 * time.Hour, "expires"},
		{"Expires asctime", testHeader{{"date", date(0)}, {"expires", now.Add(3 * time.Hour).Format("Mon Jan _2 15:04:05 2006")}}, true, 3 * time.Hour, "expires"},
		{"Expires in the past", testHeader{{"date", date(0)}, {"expires", date(-time.Hour)}}, true, floor, "raised to cache_min"},
		{"Expires 0 is stale", testHeader{{"expires", "0"}}, true, floor, "invalid"},
		{"conflicting Expires are stale", testHeader{{"date", date(0)}, {"expires", date(time.Hour)}, {"expires", date(2 * time.Hour)}}, true, floor, "conflicting"},
		{"repeated max-age is stale", testHeader{{"cache-control", "max-age=600, max-age=700"}}, true, floor, "repeated max-age"},
		{"invalid max-age is stale", testHeader{{"cache-control", "max-age=10m"}}, true, floor, "invalid max-age"},
		{"negative max-age is stale", testHeader{{"cache-control", "max-age=-1"}}, true, floor, "invalid max-age"},
		{"nothing: heuristic cache_min", testHeader{}, true, floor, "no explicit lifetime"},
		{"pragma no-cache is ignored", testHeader{{"pragma", "no-cache"}}, true, floor, "no explicit lifetime"},
	}
	for _, tc := range cases {
		f := Freshness(tc.h, now, floor, ceiling)
		if f.Store != tc.store || f.TTL != tc.ttl || !strings.Contains(f.Why, tc.why) {
			t.Errorf("%s: got %+v, want store=%v ttl=%v why~%q", tc.name, f, tc.store, tc.ttl, tc.why)
		}
	}
	// cache_min 0 honours stale responses literally: not stored.
	if f := Freshness(testHeader{{"cache-control", "max-age=0"}}, now, 0, ceiling); f.Store {
		t.Errorf("max-age=0 with cache_min 0: %+v", f)
	}
	if f := Freshness(testHeader{}, now, 0, ceiling); f.Store {
		t.Errorf("no lifetime with cache_min 0: %+v", f)
	}
}

// FuzzFreshness: any header values give a decision within bounds.
func FuzzFreshness(f *testing.F) {
	f.Add("max-age=600", "", "", "")
	f.Add(`no-cache="a,b", max-age=1`, "Tue, 28 Jul 2026 12:00:00 GMT", "Tue, 28 Jul 2026 13:00:00 GMT", "5")
	f.Fuzz(func(t *testing.T, cc, date, expires, age string) {
		now := time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)
		h := testHeader{{"cache-control", cc}, {"date", date}, {"expires", expires}, {"age", age}}
		d := Freshness(h, now, time.Minute, time.Hour)
		if d.Store && (d.TTL < time.Minute || d.TTL > time.Hour) || !d.Store && d.TTL != 0 {
			t.Fatalf("%+v", d)
		}
		if !strings.Contains(cc, `"`) && d.Store {
			for _, dir := range strings.Split(cc, ",") {
				name, _, _ := strings.Cut(dir, "=")
				if n := strings.ToLower(strings.TrimSpace(name)); n == "no-store" || n == "no-cache" {
					t.Fatalf("%s stored: %q", n, cc)
				}
			}
		}
	})
}

// timeParseDate is the HTTP-date reading through time.Parse, the reference
// for parseDate.
func timeParseDate(s string) (time.Time, bool) {
	for _, layout := range []string{"Mon, 02 Jan 2006 15:04:05 GMT", "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var dateSeeds = []string{
	"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun Nov 16 08:49:37 1994",
	"sun, 06 nov 1994 08:49:37 GMT", "Sun, 29 Feb 2000 00:00:00 GMT", "Sun, 29 Feb 1900 00:00:00 GMT", "Sun, 31 Apr 2024 00:00:00 GMT",
	"Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:37 GMT", "Sun, 06 Nov 1994 08:49:37.5 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
	"Sun,  06 Nov 1994 08:49:37 GMT", "Thursday, 01-Jan-70 00:00:00 GMT", "Friday, 31-Dec-68 23:59:59 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
	"Sun Nov 06 08:49:37 1994", "Sun Nov 6 08:49:37 1994", "", "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, -6 Nov 1994 08:49:37 GMT",
}

func TestParseDateAgainstTimeParse(t *testing.T) {
	for _, s := range dateSeeds {
		checkDate(t, s)
	}
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"} {
		if got, ok := parseDate(s); !ok || !got.Equal(time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)) {
			t.Errorf("%q: %v %v", s, got, ok)
		}
	}
}

// checkDate fails t when parseDate accepts s and time.Parse does not, or
// reads another instant.
func checkDate(t *testing.T, s string) {
	t.Helper()
	got, ok := parseDate(s)
	want, wantOK := timeParseDate(s)
	if ok && (!wantOK || !got.Equal(want)) {
		t.Fatalf("%q: %v, time.Parse %v %v", s, got, want, wantOK)
	}
}

// FuzzParseDate: whatever parseDate accepts, time.Parse reads as the same
// instant. (It refuses on purpose what the grammar of RFC 9110 §5.6.7 does
// not allow and time.Parse lets through: runs of spaces, one-digit hours,
// fractional seconds.)
func FuzzParseDate(f *testing.F) {
	for _, s := range dateSeeds {
		f.Add(s)
	}
	f.Fuzz(checkDate)
}

// FuzzParseValidDates: every instant written in each of the three formats
// (names in any case) is read back by parseDate as time.Parse reads it.
func FuzzParseValidDates(f *testing.F) {
	f.Add(int64(784111777), uint8(0), false)
	f.Add(int64(-1), uint8(1), true)
	f.Add(int64(253402300799), uint8(2), false)
	f.Fuzz(func(t *testing.T, sec int64, form uint8, upper bool) {
		layouts := []string{"Mon, 02 Jan 2006 15:04:05 GMT", "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"}
		layout := layouts[int(form)%3]
		lo, hi := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
		if layout == layouts[1] {
			lo, hi = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2068, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
		}
		span := hi - lo + 1
		at := time.Unix(lo+((sec%span)+span)%span, 0).UTC()
		s := at.Format(layout)
		if upper {
			s = strings.ToUpper(s)
		}
		got, ok := parseDate(s)
		want, wantOK := timeParseDate(s)
		if !ok || !wantOK || !got.Equal(want) || !got.Equal(at) {
			t.Fatalf("%q: %v %v, time.Parse %v %v, written from %v", s, got, ok, want, wantOK, at)
		}
	})
}
