package netguard

import (
	"net/netip"
	"strings"
	"testing"
)

// TestSpecialUse: each refused range, at its edges, with the reason it
// must give; and the public neighbours that must pass.
func TestSpecialUse(t *testing.T) {
	bad := []struct{ addr, reason string }{
		// IPv4 (RFC 6890 and the IANA registry)
		{"0.0.0.0", "this network"},
		{"0.255.255.255", "this network"},
		{"10.0.0.0", "private-use (10.0.0.0/8)"},
		{"10.255.255.255", "private-use (10.0.0.0/8)"},
		{"100.64.0.0", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"100.100.100.200", "Alibaba"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"169.254.0.1", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"168.63.129.16", "Azure WireServer"},
		{"172.16.0.0", "private-use (172.16.0.0/12)"},
		{"172.31.255.255", "private-use (172.16.0.0/12)"},
		{"192.0.0.1", "IETF protocol assignments"},
		{"192.0.0.192", "Oracle"},
		{"192.0.2.1", "TEST-NET-1"},
		{"192.88.99.1", "6to4 relay"},
		{"192.168.0.1", "private-use (192.168.0.0/16)"},
		{"192.168.255.255", "private-use (192.168.0.0/16)"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.1", "TEST-NET-2"},
		{"203.0.113.1", "TEST-NET-3"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.255", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		{"255.255.255.255", "limited broadcast"},
		// IPv6
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::ffff:10.0.0.1", "IPv4-mapped IPv6 address (::ffff:0:0/96) embedding 10.0.0.1: private-use"},
		{"::ffff:127.0.0.1", "embedding 127.0.0.1: loopback"},
		{"::ffff:169.254.169.254", "embedding 169.254.169.254: cloud metadata"},
		{"::ffff:8.8.8.8", "IPv4-mapped IPv6 address (::ffff:0:0/96) embedding 8.8.8.8"},
		{"::10.0.0.1", "IPv4-compatible"},
		{"64:ff9b::a00:1", "NAT64 well-known prefix (64:ff9b::/96) embedding 10.0.0.1: private-use"},
		{"64:ff9b::7f00:1", "embedding 127.0.0.1: loopback"},
		{"64:ff9b::808:808", "NAT64 well-known prefix (64:ff9b::/96) embedding 8.8.8.8"},
		{"64:ff9b:1:a00:0:100::", "local-use NAT64 prefix (64:ff9b:1::/48) embedding 10.0.0.1: private-use"},
		{"100::1", "discard-only"},
		{"2001::1", "Teredo"},
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo (2001::/32) embedding 10.0.0.1: private-use"},
		{"2001:2::1", "IETF protocol assignments"},
		{"2001:10::1", "IETF protocol assignments"},
		{"2001:db8::1", "documentation (2001:db8::/32)"},
		{"2002:a00:1::1", "6to4 (2002::/16) embedding 10.0.0.1: private-use"},
		{"2002:a9fe:a9fe::1", "embedding 169.254.169.254: cloud metadata"},
		{"2002:808:808::1", "6to4 (2002::/16) embedding 8.8.8.8"},
		{"3fff::1", "documentation (3fff::/20)"},
		{"fc00::1", "unique local"},
		{"fdff:ffff::1", "unique local"},
		{"fd00:ec2::254", "cloud metadata service (fd00:ec2::254)"},
		{"fe80::1", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"5f00::1", "not global unicast"},
		{"4000::1", "not global unicast"},
		{"1::1", "not global unicast"},
	}
	for _, tc := range bad {
		ip := netip.MustParseAddr(tc.addr)
		reason, isBad := SpecialUse(ip)
		if !isBad {
			t.Errorf("%s allowed", tc.addr)
			continue
		}
		if !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: reason %q, want %q", tc.addr, reason, tc.reason)
		}
	}
	good := []string{
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
		"126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255",
		"172.32.0.0", "192.0.1.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "168.63.129.17", "93.184.215.14",
		"2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1", "2001:200::1",
		"2003::1", "3ffe::1", "2400:cb00::1",
	}
	for _, s := range good {
		if reason, isBad := SpecialUse(netip.MustParseAddr(s)); isBad {
			t.Errorf("%s refused: %s", s, reason)
		}
	}
	// Zoned and invalid addresses are refused.
	if reason, isBad := SpecialUse(netip.MustParseAddr("2606:4700::1%eth0")); !isBad || !strings.Contains(reason, "zoned") {
		t.Errorf("zoned address: %v %q", isBad, reason)
	}
	if reason, isBad := SpecialUse(netip.Addr{}); !isBad || reason != "invalid address" {
		t.Errorf("invalid address: %v %q", isBad, reason)
	}
}

// TestAddrAllowedLoopbackException: the test-only switch lets exactly
// 127.0.0.0/8 and ::1 through, never their mapped or translated forms, and
// nothing else.
func TestAddrAllowedLoopbackException(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.1.2.3", "::1"} {
		ip := netip.MustParseAddr(s)
		if _, ok, _ := AddrAllowed(ip, false); ok {
			t.Errorf("%s allowed without the exception", s)
		}
		if _, ok, loop := AddrAllowed(ip, true); !ok || !loop {
			t.Errorf("%s: ok=%v loopback=%v with the exception", s, ok, loop)
		}
	}
	for _, s := range []string{"::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "10.0.0.1", "169.254.169.254", "0.0.0.0", "::"} {
		if _, ok, _ := AddrAllowed(netip.MustParseAddr(s), true); ok {
			t.Errorf("%s allowed by the loopback exception", s)
		}
	}
	if _, ok, loop := AddrAllowed(netip.MustParseAddr("8.8.8.8"), true); !ok || loop {
		t.Error("public address: want ok, not loopback")
	}
}

