// Package dnsmsg is the DNS wire format of mcpgate's DNS over HTTPS
// resolution (RFC 8484): one query out, one answer vetted.
//
// mcpgate resolves a document host itself, through a resolver cluster, so
// that it knows the exact address Envoy will connect to: it vets every
// answer and then pins the connection to one of them. The resolver is
// trusted (the operator picks it); its answers are not (the zone belongs to
// whoever chose the client_id), so [Parse] is strict and bounded:
//
//   - the header must be a response (QR), opcode QUERY, not truncated (TC),
//     with the query's ID (0, RFC 8484 §4.1) and exactly our question back;
//   - names are decoded as golang.org/x/net/dns/dnsmessage decodes them
//     (FuzzParseAgainstDNSMessage holds the two to the same answers): at
//     most 10 compression pointers per name (so a pointer loop ends), at
//     most 255 bytes, no label holding a dot; bytes other than letters,
//     digits, "-" and "_" are then escaped as \DDD (RFC 1035 §5.1) so that
//     distinct names never compare alike;
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

	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

// Type is a query type.
type Type uint16

// Record types and the class read (RFC 1035 §3.2.2, §3.2.4; RFC 3596
// §2.1).
const (
	TypeA     Type = 1
	TypeCNAME Type = 5
	TypeAAAA  Type = 28

	classINET = 1
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
	q = binary.BigEndian.AppendUint16(q, classINET)
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
	_    [0]func() // not comparable: no equality function in the wasm module
	name string
	typ  Type
	ttl  uint32
	addr netip.Addr
	// target is the decoded CNAME target, for CNAME records.
	target string
}

var errMalformed = errors.New("dns: malformed message: insufficient data")

// reader reads a message from off on; every read checks its bounds.
type reader struct {
	msg []byte
	off int
}

func (r *reader) u16() (uint16, bool) {
	if r.off+2 > len(r.msg) {
		return 0, false
	}
	v := binary.BigEndian.Uint16(r.msg[r.off:])
	r.off += 2
	return v, true
}

// name reads a domain name (RFC 1035 §3.1, §4.1.4) and returns it as the
// package compares names: in lower case, without the trailing dot ("" for
// the root), with bytes other than letters, digits, "-" and "_" escaped as
// \DDD so that distinct names never compare alike. Like dnsmessage it
// follows at most 10 compression pointers (so a pointer loop ends), refuses
// the reserved label types 0x40 and 0x80 and a label holding a dot (so
// every "." left separates labels), and bounds the name at 255 bytes
// counted as dnsmessage counts them: each label and its dot.
func (r *reader) name() (string, error) {
	b := make([]byte, 0, 64)
	cur, ptrs, textLen := r.off, 0, 0
	for {
		if cur >= len(r.msg) {
			return "", errMalformed
		}
		c := int(r.msg[cur])
		cur++
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if ptrs == 0 {
					r.off = cur
				}
				return string(b), nil
			}
			if cur+c > len(r.msg) {
				return "", errMalformed
			}
			if textLen += c + 1; textLen > 255 {
				return "", errors.New("dns: malformed message: name too long (over 255 bytes)")
			}
			if len(b) > 0 {
				b = append(b, '.')
			}
			for _, ch := range r.msg[cur : cur+c] {
				switch {
				case ch == '.':
					return "", errors.New("dns: malformed message: invalid name (a label holds a dot)")
				case 'A' <= ch && ch <= 'Z':
					b = append(b, ch+'a'-'A')
				case 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
					b = append(b, ch)
				default:
					b = append(b, '\\', '0'+ch/100, '0'+ch/10%10, '0'+ch%10)
				}
			}
			cur += c
		case 0xC0:
			if cur >= len(r.msg) {
				return "", errMalformed
			}
			if ptrs == 0 {
				r.off = cur + 1
			}
			if ptrs++; ptrs > 10 {
				return "", errors.New("dns: malformed message: too many pointers (over 10)")
			}
			cur = (c&0x3F)<<8 | int(r.msg[cur])
		default:
			return "", errors.New("dns: malformed message: reserved label type")
		}
	}
}

