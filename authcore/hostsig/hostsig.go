// Package hostsig encodes the arguments and decodes the results of
// Envoy's signature foreign functions, verify_signature and sign
// (source/extensions/common/wasm/foreign.cc; messages in
// source/extensions/common/wasm/ext/verify_signature.proto and sign.proto),
// called through proxy_call_foreign_function. It is pure Go (protobuf wire
// format through protowire, no reflection) so the filter can use it in
// wasm and tests natively.
package hostsig

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// Function names as Envoy registers them.
const (
	Verify = "verify_signature"
	Sign   = "sign"
)

// VerifyArgs encodes VerifySignatureArguments { string hash_function = 1;
// bytes public_key = 2 (DER SubjectPublicKeyInfo); bytes signature = 3;
// bytes text = 4; }.
func VerifyArgs(hash string, spki, sig, text []byte) []byte {
	b := make([]byte, 0, 16+len(hash)+len(spki)+len(sig)+len(text))
	b = appendField(b, 1, []byte(hash))
	b = appendField(b, 2, spki)
	b = appendField(b, 3, sig)
	return appendField(b, 4, text)
}

// SignArgs encodes SignArguments { string hash_function = 1; bytes
// private_key = 2 (DER PKCS#8); bytes text = 3; }.
func SignArgs(hash string, pkcs8, text []byte) []byte {
	b := make([]byte, 0, 12+len(hash)+len(pkcs8)+len(text))
	b = appendField(b, 1, []byte(hash))
	b = appendField(b, 2, pkcs8)
	return appendField(b, 3, text)
}

func appendField(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 { // proto3 does not write empty strings and bytes
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// ErrMalformed is returned for a result message that does not parse.
var ErrMalformed = errors.New("hostsig: malformed result message")

// HostError is a failure the host reported in a result's error field.
type HostError struct{ Msg string }

func (e *HostError) Error() string { return "hostsig: host: " + e.Msg }

// ParseVerifyResult decodes VerifySignatureResult { bool result = 1;
// string error = 2; }: valid, or the host's reason why not.
func ParseVerifyResult(b []byte) (valid bool, reason string, err error) {
	f, err := parse(b)
	if err != nil {
		return false, "", err
	}
	return f.flag, string(f.bytes[2]), nil
}

// ParseSignResult decodes SignResult { bool result = 1; bytes signature =
// 2; string error = 3; }. A result of false is a *HostError.
func ParseSignResult(b []byte) ([]byte, error) {
	f, err := parse(b)
	if err != nil {
		return nil, err
	}
	if !f.flag {
		return nil, &HostError{Msg: string(f.bytes[3])}
	}
	if len(f.bytes[2]) == 0 {
		return nil, ErrMalformed
	}
	return f.bytes[2], nil
}

type fields struct {
	flag  bool
	bytes [4][]byte // by field number 2 and 3
}

// parse reads field 1 as a bool and fields 2 and 3 as bytes; other fields
// are skipped as unknown.
func parse(b []byte) (fields, error) {
	var f fields
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, ErrMalformed
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, ErrMalformed
			}
			f.flag, b = v != 0, b[n:]
		case (num == 2 || num == 3) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, ErrMalformed
			}
			f.bytes[num], b = v, b[n:]
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f, ErrMalformed
			}
			b = b[n:]
		}
	}
	return f, nil
}
