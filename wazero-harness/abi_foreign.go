package harness

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Envoy's foreign functions for signatures, as registered in Envoy's
// source/extensions/common/wasm/foreign.cc and computed by
// source/common/crypto/utility_impl.cc (BoringSSL EVP_DigestVerify and
// EVP_DigestSign with the key type's default padding: RSA PKCS#1 v1.5,
// ECDSA with DER-encoded signatures; Ed25519 and RSA-PSS keys cannot be
// used with a digest there). Arguments and results are protobuf messages
// (ext/verify_signature.proto, ext/sign.proto):
//
//	VerifySignatureArguments { string hash_function = 1; bytes public_key = 2;
//	                           bytes signature = 3; bytes text = 4; string public_key_pem = 5; }
//	VerifySignatureResult    { bool result = 1; string error = 2; }
//	SignArguments            { string hash_function = 1; bytes private_key = 2;
//	                           bytes text = 3; string private_key_pem = 4; }
//	SignResult               { bool result = 1; bytes signature = 2; string error = 3; }
//
// Status codes as Envoy's: BadArgument when the arguments do not parse or
// name no key or two keys; otherwise Ok with a result message whose error
// says why a verification or signing failed. An unknown function name is
// NotFound (proxy-wasm cpp-host call_foreign_function), and so are both
// functions when Options.NoSignatureFunctions emulates an Envoy without
// them.

// Foreign function names.
const (
	ForeignVerifySignature = "verify_signature"
	ForeignSign            = "sign"
)

// foreignCounts counts the calls of each signature function that it
// answered with a result (status Ok; a Host's, all VMs together).
type foreignCounts struct {
	verify, sign atomic.Int64
}

// ForeignCalls returns how many times the VMs of h called the named
// foreign function (ForeignVerifySignature or ForeignSign) and it answered
// with a result: calls refused with BadArgument (such as a probe with no
// key) are not counted.
func (h *Host) ForeignCalls(name string) int64 {
	switch name {
	case ForeignVerifySignature:
		return h.foreign.verify.Load()
	case ForeignSign:
		return h.foreign.sign.Load()
	}
	return 0
}

// proxyCallForeignFunction implements proxy_call_foreign_function(name_ptr,
// name_size, args_ptr, args_size, results_ptr_ptr, results_size_ptr). Like
// cpp-host, the result's address and size are written even when the
// function fails (then 0 and 0), and not at all when the pointers are 0.
func proxyCallForeignFunction(vm *VM, stack []uint64) uint32 {
	name, ok1 := vm.readString(u32(stack, 0), u32(stack, 1))
	args, ok2 := vm.readCopy(u32(stack, 2), u32(stack, 3))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	var result []byte
	var st uint32
	switch {
	case vm.h.opts.NoSignatureFunctions:
		return statusNotFound
	case name == ForeignVerifySignature:
		if result, st = foreignVerifySignature(args); st == statusOK {
			vm.h.foreign.verify.Add(1)
		}
	case name == ForeignSign:
		if result, st = foreignSign(args); st == statusOK {
			vm.h.foreign.sign.Add(1)
		}
	default:
		return statusNotFound
	}
	ptrPtr, sizePtr := u32(stack, 4), u32(stack, 5)
	if ptrPtr == 0 || sizePtr == 0 {
		return st
	}
	if rst := vm.returnBytes(result, ptrPtr, sizePtr); rst != statusOK {
		return rst
	}
	return st
}

// protoFields decodes a protobuf message into its last value per field
// number for the fields in want (wire type bytes; strings must be UTF-8,
// as proto3 requires). Fields of other numbers, or of a known number with
// another wire type, are skipped as unknown, like protobuf's C++ parser.
// ok is false when the message does not parse.
func protoFields(b []byte, want map[protowire.Number]bool) (map[protowire.Number][]byte, bool) {
	out := map[protowire.Number][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		isString, known := want[num]
		if known && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, false
			}
			if isString && !utf8.Valid(v) {
				return nil, false
			}
			out[num] = v
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
	}
	return out, true
}

// digest hashes text with the named function the way Envoy's
// getHashFunction names them (case-insensitive).
func digest(name string, text []byte) (crypto.Hash, []byte, bool) {
	var h crypto.Hash
	switch strings.ToLower(name) {
	case "sha1":
		s := sha1.Sum(text)
		return crypto.SHA1, s[:], true
	case "sha224":
		s := sha256.Sum224(text)
		return crypto.SHA224, s[:], true
	case "sha256":
		s := sha256.Sum256(text)
		return crypto.SHA256, s[:], true
	case "sha384":
		s := sha512.Sum384(text)
		return crypto.SHA384, s[:], true
	case "sha512":
		s := sha512.Sum512(text)
		return crypto.SHA512, s[:], true
	}
	return h, nil, false
}