// FuzzSpecialUse cross-checks the judge with the standard library's
// classification: anything the library calls private, loopback,
// link-local, multicast or unspecified must be refused, and an IPv4
// address must get the same verdict in every IPv6 form that embeds it.
func FuzzSpecialUse(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1})
	f.Add([]byte{8, 8, 8, 8})
	f.Add(netip.MustParseAddr("2606:4700::1").AsSlice())
	f.Add(netip.MustParseAddr("fe80::1").AsSlice())
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		_, bad := SpecialUse(ip)
		if (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
			ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() || !ip.IsGlobalUnicast()) && !bad {
			t.Fatalf("%s allowed", ip)
		}
		if ip.Is4() {
			if _, bad := SpecialUse(netip.AddrFrom16(ip.As16())); !bad {
				t.Fatalf("mapped form of %s allowed", ip)
			}
		}
	})
}

// cidrOf reads the range a reason names: the last parenthesized address or
// prefix in it ("(10.0.0.0/8)", "(169.254.169.254)", "(::1)").
func cidrOf(t *testing.T, why string) netip.Prefix {
	t.Helper()
	open := strings.LastIndexByte(why, '(')
	text := strings.TrimSuffix(why[open+1:], ")")
	if !strings.Contains(text, "/") {
		a, err := netip.ParseAddr(text)
		if err != nil {
			t.Fatalf("reason %q names no address: %v", why, err)
		}
		return netip.PrefixFrom(a, a.BitLen())
	}
	p, err := netip.ParsePrefix(text)
	if err != nil {
		t.Fatalf("reason %q names no prefix: %v", why, err)
	}
	return p
}

// TestRangeTables holds the tables' bytes to the ranges their reasons name.
func TestRangeTables(t *testing.T) {
	for _, tab := range [][]addrRange{v4Ranges[:], v6Ranges[:]} {
		for _, r := range tab {
			p := cidrOf(t, r.why)
			var want [16]byte
			copy(want[:], p.Addr().AsSlice())
			if want != r.addr || p.Bits() != int(r.bits) || p.Addr().Is4() != (len(tab) == len(v4Ranges)) {
				t.Errorf("%q: table has %x/%d", r.why, r.addr, r.bits)
			}
		}
	}
}

// FuzzSpecialUseAgainstPrefixes holds SpecialUse to the same tables read
// by netip: the first range whose parsed prefix contains the address gives
// the verdict and the start of the reason.
func FuzzSpecialUseAgainstPrefixes(f *testing.F) {
	f.Add([]byte{100, 100, 100, 200})
	f.Add(netip.MustParseAddr("2002:a00:1::").AsSlice())
	f.Add(netip.MustParseAddr("2001:0:4136:e378:8000:63bf:f5ff:fffe").AsSlice())
	f.Add(netip.MustParseAddr("64:ff9b:1:a00:1:100::").AsSlice())
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		tab := v6Ranges[:]
		if ip.Is4() {
			tab = v4Ranges[:]
		}
		want, wantBad := "", false
		if ip.Is6() && !netip.MustParsePrefix("2000::/3").Contains(ip) {
			want, wantBad = "not global unicast (outside 2000::/3)", true
		}
		for _, r := range tab {
			if cidrOf(t, r.why).Contains(ip) {
				want, wantBad = r.why, true
				break
			}
		}
		got, bad := SpecialUse(ip)
		if bad != wantBad || !strings.HasPrefix(got, want) {
			t.Fatalf("SpecialUse(%s) = %q, %v; the tables read by netip give %q, %v", ip, got, bad, want, wantBad)
		}
	})
}
