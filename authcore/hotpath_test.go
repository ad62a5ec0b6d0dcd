package authcore

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkTimeSlow is checkTime in time.Time arithmetic, as it was written
// before the guard compared integers: the oracle of TestCheckTime and
// FuzzCheckTimeAgainstTime.
func checkTimeSlow(c *AccessTokenClaims, now time.Time) error {
	if !now.Before(c.Expiry.Add(clockSkew)) {
		return tokenErr("expired")
	}
	if !c.NotBefore.IsZero() && now.Add(clockSkew).Before(c.NotBefore) {
		return tokenErr("not yet valid")
	}
	if !c.IssuedAt.IsZero() && now.Add(clockSkew).Before(c.IssuedAt) {
		return tokenErr("issued in the future")
	}
	return nil
}

func sameVerdict(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// TestCheckTime holds checkTime to checkTimeSlow around every boundary
// (exp, nbf and iat each one nanosecond either side of now plus or minus
// the skew) and at the ends of the range, where unixNano saturates.
func TestCheckTime(t *testing.T) {
	now := time.Unix(1_765_000_000, 123_456_789)
	far := []time.Time{{}, time.Unix(math.MaxInt64/2, 0), time.Unix(-math.MaxInt64/2, 0), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64), time.Unix(math.MaxInt64/int64(time.Second), 0)}
	var times []time.Time
	for _, base := range []time.Time{now.Add(-clockSkew), now, now.Add(clockSkew)} {
		for _, d := range []time.Duration{-time.Second, -1, 0, 1, time.Second} {
			times = append(times, base.Add(d))
		}
	}
	times = append(times, far...)
	n := 0
	for _, exp := range times {
		for _, nbf := range times {
			for _, iat := range []time.Time{{}, now.Add(clockSkew), now.Add(clockSkew + 1), far[3]} {
				c := &AccessTokenClaims{Expiry: exp, NotBefore: nbf, IssuedAt: iat}
				// The clock reads this era: unixNano saturates only the
				// claims' times, never now.
				for _, at := range []time.Time{now, time.Unix(0, 0), time.Date(2261, 1, 1, 0, 0, 0, 0, time.UTC)} {
					if got, want := c.checkTime(at), checkTimeSlow(c, at); !sameVerdict(got, want) {
						t.Errorf("exp %v nbf %v iat %v now %v: checkTime %v, time.Time arithmetic %v", exp, nbf, iat, at, got, want)
					}
					n++
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d cases", n)
	}
}

// FuzzCheckTimeAgainstTime is TestCheckTime over any times: wall-clock
// times with no monotonic reading, as tokens' claims and the filter's
// clock are.
func FuzzCheckTimeAgainstTime(f *testing.F) {
	f.Add(int64(1_765_000_000), int64(0), int64(1_765_000_060), int64(0), int64(0), int64(0), int64(1_765_000_000), int64(5))
	f.Add(int64(253402300799), int64(999999999), int64(0), int64(0), int64(1_765_000_000), int64(1), int64(1_765_000_030), int64(0))
	f.Add(int64(1<<40-1), int64(0), int64(-(1<<40 - 1)), int64(0), int64(1<<40-1), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, expS, expN, nbfS, nbfN, iatS, iatN, nowS, nowN int64) {
		at := func(s, n int64) time.Time {
			if s == 0 && n == 0 {
				return time.Time{}
			}
			// Within ±2^40 seconds, jose.NumericDate's bound (about
			// year 36812): past what unixNano holds (2262), short of
			// where the oracle's own time.Time arithmetic overflows.
			return time.Unix(s%(1<<40), n%1e9)
		}
		c := &AccessTokenClaims{Expiry: at(expS, expN), NotBefore: at(nbfS, nbfN), IssuedAt: at(iatS, iatN)}
		// The clock reads times of this era: unixNano is exact for
		// them, and saturates only for the claims.
		now := time.Unix(nowS%(1<<33), nowN%1e9)
		if got, want := c.checkTime(now), checkTimeSlow(c, now); !sameVerdict(got, want) {
			t.Fatalf("exp %v nbf %v iat %v now %v: checkTime %v, time.Time arithmetic %v", c.Expiry, c.NotBefore, c.IssuedAt, now, got, want)
		}
	})
}

// FuzzPlainBearer holds the fast reading of an Authorization value to the
// general one: whenever plainBearer reads a token, readBearer reads the
// same one.
func FuzzPlainBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER a.b.c", "Bearer  abc", "Bearer abc ", " Bearer abc", "Bearer\tabc", "Bearerabc",
		"Basic abcdefg", "Bearer a\u00a0", "Bearer \u00a0a", "Bearer a\x7f", "Bearer a\x00", "bEaReR x", "Bearer ", "Bearer  ", "Bearer="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, val string) {
		tok, ok := plainBearer(val)
		if !ok {
			return
		}
		want, errDesc := readBearer(val)
		if errDesc != "" || want != tok {
			t.Fatalf("%q: plainBearer reads %q, readBearer %q (%q)", val, tok, want, errDesc)
		}
	})
}

