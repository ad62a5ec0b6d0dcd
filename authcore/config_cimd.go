package authcore

import "github.com/tidwall/gjson"

// CIMDConfig configures Client ID Metadata Document support.
type CIMDConfig struct{}

// cimdConfig parses the "cimd" object.
func (p *cfgParser) cimdConfig(path string, v gjson.Result, dst *CIMDConfig) {
	p.object(path, v, map[string]func(string, gjson.Result){})
}

// validateCIMD checks what spans the CIMD configuration and the rest.
func (p *cfgParser) validateCIMD(c *Config) {}
