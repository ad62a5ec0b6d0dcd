package dnsmsg

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

func refMalformed(err error) error { return errors.New("dns: malformed message: " + err.Error()) }

// parseRef is Parse as it was written over dnsmessage.Parser, kept as the
// oracle of FuzzParseAgainstDNSMessage: the records are read by dnsmessage,
// then given to the same answer.
func parseRef(msg []byte, host string, qtype dnsmessage.Type) (*Answer, error) {
	if len(msg) > MaxMessage {
		return nil, errors.New("dns: message too large")
	}
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, refMalformed(err)
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
		return nil, refMalformed(err)
	}
	want := strings.ToLower(host)
	if refName(q.Name) != want || q.Type != qtype || q.Class != dnsmessage.ClassINET {
		return nil, errors.New("dns: response is for another question")
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, refMalformed(err)
	}
	if an > MaxAnswers {
		return nil, errors.New("dns: too many answer records")
	}
	rrs := make([]rr, 0, an)
	for range an {
		hdr, err := p.AnswerHeader()
		if err != nil {
			return nil, refMalformed(err)
		}
		r := rr{name: refName(hdr.Name), typ: Type(hdr.Type), ttl: hdr.TTL}
		if r.ttl > 1<<31-1 { // RFC 2181 §8: treat as zero
			r.ttl = 0
		}
		if hdr.Class != dnsmessage.ClassINET {
			if err := p.SkipAnswer(); err != nil {
				return nil, refMalformed(err)
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
				return nil, refMalformed(err)
			}
			r.addr = netip.AddrFrom4(a.A)
		case dnsmessage.TypeAAAA:
			if hdr.Length != 16 {
				return nil, errors.New("dns: AAAA record with " + strconv.Itoa(int(hdr.Length)) + " bytes of data")
			}
			a, err := p.AAAAResource()
			if err != nil {
				return nil, refMalformed(err)
			}
			r.addr = netip.AddrFrom16(a.AAAA)
		case dnsmessage.TypeCNAME:
			c, err := p.CNAMEResource()
			if err != nil {
				return nil, refMalformed(err)
			}
			r.target = refName(c.CNAME)
		default:
			if err := p.SkipAnswer(); err != nil {
				return nil, refMalformed(err)
			}
			continue
		}
		rrs = append(rrs, r)
	}
	return answer(rrs, want, Type(qtype))
}

// name returns n in lower case without the trailing dot ("" for the root),
// with bytes other than letters, digits, "-" and "_" escaped as \DDD so
// that distinct names never compare alike (dnsmessage refuses a dot inside
// a label, so every "." left separates labels).
func refName(n dnsmessage.Name) string {
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
