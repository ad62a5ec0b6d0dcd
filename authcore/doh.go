package authcore

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/authcore/internal/netguard"
)

// DNS over HTTPS (RFC 8484) for the CIMD fetcher's pinned mode.
//
// mcpgate resolves a document host itself, through a resolver cluster, so
// that it knows the exact address Envoy will connect to: it vets every
// answer (internal/netguard) and then pins the connection to one of them. The resolver
// is trusted (the operator picks it); its answers are not (the zone belongs
// to whoever chose the client_id), so the parser is strict and bounded:
//
//   - the header must be a response (QR), opcode QUERY, not truncated (TC),
//     with the query's ID (0, RFC 8484 §4.1) and exactly our question back;
//   - names are decoded with compression pointers that must point strictly
//     backwards, below every offset already visited for that name, so a
//     pointer loop cannot exist; names are capped at 255 bytes on the wire;
//   - CNAMEs are followed only inside the answer section, from the queried
//     name, at most 16 steps, and a loop or a fork is an error;
//   - A and AAAA records must have 4 and 16 bytes of data;
//   - every A and AAAA record in the answer section is returned for vetting,
//     including records for names off the CNAME chain (never used, but a
//     resolver that returns them is treated as meaning them);
//   - RCODE: NOERROR is an answer (possibly empty), NXDOMAIN is "no such
//     host", anything else a resolver failure. The authority and additional
//     sections are ignored.

// DNS constants (RFC 1035 §3.2, RFC 3596).
const (
	dnsTypeA     uint16 = 1
	dnsTypeCNAME uint16 = 5
	dnsTypeAAAA  uint16 = 28
	dnsClassIN   uint16 = 1

	dnsMaxMessage = 65535
	dnsMaxAnswers = 256
	dnsMaxCNAMEs  = 16
)

// Resolution errors. errDNSNoSuchHost is NXDOMAIN; the others are resolver
// or message failures.
var (
	errDNSNoSuchHost = errors.New("dns: no such host (NXDOMAIN)")
	errDNSTruncated  = errors.New("dns: truncated message")
)

