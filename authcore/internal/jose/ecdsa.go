package jose

import (
	"errors"

	"filippo.io/bigmod"
)

// errECDSAForm: an ECDSA signature is not in the strict form expected.
var errECDSAForm = errors.New("jose: malformed ECDSA signature")

// ECDSAToDER converts the JWS form of an ECDSA signature (R || S, each
// exactly the curve size, RFC 7518 §3.4) for alg (ES256 or ES384) into the
// ASN.1 DER form "ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }"
// (RFC 3279 §2.2.3) that X.509 and most crypto APIs take. R and S must lie
// in [1, n-1], n the group order.
func ECDSAToDER(alg string, sig []byte) ([]byte, error) {
	c := curveOf(alg)
	if c == nil {
		return nil, ErrAlgorithm
	}
	size := c.size
	if len(sig) != 2*size {
		return nil, errECDSAForm
	}
	r, s := sig[:size], sig[size:]
	if !inOrder(r, c.n) || !inOrder(s, c.n) {
		return nil, errECDSAForm
	}
	ri, si := derInteger(r), derInteger(s)
	out := make([]byte, 0, 2+len(ri)+len(si))
	out = append(out, 0x30, byte(len(ri)+len(si))) // at most 2*(2+49) < 128: short form
	out = append(out, ri...)
	return append(out, si...), nil
}

// ECDSAFromDER converts a DER ECDSA-Sig-Value (RFC 3279 §2.2.3) into the
// JWS R || S form for alg (ES256 or ES384). The encoding must be strict
// DER: definite short lengths, minimal positive INTEGERs, nothing after
// the SEQUENCE; R and S must lie in [1, n-1].
func ECDSAFromDER(alg string, der []byte) ([]byte, error) {
	c := curveOf(alg)
	if c == nil {
		return nil, ErrAlgorithm
	}
	size := c.size
	if len(der) < 2 || der[0] != 0x30 || der[1] >= 0x80 || int(der[1]) != len(der)-2 {
		return nil, errECDSAForm
	}
	body := der[2:]
	out := make([]byte, 2*size)
	for i := range 2 {
		if len(body) < 2 || body[0] != 0x02 || body[1] >= 0x80 || int(body[1]) > len(body)-2 {
			return nil, errECDSAForm
		}
		v := body[2 : 2+int(body[1])]
		body = body[2+len(v):]
		switch {
		case len(v) == 0 || v[0]&0x80 != 0: // empty or negative
			return nil, errECDSAForm
		case v[0] == 0 && (len(v) == 1 || v[1]&0x80 == 0): // not minimal
			return nil, errECDSAForm
		case v[0] == 0:
			v = v[1:]
		}
		if len(v) > size || !inOrder(v, c.n) {
			return nil, errECDSAForm
		}
		copy(out[(i+1)*size-len(v):(i+1)*size], v)
	}
	if len(body) != 0 {
		return nil, errECDSAForm
	}
	return out, nil
}

// inOrder reports whether the big-endian b is in [1, n-1].
func inOrder(b []byte, n *bigmod.Modulus) bool {
	v, err := bigmod.NewNat().SetBytes(b, n)
	return err == nil && v.IsZero() == 0
}

// derInteger encodes the unsigned big-endian b as a minimal DER INTEGER.
func derInteger(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	out := []byte{0x02, 0}
	if b[0]&0x80 != 0 {
		out = append(out, 0)
	}
	out = append(out, b...)
	out[1] = byte(len(out) - 2)
	return out
}
