// Package dnsmsg is the DNS wire format of mcpgate's DNS over HTTPS
// resolution (RFC 8484), over the message parser of
// golang.org/x/net/dns/dnsmessage: one query out, one answer vetted.
//
// mcpgate resolves a document host itself, through a resolver cluster, so
// that it knows the exact address Envoy will connect to: it vets every
// answer and then pins the connection to one of them. The resolver is
// trusted (the operator picks it); its answers are not (the zone belongs to
// whoever chose the client_id), so [Parse] is strict and bounded:
//
//   - the header must be a response (QR), opcode QUERY, not truncated (TC),
//     with the query's ID (0, RFC 8484 §4.1) and exactly our question back;
//   - names are decoded by dnsmessage: at most 10 compression pointers per
//     name (so a pointer loop ends), at most 255 bytes, no label holding a
//     dot; bytes other than letters, digits, "-" and "_" are then escaped
//     as \DDD (RFC 1035 §5.1) so that distinct names never compare alike;
//   - CNAMEs are followed only inside the answer section, from the queried
//     name, at most 16 steps, and a loop or a fork is an error;
//   - A and AAAA records must have 4 and 16 bytes of data;
//   - every A and AAAA record in the answer section is returned for vetting,
//     including records for names off the CNAME chain (never used, but a
//     resolver that returns them is treated as meaning them);
//   - RCODE: NOERROR is an answer (possibly empty), NXDOMAIN is
//     [ErrNoSuchHost], anything else a resolver failure. The authority and
//     additional sections are ignored.
package dnsmsg

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

// Type is a query type.
type Type = dnsmessage.Type

// Query types (RFC 1035 §3.2.2, RFC 3596 §2.1).
const (
	TypeA    = dnsmessage.TypeA
	TypeAAAA = dnsmessage.TypeAAAA
)

// Bounds of a response.
const (
	// MaxMessage is the largest response Parse reads (RFC 8484 §6).
	MaxMessage = 65535
	// MaxAnswers bounds the answer section.
	MaxAnswers = 256
	// MaxCNAMEs bounds the CNAME chain followed.
	MaxCNAMEs = 16
)

// ErrNoSuchHost is an NXDOMAIN answer; every other error is a resolver or
// message failure.
var ErrNoSuchHost = errors.New("dns: no such host (NXDOMAIN)")

// Answer is the parsed answer to one question.
type Answer struct {
	// Addrs are the addresses of the queried name, after following CNAMEs.
	Addrs []netip.Addr
	// Others are A and AAAA records of other names in the answer section.
	// They are never connected to, but they are vetted all the same.
	Others []netip.Addr
	// TTL is the smallest TTL over the CNAMEs and addresses used; 0 when
	// there are none.
	TTL uint32
	// Chain lists the CNAME targets followed, in order.
	Chain []string
}

