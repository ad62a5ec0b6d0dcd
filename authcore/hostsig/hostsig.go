// Package hostsig encodes the arguments and decodes the results of
// Envoy's signature foreign functions, verify_signature and sign
// (source/extensions/common/wasm/foreign.cc; messages in
// source/extensions/common/wasm/ext/verify_signature.proto and sign.proto),
// called through proxy_call_foreign_function. It is pure Go (the protobuf
// wire format written and read here, no reflection) so the filter can use
// it in wasm and tests natively. It does not use protowire: that package's
// initialization formats its errors with fmt, which the filter otherwise
// does not link (issue 14); the tests hold this reading to protowire's.
package hostsig

import "errors"

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

// appendField writes one length-delimited field (wire type 2).
//
// Not inlined: a copy at each call site made the wasm module larger.
//
//go:noinline
func appendField(b []byte, num uint64, v []byte) []byte {
	if len(v) == 0 { // proto3 does not write empty strings and bytes
		return b
	}
	b = appendVarint(b, num<<3|wireBytes)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// Wire types of the protobuf encoding ("Message Structure" of
// https://protobuf.dev/programming-guides/encoding/). Groups (3 and 4),
// deprecated and never in Envoy's result messages, are refused.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// appendVarint appends v as a base-128 varint, low groups first.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// consumeVarint reads a varint of at most 10 bytes whose value fits in 64
// bits, returning its length, or -1.
func consumeVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
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
		key, n := consumeVarint(b)
		// Field numbers run from 1; like protowire, numbers above 2^29-1,
		// the largest a .proto may declare, are read up to 2^31-1.
		if n < 0 || key>>3 < 1 || key>>3 > 1<<31-1 {
			return f, ErrMalformed
		}
		b = b[n:]
		num, typ := key>>3, key&7
		var v []byte
		switch typ {
		case wireVarint:
			var x uint64
			if x, n = consumeVarint(b); n < 0 {
				return f, ErrMalformed
			}
			if num == 1 {
				f.flag = x != 0
			}
		case wireFixed64, wireFixed32:
			if n = 8; typ == wireFixed32 {
				n = 4
			}
			if len(b) < n {
				return f, ErrMalformed
			}
		case wireBytes:
			m, k := consumeVarint(b)
			if k < 0 || m > uint64(len(b)-k) {
				return f, ErrMalformed
			}
			v, n = b[k:k+int(m)], k+int(m)
			if num == 2 || num == 3 {
				f.bytes[num] = v
			}
		default:
			return f, ErrMalformed
		}
		b = b[n:]
	}
	return f, nil
}
