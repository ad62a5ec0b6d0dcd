// Package netguard holds mcpgate's egress rules as pure functions: which
// resolved addresses a document fetch may connect to (SSRF defence) and
// which URLs it may fetch at all. It imports only the standard library.
//
// mcpgate fetches client metadata documents from hosts chosen by whoever
// sends an authorization request, from inside the network Envoy runs in. An
// answer that points into that network (or at the machine itself, or at a
// cloud metadata service) must never be connected to. [SpecialUse] is the
// single judge; the fetcher applies it to every address in a DNS answer and
// refuses the fetch if any one is refused, then pins the connection to a
// vetted address so that a second resolution cannot change it.
//
// The rules follow the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890 and updates) and go further where a range is formally
// global but never hosts a public web server:
//
//   - IPv6 is allowed only inside global unicast 2000::/3, and not in the
//     special blocks within it (2001::/23, 2001:db8::/32, 2002::/16,
//     3fff::/20).
//   - Every IPv6 form that embeds an IPv4 address is refused as a whole,
//     whatever the embedded address: IPv4-mapped ::ffff:0:0/96,
//     IPv4-compatible ::/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
//     2002::/16, Teredo 2001::/32. A host that really serves documents has
//     an A record; following the embedded address would only ever be a way
//     around the IPv4 rules. The reason names the embedded address and its
//     own verdict, for the log.
//   - Cloud metadata endpoints are named: 169.254.169.254 (AWS, GCP, Azure,
//     OpenStack...), fd00:ec2::254 (AWS IPv6), 168.63.129.16 (Azure
//     WireServer, a public address reachable only from inside Azure),
//     100.100.100.200 (Alibaba, inside 100.64/10), 192.0.0.192 (Oracle,
//     inside 192.0.0/24).
package netguard

import "net/netip"

// addrRange is one refused range and why.
type addrRange struct {
	prefix netip.Prefix
	why    string
}

// SpecialUse reports whether ip must never be connected to, and why.
// Zoned and invalid addresses are refused.
func SpecialUse(ip netip.Addr) (reason string, bad bool) {
	switch {
	case !ip.IsValid():
		return "invalid address", true
	case ip.Zone() != "":
		return "scoped (zoned) address", true
	case ip.Is4():
		return specialUse4(ip)
	}
	return specialUse6(ip)
}

