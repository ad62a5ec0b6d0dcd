package dnsmsg

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"golang.org/x/net/dns/dnsmessage"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Wire values for the test encoder, written out independently of
// dnsmessage (RFC 1035 §3.2.2, §3.2.4; RFC 3596 §2.1).
const (
	dnsTypeA     uint16 = 1
	dnsTypeCNAME uint16 = 5
	dnsTypeAAAA  uint16 = 28
	dnsClassIN   uint16 = 1
)

// testRR is a record for the test DNS encoder; data for CNAME is the target
// name, for A/AAAA an address.
type testRR struct {
	name  string
	typ   uint16
	ttl   uint32
	data  string
	class uint16 // 0 means IN
	raw   []byte // when set, the record data as is
}

// encodeTestName writes a name without compression.
func encodeTestName(b []byte, name string) []byte {
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// dnsTestResponse builds a response to (qname, qtype) with the given flags
// (QR and RD are added) and answers, without compression.
func dnsTestResponse(qname string, qtype uint16, rcode uint16, answers ...testRR) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[2:], 0x8180|rcode)
	binary.BigEndian.PutUint16(b[4:], 1)
	binary.BigEndian.PutUint16(b[6:], uint16(len(answers)))
	b = encodeTestName(b, qname)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, dnsClassIN)
	for _, rr := range answers {
		b = encodeTestName(b, rr.name)
		b = binary.BigEndian.AppendUint16(b, rr.typ)
		class := rr.class
		if class == 0 {
			class = dnsClassIN
		}
		b = binary.BigEndian.AppendUint16(b, class)
		b = binary.BigEndian.AppendUint32(b, rr.ttl)
		var data []byte
		switch {
		case rr.raw != nil:
			data = rr.raw
		case rr.typ == dnsTypeCNAME:
			data = encodeTestName(nil, rr.data)
		default:
			data = netip.MustParseAddr(rr.data).AsSlice()
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
		b = append(b, data...)
	}
	return b
}

func TestQuery(t *testing.T) {
	q, err := Query("Client.Example.com", Type(dnsTypeAAAA))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		6, 'c', 'l', 'i', 'e', 'n', 't', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 28, 0, 1}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("query = %v\nwant    %v", q, want)
	}
	// dnsmessage reads it as the same recursive query.
	var mp dnsmessage.Parser
	h, err := mp.Start(q)
	if err != nil || h.ID != 0 || h.Response || !h.RecursionDesired {
		t.Fatalf("header %+v, %v", h, err)
	}
	if qq, err := mp.Question(); err != nil || qq.Name.String() != "client.example.com." || qq.Type != dnsmessage.TypeAAAA || qq.Class != dnsmessage.ClassINET {
		t.Errorf("question %+v, %v", qq, err)
	}
	p, err := QueryPath("/dns-query", "client.example.com", Type(dnsTypeAAAA))
	if err != nil || p != "/dns-query?dns="+base64.RawURLEncoding.EncodeToString(want) || strings.ContainsAny(p, "=+") && strings.Count(p, "=") != 1 {
		t.Errorf("path = %q, %v", p, err)
	}
	for _, bad := range []string{"", "a..b", "a b.com", strings.Repeat("a", 64) + ".com", "x.com."} {
		if _, err := Query(bad, Type(dnsTypeA)); err == nil {
			t.Errorf("query built for %q", bad)
		}
	}
}

