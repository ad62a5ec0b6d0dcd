package authcore

import (
	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

// Client ID Metadata Document URLs (CIMD draft §3): the syntax rules are
// [netguard.ParseURL]'s; the host and port policy of the configuration is
// applied here.
//
// isCIMDURL (authorize_cimd_hook.go) recognises a client metadata document
// URL by its "https://" prefix; vetURL then decides whether it is
// acceptable.

// cimdURLError names the rule a document URL broke ([netguard.URLError]).
type cimdURLError = netguard.URLError

// parseVettedURL checks and splits an https URL that mcpgate would fetch or
// show ([netguard.ParseURL]).
func parseVettedURL(s string, clientID bool) (*netguard.URL, error) {
	return netguard.ParseURL(s, clientID)
}

// hostDenied returns the deny_hosts pattern host matches, or "".
func (c *CIMDConfig) hostDenied(host string) string {
	for _, p := range c.DenyHosts {
		if netguard.HostMatch(p, host) {
			return p
		}
	}
	return ""
}

// hostAllowed reports whether allow_hosts is empty or host matches it.
func (c *CIMDConfig) hostAllowed(host string) bool {
	if len(c.AllowHosts) == 0 {
		return true
	}
	for _, p := range c.AllowHosts {
		if netguard.HostMatch(p, host) {
			return true
		}
	}
	return false
}

// vetURL applies the syntax rules and the configured host and port policy
// to a URL mcpgate is about to fetch. clientID selects the client ID rules
// ([netguard.ParseURL]).
func (c *CIMDConfig) vetURL(s string, clientID bool) (*netguard.URL, error) {
	u, err := netguard.ParseURL(s, clientID)
	if err != nil {
		return nil, err
	}
	if c.hostDenied(u.Host) != "" {
		return nil, netguard.RuleError(netguard.RuleHostDenied, "documents from this host are not accepted")
	}
	if !c.hostAllowed(u.Host) {
		return nil, netguard.RuleError(netguard.RuleHostNotAllowed, "documents from this host are not accepted")
	}
	if len(c.AllowedPorts) > 0 {
		ok := false
		for _, p := range c.AllowedPorts {
			ok = ok || p == u.Port
		}
		if !ok {
			return nil, netguard.RuleError(netguard.RulePortNotAllowed, "documents are not accepted from port "+itoa(u.Port))
		}
	}
	return u, nil
}
