package authcore

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiterPerKey(t *testing.T) {
	l := newLimiter(2, time.Minute, 10, 0)
	now := time.Unix(1000, 0)
	first, second, third := l.allow("a", now), l.allow("a", now), l.allow("a", now)
	if !first || !second || third {
		t.Fatal("per-key limit of 2 not applied")
	}
	if !l.exceeded("a", now) || l.exceeded("b", now) {
		t.Fatal("exceeded")
	}
	if !l.allow("a", now.Add(time.Minute)) {
		t.Fatal("a new window did not start")
	}
}

// TestLimiterFullTableEvicts: once maxKeys sources filled the table within
// one window, a newcomer is still admitted (an entry is evicted) instead of
// everyone new being refused, and the table never grows past maxKeys.
func TestLimiterFullTableEvicts(t *testing.T) {
	l := newLimiter(1, time.Minute, 100, 0)
	now := time.Unix(1000, 0)
	for i := 0; i < 100; i++ {
		if !l.allow("flood-"+strconv.Itoa(i), now) {
			t.Fatalf("source %d refused", i)
		}
	}
	for i := 0; i < 1000; i++ {
		if !l.allow("new-"+strconv.Itoa(i), now.Add(time.Second)) {
			t.Fatalf("newcomer %d refused with a full table", i)
		}
		if len(l.buckets) > 100 {
			t.Fatalf("table grew to %d", len(l.buckets))
		}
	}
}

// TestLimiterGlobalBackstop: however many keys, at most globalMax events
// per window.
func TestLimiterGlobalBackstop(t *testing.T) {
	l := newLimiter(1, time.Minute, 10, 25)
	now := time.Unix(1000, 0)
	n := 0
	for i := 0; i < 100; i++ {
		if l.allow(strconv.Itoa(i), now) {
			n++
		}
	}
	if n != 25 {
		t.Fatalf("%d allowed, want the backstop of 25", n)
	}
	if !l.allow("fresh", now.Add(time.Minute)) {
		t.Fatal("backstop not reset in the next window")
	}
}

// TestSourceKeyIPv6Prefix: one IPv6 holder's /64 counts as one source.
func TestSourceKeyIPv6Prefix(t *testing.T) {
	a, b := sourceKey("[2001:db8:1:2::1]:5000"), sourceKey("[2001:db8:1:2:ffff:1:2:3]:6000")
	if a != b || a != "2001:db8:1:2::/64" {
		t.Fatalf("%q %q", a, b)
	}
	if sourceKey("[2001:db8:1:3::1]:1") == a {
		t.Fatal("another /64 shares the key")
	}
	if sourceKey("192.0.2.1:80") != "192.0.2.1" || sourceKey("[::ffff:192.0.2.1]:80") != "192.0.2.1" {
		t.Fatal("IPv4")
	}
}