func TestParse(t *testing.T) {
	const h = "client.example.com"
	ip := netip.MustParseAddr
	cases := []struct {
		name   string
		msg    []byte
		qtype  uint16
		addrs  []netip.Addr
		others []netip.Addr
		ttl    uint32
		chain  []string
	}{
		{"one A", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, ttl: 300, data: "93.184.215.14"}),
			dnsTypeA, []netip.Addr{ip("93.184.215.14")}, nil, 300, nil},
		{"two A, min TTL", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: h, typ: dnsTypeA, ttl: 300, data: "1.1.1.1"}, testRR{name: h, typ: dnsTypeA, ttl: 60, data: "1.0.0.1"}),
			dnsTypeA, []netip.Addr{ip("1.1.1.1"), ip("1.0.0.1")}, nil, 60, nil},
		{"AAAA", dnsTestResponse(h, dnsTypeAAAA, 0, testRR{name: h, typ: dnsTypeAAAA, ttl: 30, data: "2606:4700::1"}),
			dnsTypeAAAA, []netip.Addr{ip("2606:4700::1")}, nil, 30, nil},
		{"case-insensitive names", dnsTestResponse("CLIENT.example.COM", dnsTypeA, 0, testRR{name: "Client.Example.Com", typ: dnsTypeA, ttl: 5, data: "1.1.1.1"}),
			dnsTypeA, []netip.Addr{ip("1.1.1.1")}, nil, 5, nil},
		{"NODATA", dnsTestResponse(h, dnsTypeAAAA, 0), dnsTypeAAAA, nil, nil, 0, nil},
		{"CNAME chain, out of order", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: "b.cdn.example", typ: dnsTypeA, ttl: 20, data: "8.8.8.8"},
			testRR{name: "a.cdn.example", typ: dnsTypeCNAME, ttl: 100, data: "b.cdn.example"},
			testRR{name: h, typ: dnsTypeCNAME, ttl: 10, data: "a.cdn.example"}),
			dnsTypeA, []netip.Addr{ip("8.8.8.8")}, nil, 10, []string{"a.cdn.example", "b.cdn.example"}},
		{"records off the chain are kept for vetting", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: h, typ: dnsTypeA, ttl: 20, data: "8.8.8.8"},
			testRR{name: "other.example", typ: dnsTypeA, ttl: 20, data: "10.0.0.1"},
			testRR{name: h, typ: dnsTypeAAAA, ttl: 20, data: "::1"}),
			dnsTypeA, []netip.Addr{ip("8.8.8.8")}, []netip.Addr{ip("10.0.0.1"), ip("::1")}, 20, nil},
		{"CNAME to nowhere", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, ttl: 10, data: "gone.example"}),
			dnsTypeA, nil, nil, 0, []string{"gone.example"}},
		{"non-IN class ignored", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: h, typ: dnsTypeA, ttl: 9, data: "8.8.8.8"}, testRR{name: h, typ: dnsTypeA, class: 3, raw: []byte{1, 2}}),
			dnsTypeA, []netip.Addr{ip("8.8.8.8")}, nil, 9, nil},
		{"TTL with the top bit set is 0", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, ttl: 1 << 31, data: "8.8.8.8"}),
			dnsTypeA, []netip.Addr{ip("8.8.8.8")}, nil, 0, nil},
		{"other record types ignored", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: h, typ: 16, ttl: 9, raw: []byte{3, 'a', 'b', 'c'}}, testRR{name: h, typ: dnsTypeA, ttl: 9, data: "8.8.8.8"}),
			dnsTypeA, []netip.Addr{ip("8.8.8.8")}, nil, 9, nil},
	}
	for _, tc := range cases {
		a, err := Parse(tc.msg, h, Type(tc.qtype))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(a.Addrs, tc.addrs) || !reflect.DeepEqual(a.Others, tc.others) || a.TTL != tc.ttl || !reflect.DeepEqual(a.Chain, tc.chain) {
			t.Errorf("%s: got %+v", tc.name, a)
		}
	}
}

// compressed builds a response using compression pointers: the answer
// name points to the question name at offset 12.
func compressedTestResponse() []byte {
	b := dnsTestResponse("client.example.com", dnsTypeA, 0)
	binary.BigEndian.PutUint16(b[6:], 2)
	// answer 1: pointer to the question name, CNAME to "cdn." + pointer to
	// "example.com" (offset 12 + 7).
	b = append(b, 0xc0, 12)
	b = binary.BigEndian.AppendUint16(b, dnsTypeCNAME)
	b = binary.BigEndian.AppendUint16(b, dnsClassIN)
	b = binary.BigEndian.AppendUint32(b, 50)
	cnameAt := len(b) + 2
	b = binary.BigEndian.AppendUint16(b, 6)
	b = append(b, 3, 'c', 'd', 'n', 0xc0, 12+7)
	// answer 2: pointer to the CNAME target.
	b = append(b, 0xc0, byte(cnameAt))
	b = binary.BigEndian.AppendUint16(b, dnsTypeA)
	b = binary.BigEndian.AppendUint16(b, dnsClassIN)
	b = binary.BigEndian.AppendUint32(b, 40)
	b = binary.BigEndian.AppendUint16(b, 4)
	return append(b, 8, 8, 4, 4)
}

func TestParseCompression(t *testing.T) {
	a, err := Parse(compressedTestResponse(), "client.example.com", TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Addrs) != 1 || a.Addrs[0] != netip.MustParseAddr("8.8.4.4") || a.TTL != 40 || !reflect.DeepEqual(a.Chain, []string{"cdn.example.com"}) {
		t.Errorf("got %+v", a)
	}
}