// Parse parses a response to the query Query(host, qtype) made. host is
// compared case-insensitively.
func Parse(msg []byte, host string, qtype Type) (*Answer, error) {
	if len(msg) > MaxMessage {
		return nil, errors.New("dns: message too large")
	}
	if len(msg) < 12 {
		return nil, errMalformed
	}
	// The header (RFC 1035 §4.1.1).
	id, flags := binary.BigEndian.Uint16(msg), binary.BigEndian.Uint16(msg[2:])
	switch {
	case id != 0:
		return nil, errors.New("dns: response ID does not match the query")
	case flags&0x8000 == 0:
		return nil, errors.New("dns: not a response")
	case flags>>11&0xF != 0:
		return nil, errors.New("dns: unexpected opcode")
	case flags&0x0200 != 0:
		return nil, errors.New("dns: response truncated by the resolver (TC)")
	}
	switch rcode := flags & 0xF; rcode {
	case 0:
	case 3:
		return nil, ErrNoSuchHost
	case 2:
		return nil, errors.New("dns: resolver failure (SERVFAIL)")
	case 5:
		return nil, errors.New("dns: query refused by the resolver (REFUSED)")
	default:
		return nil, errors.New("dns: resolver error (RCODE " + strconv.Itoa(int(rcode)) + ")")
	}
	// The section counts bound the work before any record is read.
	if binary.BigEndian.Uint16(msg[4:]) != 1 {
		return nil, errors.New("dns: response must echo exactly one question")
	}
	an := int(binary.BigEndian.Uint16(msg[6:]))
	r := reader{msg: msg, off: 12}
	qname, err := r.name()
	if err != nil {
		return nil, err
	}
	qt, ok1 := r.u16()
	qc, ok2 := r.u16()
	if !ok1 || !ok2 {
		return nil, errMalformed
	}
	want := strings.ToLower(host)
	if qname != want || Type(qt) != qtype || qc != classINET {
		return nil, errors.New("dns: response is for another question")
	}
	if an > MaxAnswers {
		return nil, errors.New("dns: too many answer records")
	}
	rrs := make([]rr, 0, an)
	for range an {
		// A record (RFC 1035 §4.1.3): NAME, TYPE, CLASS, TTL, RDLENGTH, RDATA.
		n, err := r.name()
		if err != nil {
			return nil, err
		}
		if r.off+10 > len(msg) {
			return nil, errMalformed
		}
		typ, class := Type(binary.BigEndian.Uint16(msg[r.off:])), binary.BigEndian.Uint16(msg[r.off+2:])
		ttl, length := binary.BigEndian.Uint32(msg[r.off+4:]), int(binary.BigEndian.Uint16(msg[r.off+8:]))
		r.off += 10
		data := r.off
		if data+length > len(msg) {
			return nil, errMalformed
		}
		r.off += length
		rec := rr{name: n, typ: typ, ttl: ttl}
		if rec.ttl > 1<<31-1 { // RFC 2181 §8: treat as zero
			rec.ttl = 0
		}
		if class != classINET {
			continue
		}
		switch typ {
		case TypeA:
			if length != 4 {
				return nil, errors.New("dns: A record with " + strconv.Itoa(length) + " bytes of data")
			}
			rec.addr = netip.AddrFrom4([4]byte(msg[data:]))
		case TypeAAAA:
			if length != 16 {
				return nil, errors.New("dns: AAAA record with " + strconv.Itoa(length) + " bytes of data")
			}
			rec.addr = netip.AddrFrom16([16]byte(msg[data:]))
		case TypeCNAME:
			// The target is read where the data starts, and may point
			// anywhere in the message, as dnsmessage reads it.
			t := reader{msg: msg, off: data}
			if rec.target, err = t.name(); err != nil {
				return nil, err
			}
		default:
			continue
		}
		rrs = append(rrs, rec)
	}
	return answer(rrs, want, qtype)
}

// answer follows CNAMEs from the queried name want through the answer
// section's records rrs and collects the addresses.
func answer(rrs []rr, want string, qtype Type) (*Answer, error) {
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
			if r.typ == TypeCNAME && r.name == target {
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
		if r.typ != TypeA && r.typ != TypeAAAA {
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