// dnsAnswer is the parsed answer to one question.
type dnsAnswer struct {
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

// buildDNSQuery encodes a recursive query for host (a checked host name,
// no trailing dot) with ID 0.
func buildDNSQuery(host string, qtype uint16) ([]byte, error) {
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
	q = binary.BigEndian.AppendUint16(q, qtype)
	q = binary.BigEndian.AppendUint16(q, dnsClassIN)
	return q, nil
}

// dohQueryPath returns the GET request target of RFC 8484 §4.1 for the
// query: path?dns=<base64url without padding>.
func dohQueryPath(path, host string, qtype uint16) (string, error) {
	q, err := buildDNSQuery(host, qtype)
	if err != nil {
		return "", err
	}
	return path + "?dns=" + base64.RawURLEncoding.EncodeToString(q), nil
}

// dnsRR is one resource record of the answer section.
type dnsRR struct {
	name  string
	typ   uint16
	class uint16
	ttl   uint32
	data  []byte
	// target is the decoded CNAME target, for CNAME records.
	target string
}

// parseDNSResponse parses a response to the query buildDNSQuery(host,
// qtype) made. host is compared case-insensitively.
func parseDNSResponse(msg []byte, host string, qtype uint16) (*dnsAnswer, error) {
	if len(msg) > dnsMaxMessage {
		return nil, errors.New("dns: message too large")
	}
	if len(msg) < 12 {
		return nil, errDNSTruncated
	}
	id := binary.BigEndian.Uint16(msg[0:])
	flags := binary.BigEndian.Uint16(msg[2:])
	qd := binary.BigEndian.Uint16(msg[4:])
	an := binary.BigEndian.Uint16(msg[6:])
	switch {
	case id != 0:
		return nil, errors.New("dns: response ID does not match the query")
	case flags&0x8000 == 0:
		return nil, errors.New("dns: not a response")
	case (flags>>11)&0xf != 0:
		return nil, errors.New("dns: unexpected opcode")
	case flags&0x0200 != 0:
		return nil, errors.New("dns: response truncated by the resolver (TC)")
	}
	switch rcode := flags & 0xf; rcode {
	case 0:
	case 3:
		return nil, errDNSNoSuchHost
	case 2:
		return nil, errors.New("dns: resolver failure (SERVFAIL)")
	case 5:
		return nil, errors.New("dns: query refused by the resolver (REFUSED)")
	default:
		return nil, errors.New("dns: resolver error (RCODE " + strconv.Itoa(int(rcode)) + ")")
	}
	if qd != 1 {
		return nil, errors.New("dns: response must echo exactly one question")
	}
	off := 12
	qname, off, err := readDNSName(msg, off)
	if err != nil {
		return nil, err
	}
	if off+4 > len(msg) {
		return nil, errDNSTruncated
	}
	want := strings.ToLower(host)
	if qname != want || binary.BigEndian.Uint16(msg[off:]) != qtype || binary.BigEndian.Uint16(msg[off+2:]) != dnsClassIN {
		return nil, errors.New("dns: response is for another question")
	}
	off += 4
	if an > dnsMaxAnswers {
		return nil, errors.New("dns: too many answer records")
	}
	rrs := make([]dnsRR, 0, an)
	for i := 0; i < int(an); i++ {
		var rr dnsRR
		rr.name, off, err = readDNSName(msg, off)
		if err != nil {
			return nil, err
		}
		if off+10 > len(msg) {
			return nil, errDNSTruncated
		}
		rr.typ = binary.BigEndian.Uint16(msg[off:])
		rr.class = binary.BigEndian.Uint16(msg[off+2:])
		rr.ttl = binary.BigEndian.Uint32(msg[off+4:])
		if rr.ttl > 1<<31-1 { // RFC 2181 §8: treat as zero
			rr.ttl = 0
		}
		n := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		if off+n > len(msg) {
			return nil, errDNSTruncated
		}
		rr.data = msg[off : off+n]
		if rr.class == dnsClassIN {
			switch rr.typ {
			case dnsTypeA:
				if n != 4 {
					return nil, errors.New("dns: A record with " + strconv.Itoa(n) + " bytes of data")
				}
			case dnsTypeAAAA:
				if n != 16 {
					return nil, errors.New("dns: AAAA record with " + strconv.Itoa(n) + " bytes of data")
				}
			case dnsTypeCNAME:
				var end int
				rr.target, end, err = readDNSName(msg, off)
				if err != nil {
					return nil, err
				}
				if end != off+n {
					return nil, errors.New("dns: CNAME data length does not match its name")
				}
			}
		}
		off += n
		rrs = append(rrs, rr)
	}

	ans := &dnsAnswer{TTL: 1<<32 - 1}
	used := func(ttl uint32) {
		if ttl < ans.TTL {
			ans.TTL = ttl
		}
	}
	// Follow CNAMEs from the queried name, inside the answer only.
	target := want
	seen := map[string]bool{target: true}
	for {
		var next *dnsRR
		for i := range rrs {
			rr := &rrs[i]
			if rr.class == dnsClassIN && rr.typ == dnsTypeCNAME && rr.name == target {
				if next != nil && next.target != rr.target {
					return nil, errors.New("dns: several CNAMEs for one name")
				}
				next = rr
			}
		}
		if next == nil {
			break
		}
		if seen[next.target] {
			return nil, errors.New("dns: CNAME loop")
		}
		if len(ans.Chain) == dnsMaxCNAMEs {
			return nil, errors.New("dns: CNAME chain too long")
		}
		seen[next.target] = true
		ans.Chain = append(ans.Chain, next.target)
		used(next.ttl)
		target = next.target
	}
	for i := range rrs {
		rr := &rrs[i]
		if rr.class != dnsClassIN || (rr.typ != dnsTypeA && rr.typ != dnsTypeAAAA) {
			continue
		}
		ip, _ := netip.AddrFromSlice(rr.data)
		if rr.typ == qtype && rr.name == target {
			ans.Addrs = append(ans.Addrs, ip)
			used(rr.ttl)
		} else {
			ans.Others = append(ans.Others, ip)
		}
	}
	if len(ans.Addrs) == 0 {
		ans.TTL = 0
	}
	return ans, nil
}

// readDNSName decodes the (possibly compressed) name at off and returns it
// in lower case without the trailing dot ("" for the root), with bytes
// other than letters, digits, "-" and "_" escaped as \DDD so that distinct
// names never decode alike. next is the offset after the name as stored at
// off.
func readDNSName(msg []byte, off int) (name string, next int, err error) {
	var b []byte
	// limit: every compression pointer must point below every offset
	// visited so far for this name, so each jump strictly decreases it
	// and a loop is impossible.
	limit := off
	next = -1
	wire := 0
	for {
		if off >= len(msg) {
			return "", 0, errDNSTruncated
		}
		c := msg[off]
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(b) > 0 {
					b = b[:len(b)-1]
				}
				return string(b), next, nil
			}
			l := int(c)
			if off+1+l > len(msg) {
				return "", 0, errDNSTruncated
			}
			wire += 1 + l
			if wire+1 > 255 {
				return "", 0, errors.New("dns: name longer than 255 bytes")
			}
			for _, ch := range msg[off+1 : off+1+l] {
				switch {
				case 'A' <= ch && ch <= 'Z':
					b = append(b, ch+'a'-'A')
				case 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
					b = append(b, ch)
				default:
					b = append(b, '\\', '0'+ch/100, '0'+ch/10%10, '0'+ch%10)
				}
			}
			b = append(b, '.')
			off += 1 + l
		case 0xc0:
			if off+1 >= len(msg) {
				return "", 0, errDNSTruncated
			}
			ptr := int(c&0x3f)<<8 | int(msg[off+1])
			if next < 0 {
				next = off + 2
			}
			if ptr >= limit {
				return "", 0, errors.New("dns: compression pointer does not point backwards")
			}
			limit = ptr
			off = ptr
		default:
			return "", 0, errors.New("dns: unsupported label type")
		}
	}
}