// TestPlainBearerTakesTheUsualValue checks that the fast reading is the
// one a guarded request with a usual credential takes.
func TestPlainBearerTakesTheUsualValue(t *testing.T) {
	for _, val := range []string{"Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "bearer x", "BEARER abc~+/=="} {
		if tok, ok := plainBearer(val); !ok || tok != val[7:] {
			t.Errorf("%q: plainBearer = %q, %v", val, tok, ok)
		}
	}
	for _, val := range []string{"Bearer  x", " Bearer x", "Bearer x ", "Bearer x\t", "Bearer", "Bearer ", "Basic xyzxyz", "Bearer x\u3000", "Bearxr abc"} {
		if tok, ok := plainBearer(val); ok {
			t.Errorf("%q: plainBearer read %q; the general reading must decide", val, tok)
		}
	}
}

// TestRouteLengthIndex checks Engine.route against the routes map for
// every configured path and for paths of every length around them.
func TestRouteLengthIndex(t *testing.T) {
	for _, name := range []string{"guard", "as-dev", "issuer-path"} {
		e := newTestEngine(t, name)
		if len(e.routes) == 0 {
			t.Fatalf("%s: no routes", name)
		}
		var paths []string
		for p := range e.routes {
			paths = append(paths, p, p+"x", strings.TrimSuffix(p, p[len(p)-1:]), p+"?q=1")
		}
		for n := 0; n < 80; n++ {
			paths = append(paths, "/"+strings.Repeat("a", n))
		}
		for _, p := range paths {
			if got, want := e.route(p), e.routes[p]; got != want {
				t.Errorf("%s: route(%q) = %p, the map has %p", name, p, got, want)
			}
		}
	}
}

