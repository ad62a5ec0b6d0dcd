package hostsig

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestArgsWireFormat checks the argument messages byte for byte against
// the field numbers of Envoy's .proto files.
func TestArgsWireFormat(t *testing.T) {
	got := VerifyArgs("sha256", []byte{1, 2}, []byte{3}, []byte("t"))
	want := []byte{0x0a, 6, 's', 'h', 'a', '2', '5', '6', 0x12, 2, 1, 2, 0x1a, 1, 3, 0x22, 1, 't'}
	if !bytes.Equal(got, want) {
		t.Errorf("VerifyArgs = %x, want %x", got, want)
	}
	got = SignArgs("sha384", []byte{9}, nil)
	want = []byte{0x0a, 6, 's', 'h', 'a', '3', '8', '4', 0x12, 1, 9}
	if !bytes.Equal(got, want) {
		t.Errorf("SignArgs = %x, want %x", got, want)
	}
}

func TestParseResults(t *testing.T) {
	if ok, _, err := ParseVerifyResult([]byte{0x08, 0x01}); !ok || err != nil {
		t.Errorf("true result: %v %v", ok, err)
	}
	ok, why, err := ParseVerifyResult(append([]byte{0x12, 3}, "bad"...))
	if ok || why != "bad" || err != nil {
		t.Errorf("false result: %v %q %v", ok, why, err)
	}
	if _, _, err := ParseVerifyResult([]byte{0x12, 9, 'x'}); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	// Unknown fields are skipped.
	if ok, _, err := ParseVerifyResult([]byte{0x28, 0x05, 0x08, 0x01}); !ok || err != nil {
		t.Errorf("with unknown field: %v %v", ok, err)
	}
	sig, err := ParseSignResult([]byte{0x08, 0x01, 0x12, 2, 0xaa, 0xbb})
	if err != nil || !bytes.Equal(sig, []byte{0xaa, 0xbb}) {
		t.Errorf("sign result: %x %v", sig, err)
	}
	var he *HostError
	if _, err := ParseSignResult(append([]byte{0x1a, 4}, "nope"...)); !errors.As(err, &he) || he.Msg != "nope" {
		t.Errorf("sign failure: %v", err)
	}
	if _, err := ParseSignResult([]byte{0x08, 0x01}); !errors.Is(err, ErrMalformed) {
		t.Errorf("success without signature: %v", err)
	}
}

// FuzzParseResults: no panic on any host answer, and a parsed signature
// is the bytes of field 2.
func FuzzParseResults(f *testing.F) {
	f.Add([]byte{0x08, 0x01, 0x12, 2, 0xaa, 0xbb})
	f.Add([]byte{0x12, 3, 'b', 'a', 'd'})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = ParseVerifyResult(b)
		sig, err := ParseSignResult(b)
		if err == nil && len(sig) == 0 {
			t.Fatal("empty signature accepted")
		}
		if err == nil {
			again := protowire.AppendTag(nil, 2, protowire.BytesType)
			again = protowire.AppendBytes(again, sig)
			if !bytes.Contains(b, again) {
				t.Fatalf("signature %x not found in %x", sig, b)
			}
		}
	})
}