func specialUse4(ip netip.Addr) (string, bool) {
	// Most specific first: the first match gives the reason.
	ranges := [...]addrRange{
		{mustPrefix("169.254.169.254/32"), "cloud metadata service (169.254.169.254)"},
		{mustPrefix("168.63.129.16/32"), "Azure WireServer (168.63.129.16)"},
		{mustPrefix("100.100.100.200/32"), "Alibaba Cloud metadata service (100.100.100.200)"},
		{mustPrefix("192.0.0.192/32"), "Oracle Cloud metadata service (192.0.0.192)"},
		{mustPrefix("255.255.255.255/32"), "limited broadcast (255.255.255.255/32)"},
		{mustPrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
		{mustPrefix("10.0.0.0/8"), "private-use (10.0.0.0/8)"},
		{mustPrefix("100.64.0.0/10"), "shared address space, carrier-grade NAT (100.64.0.0/10)"},
		{mustPrefix("127.0.0.0/8"), "loopback (127.0.0.0/8)"},
		{mustPrefix("169.254.0.0/16"), "link-local (169.254.0.0/16)"},
		{mustPrefix("172.16.0.0/12"), "private-use (172.16.0.0/12)"},
		{mustPrefix("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"},
		{mustPrefix("192.0.2.0/24"), "documentation, TEST-NET-1 (192.0.2.0/24)"},
		{mustPrefix("192.88.99.0/24"), "6to4 relay anycast (192.88.99.0/24)"},
		{mustPrefix("192.168.0.0/16"), "private-use (192.168.0.0/16)"},
		{mustPrefix("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"},
		{mustPrefix("198.51.100.0/24"), "documentation, TEST-NET-2 (198.51.100.0/24)"},
		{mustPrefix("203.0.113.0/24"), "documentation, TEST-NET-3 (203.0.113.0/24)"},
		{mustPrefix("224.0.0.0/4"), "multicast (224.0.0.0/4)"},
		{mustPrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
	}
	for _, r := range ranges {
		if r.prefix.Contains(ip) {
			return r.why, true
		}
	}
	return "", false
}

func specialUse6(ip netip.Addr) (string, bool) {
	b := ip.As16()
	// IPv6 forms that embed an IPv4 address: refused whole, the embedded
	// address named.
	embeds := [...]struct {
		prefix netip.Prefix
		why    string
		v4     func([16]byte) netip.Addr
	}{
		{mustPrefix("::ffff:0:0/96"), "IPv4-mapped IPv6 address (::ffff:0:0/96)", func(b [16]byte) netip.Addr { return v4(b[12], b[13], b[14], b[15]) }},
		{mustPrefix("64:ff9b::/96"), "NAT64 well-known prefix (64:ff9b::/96)", func(b [16]byte) netip.Addr { return v4(b[12], b[13], b[14], b[15]) }},
		// RFC 6052 §2.2: with a /48 prefix, bits 64-71 are the u octet.
		{mustPrefix("64:ff9b:1::/48"), "local-use NAT64 prefix (64:ff9b:1::/48)", func(b [16]byte) netip.Addr { return v4(b[6], b[7], b[9], b[10]) }},
		{mustPrefix("2002::/16"), "6to4 (2002::/16)", func(b [16]byte) netip.Addr { return v4(b[2], b[3], b[4], b[5]) }},
		// RFC 4380 §4: the client address is stored inverted.
		{mustPrefix("2001::/32"), "Teredo (2001::/32)", func(b [16]byte) netip.Addr { return v4(^b[12], ^b[13], ^b[14], ^b[15]) }},
	}
	for _, e := range embeds {
		if e.prefix.Contains(ip) {
			inner := e.v4(b)
			why := e.why + " embedding " + inner.String()
			if r, bad := specialUse4(inner); bad {
				why += ": " + r
			}
			return why, true
		}
	}
	ranges := [...]addrRange{
		{mustPrefix("::/128"), "unspecified address (::)"},
		{mustPrefix("::1/128"), "loopback (::1)"},
		{mustPrefix("fd00:ec2::254/128"), "cloud metadata service (fd00:ec2::254)"},
		{mustPrefix("::/96"), "IPv4-compatible IPv6 address, deprecated (::/96)"},
		{mustPrefix("100::/64"), "discard-only (100::/64)"},
		{mustPrefix("2001:db8::/32"), "documentation (2001:db8::/32)"},
		{mustPrefix("2001::/23"), "IETF protocol assignments (2001::/23)"},
		{mustPrefix("3fff::/20"), "documentation (3fff::/20)"},
		{mustPrefix("fc00::/7"), "unique local (fc00::/7)"},
		{mustPrefix("fe80::/10"), "link-local (fe80::/10)"},
		{mustPrefix("fec0::/10"), "site-local, deprecated (fec0::/10)"},
		{mustPrefix("ff00::/8"), "multicast (ff00::/8)"},
	}
	for _, r := range ranges {
		if r.prefix.Contains(ip) {
			return r.why, true
		}
	}
	if !mustPrefix("2000::/3").Contains(ip) {
		return "not global unicast (outside 2000::/3)", true
	}
	return "", false
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func v4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }

// AddrAllowed applies [SpecialUse] with the test-only loopback exception
// (cimd.allow_loopback_for_tests): 127.0.0.0/8 and ::1 pass, nothing else.
// loopback reports that the exception was used, for a loud log line.
func AddrAllowed(ip netip.Addr, allowLoopback bool) (reason string, ok, loopback bool) {
	reason, bad := SpecialUse(ip)
	if !bad {
		return "", true, false
	}
	if allowLoopback && ip.Zone() == "" && (ip.Is4() && ip.IsLoopback() || ip == netip.IPv6Loopback()) {
		return reason, true, true
	}
	return reason, false, false
}