// TestGuardedResourceBothLookups checks that a configuration with more
// resources than smallLookup (looked up in the map) and one with fewer
// (compared in turn) find the same resource for the same paths.
func TestGuardedResourceBothLookups(t *testing.T) {
	build := func(n int) *Engine {
		var b strings.Builder
		b.WriteString(`{"issuer":"https://mcp.example.com","resources":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"resource":"https://mcp.example.com/r` + strconv.Itoa(i) + `/mcp","scopes":["mcp:tools"]}`)
		}
		b.WriteString(`],"keys":[{"kid":"k","active":true,"jwk":{"kty":"OKP","crv":"Ed25519","x":"wuJ9G9USydJB5XUvTNRgU2p-ioqIeMavF2ZykbVI5_U","d":"_XXJOkaK6mEwodbkVVVBFdYoleUrM0Tg5vkvJQN-bo8"}}]}`)
		cfg, err := ParseConfig([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	small, large := build(smallLookup), build(smallLookup+4)
	for i := 0; i < smallLookup+4; i++ {
		for _, p := range []string{"/r" + strconv.Itoa(i) + "/mcp", "/r" + strconv.Itoa(i) + "/mcp/sub", "/r" + strconv.Itoa(i) + "/mc"} {
			for _, e := range []*Engine{small, large} {
				if i >= len(e.cfg.Resources) {
					continue
				}
				r, _ := e.guardedResource(p)
				want := e.resources["/r"+strconv.Itoa(i)+"/mcp"]
				if strings.HasSuffix(p, "/mc") {
					want = nil
				}
				if r != want {
					t.Errorf("%d resources: guardedResource(%q) = %v, want %v", len(e.cfg.Resources), p, r, want)
				}
			}
		}
	}
}

// TestSingleThreadedEngine runs the guard with the caches' locks switched
// off, as the filter does: the same decisions, and the locks really off.
func TestSingleThreadedEngine(t *testing.T) {
	e, err := New(loadConfig(t, "guard"), Options{SingleThreaded: true})
	if err != nil {
		t.Fatal(err)
	}
	if !e.tokens.mu.off || !e.admin.mu.off {
		t.Fatal("SingleThreaded left a cache's lock on")
	}
	if d := newTestEngine(t, "guard"); d.tokens.mu.off || d.admin.mu.off {
		t.Fatal("the default engine switched a lock off")
	}
	tok := mintFor(t, e, "https://mcp.example.com/other/mcp", "mcp:tools")
	for i := 0; i < 3; i++ { // first seen, then cached
		if o, ok := run(e, mcpPost("/other/mcp", tok, `{}`)).(Forward); !ok {
			t.Fatalf("request %d: %#v", i, o)
		}
	}
	if r, ok := run(e, mcpPost("/other/mcp", tok+"x", `{}`)).(Reply); !ok || r.Status != 401 {
		t.Fatalf("a forged token: %#v", r)
	}
}

// TestAdminFreshWallClock checks the admin state's freshness in integer
// time: fresh just after the reading, stale at the recheck bound, and
// stale when the wall clock went back before the reading.
func TestAdminFreshWallClock(t *testing.T) {
	e := newTestEngine(t, "guard")
	at := time.Unix(1_765_000_000, 0)
	e.admin.st, e.admin.fetchedAt = &adminState{}, unixNano(at)
	for _, c := range []struct {
		now   time.Time
		fresh bool
	}{
		{at, true},
		{at.Add(e.adminRecheckInterval() - 1), true},
		{at.Add(e.adminRecheckInterval()), false},
		{at.Add(-1), false},
		{time.Time{}, false},
	} {
		if got := e.adminFresh(c.now) != nil; got != c.fresh {
			t.Errorf("now %v: fresh %v, want %v", c.now, got, c.fresh)
		}
	}
	e.admin.fetchedAt = 0 // forced re-read (admin.go)
	if e.adminFresh(at) != nil {
		t.Error("fetchedAt 0 still fresh")
	}
}

func TestUnixNanoSaturates(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(1, 2), 1_000_000_002},
		{time.Time{}, math.MinInt64},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Unix(0, math.MaxInt64), math.MaxInt64}, // 2262-04-11, the last second unixNano does not saturate
	} {
		if got := unixNano(c.t); got != c.want {
			t.Errorf("unixNano(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	if addSat(math.MaxInt64-1, 5) != math.MaxInt64 || addSat(1, 2) != 3 {
		t.Error("addSat")
	}
}

// TestMethodAllowed holds methodAllowed to its reading with strings.Cut
// over every method list the engine's routes use.
func TestMethodAllowed(t *testing.T) {
	byCut := func(methods, m string) bool {
		for methods != "" {
			var x string
			x, methods, _ = strings.Cut(methods, ", ")
			if x == m {
				return true
			}
		}
		return false
	}
	for _, e := range []*Engine{newTestEngine(t, "guard"), newTestEngine(t, "as-dev")} {
		lists := map[string]bool{"GET, HEAD": true, "POST": true, "GET": true, "GET, POST": true}
		for _, rt := range e.routes {
			lists[rt.methods] = true
		}
		for list := range lists {
			for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "", "GE", "GET,", "HEAD ", "get", " HEAD", "GET, HEAD"} {
				if got, want := methodAllowed(list, m), byCut(list, m); got != want {
					t.Errorf("methodAllowed(%q, %q) = %v, want %v", list, m, got, want)
				}
			}
		}
	}
}
