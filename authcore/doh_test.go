package authcore

import (
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS answers for the fetch-flow tests, built with dnsmessage (the parser's
// own tests in internal/dnsmsg use an independent encoder).

const (
	dnsTypeA     = dnsmessage.TypeA
	dnsTypeAAAA  = dnsmessage.TypeAAAA
	dnsTypeCNAME = dnsmessage.TypeCNAME
)

// testRR is a record; data is the CNAME target or the address.
type testRR struct {
	name string
	typ  dnsmessage.Type
	ttl  uint32
	data string
}

// dnsTestResponse builds a response to (qname, qtype) with the given RCODE.
func dnsTestResponse(qname string, qtype dnsmessage.Type, rcode dnsmessage.RCode, answers ...testRR) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, RecursionDesired: true, RecursionAvailable: true, RCode: rcode})
	name := func(s string) dnsmessage.Name { return dnsmessage.MustNewName(s + ".") }
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: name(qname), Type: qtype, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	for _, rr := range answers {
		h := dnsmessage.ResourceHeader{Name: name(rr.name), Class: dnsmessage.ClassINET, TTL: rr.ttl}
		switch rr.typ {
		case dnsmessage.TypeCNAME:
			must(b.CNAMEResource(h, dnsmessage.CNAMEResource{CNAME: name(rr.data)}))
		case dnsmessage.TypeAAAA:
			must(b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: netip.MustParseAddr(rr.data).As16()}))
		default:
			must(b.AResource(h, dnsmessage.AResource{A: netip.MustParseAddr(rr.data).As4()}))
		}
	}
	msg, err := b.Finish()
	must(err)
	return msg
}

// dnsTestQuestion reads the question of a query made by the engine.
func dnsTestQuestion(t *testing.T, msg []byte) (host string, qtype dnsmessage.Type) {
	t.Helper()
	var p dnsmessage.Parser
	if _, err := p.Start(msg); err != nil {
		t.Fatal(err)
	}
	q, err := p.Question()
	if err != nil {
		t.Fatal(err)
	}
	s := q.Name.String()
	return s[:len(s)-1], q.Type
}