// TestParseRejects: every malformed or unusable answer is an
// error, and no input makes the parser loop or read out of bounds.
func TestParseRejects(t *testing.T) {
	const h = "client.example.com"
	ok := dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, ttl: 1, data: "8.8.8.8"})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), ok...)) }
	// Pointer loops: a name that is a pointer to itself, and two names
	// pointing at each other.
	selfLoop := mod(func(b []byte) []byte {
		b = b[:12]
		binary.BigEndian.PutUint16(b[4:], 1)
		return append(b, 0xc0, 12, 0, 1, 0, 1)
	})
	forwardPtr := mod(func(b []byte) []byte {
		b = b[:12]
		return append(b, 0xc0, 14, 0, 0, 1, 0, 1)
	})
	labelLoop := mod(func(b []byte) []byte {
		// question name: label "a" then a pointer back to the label itself.
		b = b[:12]
		return append(b, 1, 'a', 0xc0, 12, 0, 1, 0, 1)
	})
	longName := dnsTestResponse(strings.Repeat("a.", 127)+"b", dnsTypeA, 0)
	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "insufficient data"},
		{"short header", ok[:11], "insufficient data"},
		{"truncated question", ok[:20], "insufficient data"},
		{"truncated answer header", ok[:len(ok)-8], "insufficient data"},
		{"truncated rdata", ok[:len(ok)-1], "insufficient data"},
		{"ID not 0", mod(func(b []byte) []byte { b[1] = 7; return b }), "ID"},
		{"not a response", mod(func(b []byte) []byte { b[2] &^= 0x80; return b }), "not a response"},
		{"opcode", mod(func(b []byte) []byte { b[2] |= 0x10; return b }), "opcode"},
		{"TC", mod(func(b []byte) []byte { b[2] |= 0x02; return b }), "truncated by the resolver"},
		{"NXDOMAIN", dnsTestResponse(h, dnsTypeA, 3), "NXDOMAIN"},
		{"SERVFAIL", dnsTestResponse(h, dnsTypeA, 2), "SERVFAIL"},
		{"REFUSED", dnsTestResponse(h, dnsTypeA, 5), "REFUSED"},
		{"other rcode", dnsTestResponse(h, dnsTypeA, 4), "RCODE 4"},
		{"no question", mod(func(b []byte) []byte { b[5] = 0; return b }), "exactly one question"},
		{"two questions", mod(func(b []byte) []byte { b[5] = 2; return b }), "exactly one question"},
		{"other name", dnsTestResponse("evil.example.com", dnsTypeA, 0), "another question"},
		{"other type", dnsTestResponse(h, dnsTypeAAAA, 0), "another question"},
		{"A with 16 bytes", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, raw: make([]byte, 16)}), "A record with 16"},
		{"AAAA with 4 bytes", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeAAAA, raw: make([]byte, 4)}), "AAAA record with 4"},
		{"AAAA with 17 bytes", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeAAAA, raw: make([]byte, 17)}), "AAAA record with 17"},
		{"A with 3 bytes", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, raw: make([]byte, 3)}), "A record with 3"},
		{"A off the chain with 5 bytes", dnsTestResponse(h, dnsTypeA, 0, testRR{name: "x.example", typ: dnsTypeA, raw: make([]byte, 5)}), "A record with 5"},
		{"CNAME data shorter than its name", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, raw: []byte{1, 'a'}}), "insufficient data"},
		{"label holding a dot", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, raw: []byte{3, 'a', '.', 'b', 0}}), "invalid"},
		{"CNAME loop", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: h, typ: dnsTypeCNAME, data: "a.example"}, testRR{name: "a.example", typ: dnsTypeCNAME, data: h}), "CNAME loop"},
		{"CNAME to itself", dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, data: h}), "CNAME loop"},
		{"CNAME fork", dnsTestResponse(h, dnsTypeA, 0,
			testRR{name: h, typ: dnsTypeCNAME, data: "a.example"}, testRR{name: h, typ: dnsTypeCNAME, data: "b.example"}), "several CNAMEs"},
		{"CNAME chain too long", func() []byte {
			var rrs []testRR
			prev := h
			for i := 0; i <= MaxCNAMEs; i++ {
				next := "c" + strings.Repeat("x", i) + ".example"
				rrs = append(rrs, testRR{name: prev, typ: dnsTypeCNAME, data: next})
				prev = next
			}
			return dnsTestResponse(h, dnsTypeA, 0, rrs...)
		}(), "too long"},
		{"pointer to itself", selfLoop, "too many pointers"},
		{"pointer forwards, to the root", forwardPtr, "another question"},
		{"pointer back into its own name", labelLoop, "too many pointers"},
		{"extended label type 01", mod(func(b []byte) []byte { b[12] = 0x41; return b }), "reserved"},
		{"reserved label type 10", mod(func(b []byte) []byte { b[12] = 0x81; return b }), "reserved"},
		{"name over 255 bytes", longName, "too long"},
		{"too many answers", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], MaxAnswers+1); return b }), "too many"},
		{"too large", make([]byte, MaxMessage+1), "too large"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.msg, h, Type(dnsTypeA))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse(dnsTestResponse(h, dnsTypeA, 3), h, Type(dnsTypeA)); !errors.Is(err, ErrNoSuchHost) {
		t.Errorf("NXDOMAIN is not ErrNoSuchHost: %v", err)
	}
}

