package main

import (
	"errors"

	"github.com/mcpgate/mcpgate/authcore"
	"github.com/mcpgate/mcpgate/authcore/hostsig"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// hostCrypto is authcore.HostCrypto through Envoy's verify_signature and
// sign foreign functions (BoringSSL at native speed; a signature in Go in
// wasm costs about a millisecond). Which of them the host has is decided
// once, at start (probeHostCrypto); a function the host lacks answers an
// error, and authcore then computes the signature in Go.
type hostCrypto struct {
	verify, sign bool
}

var _ authcore.HostCrypto = (*hostCrypto)(nil)

// probeHostCrypto asks the host for each function with empty arguments:
// Envoy answers BadArgument (no key given) when it has the function and
// NotFound when it has not.
func probeHostCrypto() *hostCrypto {
	has := func(name string) bool {
		_, err := callForeignFunction(name, nil)
		return !errors.Is(err, types.ErrorStatusNotFound)
	}
	return &hostCrypto{verify: has(hostsig.Verify), sign: has(hostsig.Sign)}
}

// describe is the start log line's words for where signatures are computed.
func (c *hostCrypto) describe() string {
	where := func(on bool) string {
		if on {
			return "by the host"
		}
		return "in wasm (the host has no such function)"
	}
	return "RSA/ECDSA signatures verified " + where(c.verify) + ", signed " + where(c.sign) + "; EdDSA and PS256 in wasm"
}

// VerifySignature implements authcore.HostCrypto.
func (c *hostCrypto) VerifySignature(hash string, spki, sig, text []byte) (bool, error) {
	if !c.verify {
		return false, authcore.ErrHostCryptoUnsupported
	}
	res, err := callForeignFunction(hostsig.Verify, hostsig.VerifyArgs(hash, spki, sig, text))
	if err != nil {
		return false, err
	}
	valid, _, err := hostsig.ParseVerifyResult(res)
	return valid, err
}

// Sign implements authcore.HostCrypto.
func (c *hostCrypto) Sign(hash string, pkcs8, text []byte) ([]byte, error) {
	if !c.sign {
		return nil, authcore.ErrHostCryptoUnsupported
	}
	res, err := callForeignFunction(hostsig.Sign, hostsig.SignArgs(hash, pkcs8, text))
	if err != nil {
		return nil, err
	}
	return hostsig.ParseSignResult(res)
}
