package authcore

import "github.com/tidwall/gjson"

// ASConfig configures the authorization server side of mcpgate.
type ASConfig struct{}

// asConfig parses the "authorization_server" object.
func (p *cfgParser) asConfig(path string, v gjson.Result, dst *ASConfig) {
	p.object(path, v, map[string]func(string, gjson.Result){})
}

// validateAS checks what spans the AS configuration and the rest.
func (p *cfgParser) validateAS(c *Config) {}
