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

// addrRange is one refused range and why. The prefix is written out as
// bytes, not parsed at each call: 16 address bytes (IPv4 in the first four)
// and the prefix length; TestRangeTables holds each to the CIDR its reason
// names.
type addrRange struct {
	addr [16]byte
	bits uint8
	why  string
	// embed, for the IPv6 forms that embed an IPv4 address, says where the
	// embedded address is.
	embed uint8
}

// Where an IPv6 address embeds an IPv4 address.
const (
	embedNone   = iota
	embedLow32  // the last four bytes
	embedNAT64L // RFC 6052 §2.2: with a /48 prefix, bits 64-71 are the u octet
	embed6to4   // bytes 2 to 5
	embedTeredo // RFC 4380 §4: the last four bytes, inverted
)

// v4Ranges, most specific first: the first match gives the reason.
var v4Ranges = [...]addrRange{
	{addr: [16]byte{169, 254, 169, 254}, bits: 32, why: "cloud metadata service (169.254.169.254)"},
	{addr: [16]byte{168, 63, 129, 16}, bits: 32, why: "Azure WireServer (168.63.129.16)"},
	{addr: [16]byte{100, 100, 100, 200}, bits: 32, why: "Alibaba Cloud metadata service (100.100.100.200)"},
	{addr: [16]byte{192, 0, 0, 192}, bits: 32, why: "Oracle Cloud metadata service (192.0.0.192)"},
	{addr: [16]byte{255, 255, 255, 255}, bits: 32, why: "limited broadcast (255.255.255.255/32)"},
	{addr: [16]byte{0}, bits: 8, why: "\"this network\" (0.0.0.0/8)"},
	{addr: [16]byte{10}, bits: 8, why: "private-use (10.0.0.0/8)"},
	{addr: [16]byte{100, 64}, bits: 10, why: "shared address space, carrier-grade NAT (100.64.0.0/10)"},
	{addr: [16]byte{127}, bits: 8, why: "loopback (127.0.0.0/8)"},
	{addr: [16]byte{169, 254}, bits: 16, why: "link-local (169.254.0.0/16)"},
	{addr: [16]byte{172, 16}, bits: 12, why: "private-use (172.16.0.0/12)"},
	{addr: [16]byte{192, 0, 0}, bits: 24, why: "IETF protocol assignments (192.0.0.0/24)"},
	{addr: [16]byte{192, 0, 2}, bits: 24, why: "documentation, TEST-NET-1 (192.0.2.0/24)"},
	{addr: [16]byte{192, 88, 99}, bits: 24, why: "6to4 relay anycast (192.88.99.0/24)"},
	{addr: [16]byte{192, 168}, bits: 16, why: "private-use (192.168.0.0/16)"},
	{addr: [16]byte{198, 18}, bits: 15, why: "benchmarking (198.18.0.0/15)"},
	{addr: [16]byte{198, 51, 100}, bits: 24, why: "documentation, TEST-NET-2 (198.51.100.0/24)"},
	{addr: [16]byte{203, 0, 113}, bits: 24, why: "documentation, TEST-NET-3 (203.0.113.0/24)"},
	{addr: [16]byte{224}, bits: 4, why: "multicast (224.0.0.0/4)"},
	{addr: [16]byte{240}, bits: 4, why: "reserved (240.0.0.0/4)"},
}

// v6Ranges: first the IPv6 forms that embed an IPv4 address, refused
// whole with the embedded address named, then the other special blocks,
// most specific first.
var v6Ranges = [...]addrRange{
	{addr: [16]byte{10: 0xff, 11: 0xff}, bits: 96, why: "IPv4-mapped IPv6 address (::ffff:0:0/96)", embed: embedLow32},
	{addr: [16]byte{0, 0x64, 0xff, 0x9b}, bits: 96, why: "NAT64 well-known prefix (64:ff9b::/96)", embed: embedLow32},
	{addr: [16]byte{0, 0x64, 0xff, 0x9b, 0, 1}, bits: 48, why: "local-use NAT64 prefix (64:ff9b:1::/48)", embed: embedNAT64L},
	{addr: [16]byte{0x20, 0x02}, bits: 16, why: "6to4 (2002::/16)", embed: embed6to4},
	{addr: [16]byte{0x20, 0x01}, bits: 32, why: "Teredo (2001::/32)", embed: embedTeredo},
	{addr: [16]byte{}, bits: 128, why: "unspecified address (::)"},
	{addr: [16]byte{15: 1}, bits: 128, why: "loopback (::1)"},
	{addr: [16]byte{0xfd, 0, 0x0e, 0xc2, 14: 0x02, 15: 0x54}, bits: 128, why: "cloud metadata service (fd00:ec2::254)"},
	{addr: [16]byte{}, bits: 96, why: "IPv4-compatible IPv6 address, deprecated (::/96)"},
	{addr: [16]byte{0x01}, bits: 64, why: "discard-only (100::/64)"},
	{addr: [16]byte{0x20, 0x01, 0x0d, 0xb8}, bits: 32, why: "documentation (2001:db8::/32)"},
	{addr: [16]byte{0x20, 0x01}, bits: 23, why: "IETF protocol assignments (2001::/23)"},
	{addr: [16]byte{0x3f, 0xff}, bits: 20, why: "documentation (3fff::/20)"},
	{addr: [16]byte{0xfc}, bits: 7, why: "unique local (fc00::/7)"},
	{addr: [16]byte{0xfe, 0x80}, bits: 10, why: "link-local (fe80::/10)"},
	{addr: [16]byte{0xfe, 0xc0}, bits: 10, why: "site-local, deprecated (fec0::/10)"},
	{addr: [16]byte{0xff}, bits: 8, why: "multicast (ff00::/8)"},
}

// contains reports whether the first r.bits bits of b equal r.addr's.
func (r *addrRange) contains(b []byte) bool {
	n := int(r.bits)
	for i := 0; n > 0; i++ {
		mask := byte(0xff)
		if n < 8 {
			mask <<= 8 - n
		}
		if (b[i]^r.addr[i])&mask != 0 {
			return false
		}
		n -= 8
	}
	return true
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
		a := ip.As4()
		return specialUse4(a[:])
	}
	return specialUse6(ip.As16())
}

func specialUse4(a []byte) (string, bool) {
	for i := range v4Ranges {
		if v4Ranges[i].contains(a) {
			return v4Ranges[i].why, true
		}
	}
	return "", false
}

func specialUse6(b [16]byte) (string, bool) {
	for i := range v6Ranges {
		r := &v6Ranges[i]
		if !r.contains(b[:]) {
			continue
		}
		var inner [4]byte
		switch r.embed {
		case embedNone:
			return r.why, true
		case embedLow32:
			inner = [4]byte(b[12:])
		case embedNAT64L:
			inner = [4]byte{b[6], b[7], b[9], b[10]}
		case embed6to4:
			inner = [4]byte(b[2:])
		case embedTeredo:
			inner = [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		}
		why := r.why + " embedding " + netip.AddrFrom4(inner).String()
		if reason, bad := specialUse4(inner[:]); bad {
			why += ": " + reason
		}
		return why, true
	}
	if b[0]&0xe0 != 0x20 {
		return "not global unicast (outside 2000::/3)", true
	}
	return "", false
}

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