// firstDER returns the first DER element of b, as BoringSSL's
// EVP_parse_public_key / EVP_parse_private_key read one element from a CBS
// and leave the rest.
func firstDER(b []byte) []byte {
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(b, &raw); err != nil {
		return nil
	}
	return raw.FullBytes
}

func foreignVerifySignature(args []byte) ([]byte, uint32) {
	f, ok := protoFields(args, map[protowire.Number]bool{1: true, 2: false, 3: false, 4: false, 5: true})
	if !ok {
		return nil, statusBadArgument
	}
	der, pemKey := f[2], f[5]
	if (len(der) > 0) == (len(pemKey) > 0) {
		return nil, statusBadArgument
	}
	var pub any
	if len(pemKey) > 0 {
		if block, _ := pem.Decode(pemKey); block != nil && block.Type == "PUBLIC KEY" {
			pub, _ = x509.ParsePKIXPublicKey(block.Bytes)
		}
	} else if el := firstDER(der); el != nil {
		pub, _ = x509.ParsePKIXPublicKey(el)
	}
	hash, sum, ok := digest(string(f[1]), f[4])
	if !ok {
		return verifyResult(false, string(f[1])+" is not supported."), statusOK
	}
	valid := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		valid = rsa.VerifyPKCS1v15(k, hash, sum, f[3]) == nil
	case *ecdsa.PublicKey:
		valid = ecdsa.VerifyASN1(k, sum, f[3])
	default: // no key, or a key EVP_DigestVerifyInit refuses with a digest
		return verifyResult(false, "Failed to initialize digest verify."), statusOK
	}
	if !valid {
		return verifyResult(false, "Failed to verify digest. Error code: 0"), statusOK
	}
	return verifyResult(true, ""), statusOK
}

func foreignSign(args []byte) ([]byte, uint32) {
	f, ok := protoFields(args, map[protowire.Number]bool{1: true, 2: false, 3: false, 4: true})
	if !ok {
		return nil, statusBadArgument
	}
	der, pemKey := f[2], f[4]
	if (len(der) > 0) == (len(pemKey) > 0) {
		return nil, statusBadArgument
	}
	var priv any
	if len(pemKey) > 0 {
		if block, _ := pem.Decode(pemKey); block != nil {
			switch block.Type {
			case "PRIVATE KEY":
				priv, _ = x509.ParsePKCS8PrivateKey(block.Bytes)
			case "EC PRIVATE KEY":
				priv, _ = x509.ParseECPrivateKey(block.Bytes)
			case "RSA PRIVATE KEY":
				priv, _ = x509.ParsePKCS1PrivateKey(block.Bytes)
			}
		}
	} else if el := firstDER(der); el != nil {
		priv, _ = x509.ParsePKCS8PrivateKey(el)
	}
	hash, sum, ok := digest(string(f[1]), f[3])
	if !ok {
		return signResult(nil, string(f[1])+" is not supported."), statusOK
	}
	var sig []byte
	var err error
	switch k := priv.(type) {
	case nil:
		return signResult(nil, "Invalid key type: private key required for signing operation."), statusOK
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, hash, sum)
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, sum)
	case ed25519.PrivateKey: // EVP_DigestSignInit refuses Ed25519 with a digest
		return signResult(nil, "Invalid private key: key data is corrupted or malformed."), statusOK
	default:
		return signResult(nil, "Invalid private key: key data is corrupted or malformed."), statusOK
	}
	if err != nil {
		return signResult(nil, "Failed to create signature."), statusOK
	}
	return signResult(sig, ""), statusOK
}

// verifyResult encodes a VerifySignatureResult (proto3: default values
// are not written).
func verifyResult(ok bool, errMsg string) []byte {
	var b []byte
	if ok {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if errMsg != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, errMsg)
	}
	return b
}

// signResult encodes a SignResult: the signature on success, else the
// error.
func signResult(sig []byte, errMsg string) []byte {
	var b []byte
	if sig != nil {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, sig)
	}
	if errMsg != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, errMsg)
	}
	return b
}

// CallSignatureFunction runs the named signature foreign function
// (ForeignVerifySignature or ForeignSign) on args as Envoy would, outside
// any VM: the result message and the proxy-wasm status (1 NotFound for
// another name, 2 BadArgument). For tests that compare a host-computed
// verdict with another.
func CallSignatureFunction(name string, args []byte) ([]byte, uint32) {
	switch name {
	case ForeignVerifySignature:
		return foreignVerifySignature(args)
	case ForeignSign:
		return foreignSign(args)
	}
	return nil, statusNotFound
}