// TestNameEscapes: bytes outside letters, digits, "-" and "_" are escaped,
// so that a name cannot pass for another; names compare in lower case.
// Each name is written by dnsmessage and read back by the reader.
func TestNameEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"Client.Example.COM.": "client.example.com",
		"a b.example.":        `a\032b.example`,
		"a\\.example.":        `a\092.example`,
		".":                   "",
	} {
		n, err := dnsmessage.NewName(in)
		if err != nil {
			t.Fatal(err)
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{})
		if err := b.StartQuestions(); err != nil {
			t.Fatal(err)
		}
		if err := b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
			t.Fatal(err)
		}
		msg, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		r := reader{msg: msg, off: 12}
		if got, err := r.name(); err != nil || got != want || r.off != len(msg)-4 {
			t.Errorf("name(%q) = %q, %v at %d, want %q at %d", in, got, err, r.off, want, len(msg)-4)
		}
	}
}

// FuzzParseAgainstDNSMessage holds Parse to parseRef, the same vetting
// written over dnsmessage.Parser: the same answers, the same refusals.
// One difference is allowed: a record whose data runs past the end of the
// message is malformed here, where dnsmessage reads a last CNAME whose
// RDLENGTH overruns as long as the name itself fits. The message is then
// read again with zeros after it, and must give dnsmessage's answer.
func FuzzParseAgainstDNSMessage(f *testing.F) {
	const h = "client.example.com"
	f.Add(dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, ttl: 1, data: "8.8.8.8"}), false, h)
	f.Add(dnsTestResponse(h, dnsTypeAAAA, 0, testRR{name: h, typ: dnsTypeAAAA, ttl: 1, data: "2606:4700::1"}), true, h)
	f.Add(compressedTestResponse(), false, h)
	f.Add(dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, data: "a.example"}, testRR{name: "a.example", typ: dnsTypeA, data: "10.0.0.1"}), false, h)
	f.Add(dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, data: "A\\x.example"}, testRR{name: "a\\x.example", typ: dnsTypeA, data: "10.0.0.1", class: 3}), false, "CLIENT.example.com")
	f.Add(dnsTestResponse("", dnsTypeA, 0), false, "")
	f.Add(dnsTestResponse(h, dnsTypeA, 3), false, h)
	f.Fuzz(func(t *testing.T, msg []byte, v6 bool, host string) {
		qtype := TypeA
		if v6 {
			qtype = TypeAAAA
		}
		got, err := Parse(msg, host, qtype)
		want, werr := parseRef(msg, host, dnsmessage.Type(qtype))
		if err != nil && werr == nil && len(msg) < MaxMessage {
			padded := append(msg[:len(msg):len(msg)], make([]byte, MaxMessage-len(msg))...)
			got, err = Parse(padded, host, qtype)
		}
		if (err == nil) != (werr == nil) || errors.Is(err, ErrNoSuchHost) != errors.Is(werr, ErrNoSuchHost) {
			t.Fatalf("Parse: %v; over dnsmessage: %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse = %+v; over dnsmessage %+v", got, want)
		}
	})
}

// FuzzParse: no input panics or loops, and what is returned is
// consistent with the question.
func FuzzParse(f *testing.F) {
	const h = "client.example.com"
	f.Add(dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeA, ttl: 1, data: "8.8.8.8"}), false)
	f.Add(dnsTestResponse(h, dnsTypeAAAA, 0, testRR{name: h, typ: dnsTypeAAAA, ttl: 1, data: "2606:4700::1"}), true)
	f.Add(compressedTestResponse(), false)
	f.Add(dnsTestResponse(h, dnsTypeA, 0, testRR{name: h, typ: dnsTypeCNAME, data: "a.example"}, testRR{name: "a.example", typ: dnsTypeA, data: "10.0.0.1"}), false)
	f.Add(dnsTestResponse(h, dnsTypeA, 3), false)
	f.Fuzz(func(t *testing.T, msg []byte, v6 bool) {
		qtype := dnsTypeA
		if v6 {
			qtype = dnsTypeAAAA
		}
		a, err := Parse(msg, h, Type(qtype))
		if err != nil {
			return
		}
		for _, ip := range a.Addrs {
			if ip.Is4() != (qtype == dnsTypeA) || !ip.IsValid() {
				t.Fatalf("address %s for qtype %d", ip, qtype)
			}
		}
		if len(a.Addrs) == 0 && a.TTL != 0 {
			t.Fatalf("TTL %d without addresses", a.TTL)
		}
		if len(a.Chain) > MaxCNAMEs {
			t.Fatalf("chain of %d", len(a.Chain))
		}
	})
}