// Query encodes a recursive query for host (a host name as
// [netguard.CheckHostName] accepts it) with ID 0 (RFC 1035 §4.1; RFC 8484
// §4.1). The twelve header bytes and one question are written directly:
// linking dnsmessage's Builder for them would cost more than they do.
func Query(host string, qtype Type) ([]byte, error) {
	if msg := netguard.CheckHostName(host); msg != "" {
		return nil, errors.New("dns: " + msg)
	}
	q := make([]byte, 12, 12+len(host)+2+4)
	binary.BigEndian.PutUint16(q[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(q[4:], 1)      // QDCOUNT
	for _, label := range strings.Split(strings.ToLower(host), ".") {
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	q = append(q, 0)
	q = binary.BigEndian.AppendUint16(q, uint16(qtype))
	q = binary.BigEndian.AppendUint16(q, uint16(dnsmessage.ClassINET))
	return q, nil
}

// QueryPath returns the GET request target of RFC 8484 §4.1 for the query:
// path?dns=<base64url without padding>.
func QueryPath(path, host string, qtype Type) (string, error) {
	q, err := Query(host, qtype)
	if err != nil {
		return "", err
	}
	return path + "?dns=" + base64.RawURLEncoding.EncodeToString(q), nil
}

// rr is one resource record of the answer section.
type rr struct {
	name string
	typ  dnsmessage.Type
	ttl  uint32
	addr netip.Addr
	// target is the decoded CNAME target, for CNAME records.
	target string
}

func malformed(err error) error { return errors.New("dns: malformed message: " + err.Error()) }

// Parse parses a response to the query Query(host, qtype) made. host is
// compared case-insensitively.
func Parse(msg []byte, host string, qtype Type) (*Answer, error) {
	if len(msg) > MaxMessage {
		return nil, errors.New("dns: message too large")
	}
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, malformed(err)
	}
	switch {
	case h.ID != 0:
		return nil, errors.New("dns: response ID does not match the query")
	case !h.Response:
		return nil, errors.New("dns: not a response")
	case h.OpCode != 0:
		return nil, errors.New("dns: unexpected opcode")
	case h.Truncated:
		return nil, errors.New("dns: response truncated by the resolver (TC)")
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, ErrNoSuchHost
	case dnsmessage.RCodeServerFailure:
		return nil, errors.New("dns: resolver failure (SERVFAIL)")
	case dnsmessage.RCodeRefused:
		return nil, errors.New("dns: query refused by the resolver (REFUSED)")
	default:
		return nil, errors.New("dns: resolver error (RCODE " + strconv.Itoa(int(h.RCode)) + ")")
	}
	// The section counts (RFC 1035 §4.1.1), which Start has checked are
	// there, bound the work before any record is read.
	if binary.BigEndian.Uint16(msg[4:]) != 1 {
		return nil, errors.New("dns: response must echo exactly one question")
	}
	an := int(binary.BigEndian.Uint16(msg[6:]))
	q, err := p.Question()
	if err != nil {
		return nil, malformed(err)
	}
	want := strings.ToLower(host)
	if name(q.Name) != want || q.Type != qtype || q.Class != dnsmessage.ClassINET {
		return nil, errors.New("dns: response is for another question")
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, malformed(err)
	}
	if an > MaxAnswers {
		return nil, errors.New("dns: too many answer records")
	}
	rrs := make([]rr, 0, an)
	for range an {
		hdr, err := p.AnswerHeader()
		if err != nil {
			return nil, malformed(err)
		}
		r := rr{name: name(hdr.Name), typ: hdr.Type, ttl: hdr.TTL}
		if r.ttl > 1<<31-1 { // RFC 2181 §8: treat as zero
			r.ttl = 0
		}
		if hdr.Class != dnsmessage.ClassINET {
			if err := p.SkipAnswer(); err != nil {
				return nil, malformed(err)
			}
			continue
		}
		switch hdr.Type {
		case dnsmessage.TypeA:
			if hdr.Length != 4 {
				return nil, errors.New("dns: A record with " + strconv.Itoa(int(hdr.Length)) + " bytes of data")
			}
			a, err := p.AResource()
			if err != nil {
				return nil, malformed(err)
			}
			r.addr = netip.AddrFrom4(a.A)
		case dnsmessage.TypeAAAA:
			if hdr.Length != 16 {
				return nil, errors.New("dns: AAAA record with " + strconv.Itoa(int(hdr.Length)) + " bytes of data")
			}
			a, err := p.AAAAResource()
			if err != nil {
				return nil, malformed(err)
			}
			r.addr = netip.AddrFrom16(a.AAAA)
		case dnsmessage.TypeCNAME:
			c, err := p.CNAMEResource()
			if err != nil {
				return nil, malformed(err)
			}
			r.target = name(c.CNAME)
		default:
			if err := p.SkipAnswer(); err != nil {
				return nil, malformed(err)
			}
			continue
		}
		rrs = append(rrs, r)
	}

	ans := &Answer{TTL: 1<<32 - 1}
	used := func(ttl uint32) {
		if ttl < ans.TTL {
			ans.TTL = ttl
		}
	}
	// Follow CNAMEs from the queried name, inside the answer only.
	target := want
	seen := map[string]bool{target: true}
	for {
		var next *rr
		for i := range rrs {
			r := &rrs[i]
			if r.typ == dnsmessage.TypeCNAME && r.name == target {
				if next != nil && next.target != r.target {
					return nil, errors.New("dns: several CNAMEs for one name")
				}
				next = r
			}
		}
		if next == nil {
			break
		}
		if seen[next.target] {
			return nil, errors.New("dns: CNAME loop")
		}
		if len(ans.Chain) == MaxCNAMEs {
			return nil, errors.New("dns: CNAME chain too long")
		}
		seen[next.target] = true
		ans.Chain = append(ans.Chain, next.target)
		used(next.ttl)
		target = next.target
	}
	for i := range rrs {
		r := &rrs[i]
		if r.typ != dnsmessage.TypeA && r.typ != dnsmessage.TypeAAAA {
			continue
		}
		if r.typ == qtype && r.name == target {
			ans.Addrs = append(ans.Addrs, r.addr)
			used(r.ttl)
		} else {
			ans.Others = append(ans.Others, r.addr)
		}
	}
	if len(ans.Addrs) == 0 {
		ans.TTL = 0
	}
	return ans, nil
}

// name returns n in lower case without the trailing dot ("" for the root),
// with bytes other than letters, digits, "-" and "_" escaped as \DDD so
// that distinct names never compare alike (dnsmessage refuses a dot inside
// a label, so every "." left separates labels).
func name(n dnsmessage.Name) string {
	data := n.Data[:n.Length]
	if len(data) > 0 && data[len(data)-1] == '.' {
		data = data[:len(data)-1]
	}
	b := make([]byte, 0, len(data))
	for _, ch := range data {
		switch {
		case 'A' <= ch && ch <= 'Z':
			b = append(b, ch+'a'-'A')
		case 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_', ch == '.':
			b = append(b, ch)
		default:
			b = append(b, '\\', '0'+ch/100, '0'+ch/10%10, '0'+ch%10)
		}
	}
	return string(b)
}
