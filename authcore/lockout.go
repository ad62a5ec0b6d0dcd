package authcore

import "net/netip"

// lockoutKey names the failed-authentication count of a client at the token
// and revocation endpoints (O21 §2.4.1: the authorization server "MUST
// protect the token endpoint against brute force attacks").
//
// Counting per client id alone would let anyone who knows a confidential
// client's id (it is not a secret) lock the legitimate client out by
// sending wrong secrets. The count is therefore kept per client id and
// source address: a guesser exhausts only its own allowance, and the client
// authenticating from its own address is unaffected. An IPv6 source counts
// per /64, the smallest block one host is usually given, so a guesser
// cannot get a fresh allowance from every address of its own block.
func lockoutKey(clientID, source string) string {
	a, err := netip.ParseAddrPort(source)
	var addr netip.Addr
	if err == nil {
		addr = a.Addr()
	} else if addr, err = netip.ParseAddr(source); err != nil {
		return clientID + "\x00" + source
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return clientID + "\x00" + p.String()
	}
	return clientID + "\x00" + addr.String()
}
