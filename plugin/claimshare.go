package main

import (
	"github.com/mcpgate/mcpgate/authcore"
)

// tokenShare is authcore.TokenShare on proxy-wasm shared data, which all
// VMs (Envoy worker threads) of the plugin's vm_id see: a token one worker
// verified is not verified again by the others. authcore bounds the keys
// (a fixed number of slots) and checks each record against the full
// token's hash and expiry.
type tokenShare struct{}

var _ authcore.TokenShare = tokenShare{}

// Get implements authcore.TokenShare.
func (tokenShare) Get(key string) ([]byte, bool) {
	v, _, err := getSharedData(key)
	return v, err == nil
}

// Set implements authcore.TokenShare; a failed write only means the token
// is verified again elsewhere.
func (tokenShare) Set(key string, value []byte) {
	_ = setSharedData(key, value, 0)
}