// dohResult is what resolveHost hands on: the addresses to connect to and
// every address seen, for vetting.
type dohResult struct {
	// Use lists the A then AAAA addresses of the host.
	Use []netip.Addr
	// All lists every A and AAAA address in both answers.
	All []netip.Addr
	// TTL is the smallest TTL of the records used.
	TTL uint32
}

// resolveHost resolves host through the DoH cluster: an A query, then an
// AAAA query, each a [Call]. An NXDOMAIN answer to the A query ends the
// resolution. Failures are *Error values ready for the error page.
func (e *Engine) resolveHost(host string, then func(*dohResult, *Error) Outcome) Outcome {
	res := &dohResult{TTL: 1<<32 - 1}
	return e.dohQuery(host, dnsTypeA, func(a *dnsAnswer, err error) Outcome {
		if errors.Is(err, errDNSNoSuchHost) {
			return then(nil, cimdClientError("the client metadata document host does not exist", err))
		}
		if err != nil {
			return then(nil, cimdUnavailable("the client metadata document host could not be resolved", err))
		}
		res.add(a)
		return e.dohQuery(host, dnsTypeAAAA, func(aaaa *dnsAnswer, err error) Outcome {
			if errors.Is(err, errDNSNoSuchHost) {
				return then(nil, cimdClientError("the client metadata document host does not exist", err))
			}
			if err != nil {
				return then(nil, cimdUnavailable("the client metadata document host could not be resolved", err))
			}
			res.add(aaaa)
			if len(res.Use) == 0 {
				return then(nil, cimdClientError("the client metadata document host has no address", nil))
			}
			return then(res, nil)
		})
	})
}

func (r *dohResult) add(a *dnsAnswer) {
	r.Use = append(r.Use, a.Addrs...)
	r.All = append(r.All, a.Addrs...)
	r.All = append(r.All, a.Others...)
	if len(a.Addrs) > 0 && a.TTL < r.TTL {
		r.TTL = a.TTL
	}
}

// dohQuery performs one RFC 8484 GET on the DoH cluster and parses the
// answer.
func (e *Engine) dohQuery(host string, qtype uint16, then func(*dnsAnswer, error) Outcome) Outcome {
	cfg := &e.cfg.CIMD
	path, err := dohQueryPath(cfg.DoHPath, host, qtype)
	if err != nil {
		return then(nil, err)
	}
	start := e.now()
	return Call{
		Cluster:   cfg.DoHCluster,
		Method:    "GET",
		Authority: cfg.DoHAuthority,
		Path:      path,
		Headers:   Header{{"accept", "application/dns-message"}},
		Timeout:   cfg.Timeout,
		Resume: func(r CallResult) Outcome {
			switch {
			case r.Err != nil:
				return then(nil, errors.New("doh: call failed: "+r.Err.Error()))
			case e.now().Sub(start) > cfg.Timeout:
				return then(nil, errors.New("doh: answer came after the timeout"))
			case r.Status != 200:
				return then(nil, errors.New("doh: resolver answered status "+strconv.Itoa(r.Status)))
			case cimdMediaType(r.Headers) != "application/dns-message":
				return then(nil, errors.New("doh: resolver answered content-type "+strconv.Quote(r.Headers.Get("content-type"))))
			}
			a, err := parseDNSResponse(r.Body, host, qtype)
			return then(a, err)
		},
	}
}

// cimdMediaType returns the lower-case media type of the single content-type
// header, without parameters; "" when absent or repeated.
func cimdMediaType(h Header) string {
	if h.Count("content-type") != 1 {
		return ""
	}
	t, _, _ := strings.Cut(h.Get("content-type"), ";")
	return strings.ToLower(strings.TrimSpace(t))
}
