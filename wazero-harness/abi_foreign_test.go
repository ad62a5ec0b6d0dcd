package harness

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// protoMsg encodes fields (number -> bytes) as a protobuf message.
func protoMsg(fields ...any) []byte {
	var b []byte
	for i := 0; i < len(fields); i += 2 {
		b = protowire.AppendTag(b, protowire.Number(fields[i].(int)), protowire.BytesType)
		switch v := fields[i+1].(type) {
		case string:
			b = protowire.AppendString(b, v)
		case []byte:
			b = protowire.AppendBytes(b, v)
		}
	}
	return b
}

// decodeResult reads a VerifySignatureResult or SignResult.
func decodeResult(t *testing.T, b []byte, errField protowire.Number) (ok bool, sig []byte, msg string) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			ok, b = v == 1, b[n:]
		case typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if num == errField {
				msg = string(v)
			} else {
				sig = v
			}
			b = b[n:]
		default:
			t.Fatalf("unexpected field %d type %d", num, typ)
		}
	}
	return ok, sig, msg
}

func TestForeignSignatureFunctions(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	edPub, _ := x509.MarshalPKIXPublicKey(ed.Public())
	ecPriv, _ := x509.MarshalPKCS8PrivateKey(ec)
	rsaPriv, _ := x509.MarshalPKCS8PrivateKey(rk)
	edPriv, _ := x509.MarshalPKCS8PrivateKey(ed)
	text := []byte("header.payload")
	h := sha256.Sum256(text)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ec, h[:])
	rsaSig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, h[:])
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}))

	verify := []struct {
		name   string
		args   []byte
		status uint32
		ok     bool
		msg    string
	}{
		{"ECDSA DER key", protoMsg(1, "sha256", 2, ecPub, 3, ecSig, 4, text), statusOK, true, ""},
		{"ECDSA PEM key", protoMsg(1, "SHA256", 5, ecPEM, 3, ecSig, 4, text), statusOK, true, ""},
		{"RSA", protoMsg(1, "sha256", 2, rsaPub, 3, rsaSig, 4, text), statusOK, true, ""},
		{"wrong text", protoMsg(1, "sha256", 2, ecPub, 3, ecSig, 4, "other"), statusOK, false, "Failed to verify digest. Error code: 0"},
		{"wrong key", protoMsg(1, "sha256", 2, rsaPub, 3, ecSig, 4, text), statusOK, false, "Failed to verify digest. Error code: 0"},
		{"wrong hash", protoMsg(1, "sha384", 2, ecPub, 3, ecSig, 4, text), statusOK, false, "Failed to verify digest. Error code: 0"},
		{"unknown hash", protoMsg(1, "md5", 2, ecPub, 3, ecSig, 4, text), statusOK, false, "md5 is not supported."},
		{"Ed25519 key", protoMsg(1, "sha256", 2, edPub, 3, ecSig, 4, text), statusOK, false, "Failed to initialize digest verify."},
		{"garbage key", protoMsg(1, "sha256", 2, "xx", 3, ecSig, 4, text), statusOK, false, "Failed to initialize digest verify."},
		{"no key", protoMsg(1, "sha256", 3, ecSig, 4, text), statusBadArgument, false, ""},
		{"two keys", protoMsg(1, "sha256", 2, ecPub, 5, ecPEM, 3, ecSig, 4, text), statusBadArgument, false, ""},
		{"not protobuf", []byte{0xff, 0xff}, statusBadArgument, false, ""},
		{"hash not UTF-8", protoMsg(1, "sha\xff", 2, ecPub, 3, ecSig, 4, text), statusBadArgument, false, ""},
	}
	for _, tt := range verify {
		res, st := foreignVerifySignature(tt.args)
		if st != tt.status {
			t.Errorf("verify %s: status %d, want %d", tt.name, st, tt.status)
			continue
		}
		if st != statusOK {
			continue
		}
		ok, _, msg := decodeResult(t, res, 2)
		if ok != tt.ok || msg != tt.msg {
			t.Errorf("verify %s: result %v %q, want %v %q", tt.name, ok, msg, tt.ok, tt.msg)
		}
	}

	sign := []struct {
		name   string
		args   []byte
		status uint32
		pub    any
		msg    string
	}{
		{"ECDSA", protoMsg(1, "sha256", 2, ecPriv, 3, text), statusOK, &ec.PublicKey, ""},
		{"RSA", protoMsg(1, "sha256", 2, rsaPriv, 3, text), statusOK, &rk.PublicKey, ""},
		{"RSA PEM", protoMsg(1, "sha256", 4, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaPriv})), 3, text), statusOK, &rk.PublicKey, ""},
		{"Ed25519", protoMsg(1, "sha256", 2, edPriv, 3, text), statusOK, nil, "Invalid private key: key data is corrupted or malformed."},
		{"garbage key", protoMsg(1, "sha256", 2, "xx", 3, text), statusOK, nil, "Invalid key type: private key required for signing operation."},
		{"unknown hash", protoMsg(1, "blake", 2, ecPriv, 3, text), statusOK, nil, "blake is not supported."},
		{"no key", protoMsg(1, "sha256", 3, text), statusBadArgument, nil, ""},
	}
	for _, tt := range sign {
		res, st := foreignSign(tt.args)
		if st != tt.status {
			t.Errorf("sign %s: status %d, want %d", tt.name, st, tt.status)
			continue
		}
		if st != statusOK {
			continue
		}
		ok, sig, msg := decodeResult(t, res, 3)
		if ok != (tt.pub != nil) || msg != tt.msg {
			t.Errorf("sign %s: result %v %q, want %q", tt.name, ok, msg, tt.msg)
		}
		switch k := tt.pub.(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(k, h[:], sig) {
				t.Errorf("sign %s: signature does not verify", tt.name)
			}
		case *rsa.PublicKey:
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) != nil {
				t.Errorf("sign %s: signature does not verify", tt.name)
			}
		}
	}
}

func TestForeignFunctionsSwitchedOff(t *testing.T) {
	on := &VM{h: &Host{}}
	off := &VM{h: &Host{opts: Options{NoSignatureFunctions: true}}}
	// With no module, name and arguments read as empty: "" is unknown.
	if st := proxyCallForeignFunction(on, make([]uint64, 6)); st != statusNotFound {
		t.Errorf("unknown name: status %d", st)
	}
	if st := proxyCallForeignFunction(off, make([]uint64, 6)); st != statusNotFound {
		t.Errorf("switched off: status %d", st)
	}
	if on.h.ForeignCalls(ForeignVerifySignature) != 0 {
		t.Error("a call to an unknown name was counted")
	}
}
