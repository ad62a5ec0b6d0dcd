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

// protowireParse is the result reading through protowire, the reference
// for parse; sawGroup reports a group, which parse refuses on purpose.
func protowireParse(b []byte) (f fields, sawGroup bool, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, sawGroup, ErrMalformed
		}
		b = b[n:]
		sawGroup = sawGroup || typ == protowire.StartGroupType || typ == protowire.EndGroupType
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, sawGroup, ErrMalformed
			}
			f.flag, b = v != 0, b[n:]
		case (num == 2 || num == 3) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, sawGroup, ErrMalformed
			}
			f.bytes[num], b = v, b[n:]
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f, sawGroup, ErrMalformed
			}
			b = b[n:]
		}
	}
	return f, sawGroup, nil
}

// FuzzParseAgainstProtowire: the hand-written wire reading gives
// protowire's result on every input without groups, and refuses groups.
func FuzzParseAgainstProtowire(f *testing.F) {
	f.Add([]byte{0x08, 0x01, 0x12, 2, 0xaa, 0xbb})
	f.Add([]byte{0x28, 0x05, 0x08, 0x01})
	f.Add([]byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x15, 1, 2, 3, 4, 0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0x0b, 0x08, 0x01, 0x0c})
	f.Add([]byte{0x00, 0x01})
	f.Add([]byte{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parse(b)
		want, sawGroup, wantErr := protowireParse(b)
		if err != nil && wantErr == nil && sawGroup {
			return
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%x: error %v, protowire %v", b, err, wantErr)
		}
		if err == nil && (got.flag != want.flag || !bytes.Equal(got.bytes[2], want.bytes[2]) || !bytes.Equal(got.bytes[3], want.bytes[3])) {
			t.Fatalf("%x: %+v, protowire %+v", b, got, want)
		}
	})
}

// TestArgsAgainstProtowire: the arguments read back through protowire.
func TestArgsAgainstProtowire(t *testing.T) {
	long := bytes.Repeat([]byte{7}, 300) // a two-byte length
	b := VerifyArgs("sha512", long, []byte{1}, nil)
	var got [5][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			t.Fatalf("tag at %x", b)
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			t.Fatalf("bytes at %x", b)
		}
		got[num], b = v, b[n+m:]
	}
	if string(got[1]) != "sha512" || !bytes.Equal(got[2], long) || !bytes.Equal(got[3], []byte{1}) || got[4] != nil {
		t.Fatalf("%q", got)
	}
}
