package dnsserver

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Malformed queries, answered as Knot answers them (checked against knotd in TestMalformedLikeKnot): an OPT
// record outside the additional section, more than one OPT, or bytes after the last record get FORMERR with
// the question echoed, RD copied and nothing else (no AA, no CD, no OPT). miekg/dns accepts all three, so the
// full path checks them itself: from the raw bytes on UDP, and on TCP through a reader that turns trailing
// bytes into the two-OPT form the handler recognises.

// malformed reports whether pkt (a whole message) has an OPT record outside the additional section, more than
// one OPT record, or bytes after its last record. A message that cannot be walked (truncated, bad names)
// reports false: the parser rejects it.
func malformed(pkt []byte) bool {
	if len(pkt) < 12 {
		return false
	}
	off := 12
	for range binary.BigEndian.Uint16(pkt[4:]) {
		if off = skipName(pkt, off); off < 0 || off+4 > len(pkt) {
			return false
		}
		off += 4
	}
	an, ns, ar := int(binary.BigEndian.Uint16(pkt[6:])), int(binary.BigEndian.Uint16(pkt[8:])), int(binary.BigEndian.Uint16(pkt[10:]))
	opts := 0
	for i := range an + ns + ar {
		if off = skipName(pkt, off); off < 0 || off+10 > len(pkt) {
			return false
		}
		if binary.BigEndian.Uint16(pkt[off:]) == dns.TypeOPT {
			if i < an+ns {
				return true
			}
			if opts++; opts > 1 {
				return true
			}
		}
		off += 10 + int(binary.BigEndian.Uint16(pkt[off+8:]))
		if off > len(pkt) {
			return false
		}
	}
	return off != len(pkt)
}

// skipName returns the offset after the (possibly compressed) name at pkt[off:], or -1.
func skipName(pkt []byte, off int) int {
	for off < len(pkt) {
		l := int(pkt[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xc0 == 0xc0:
			if off+2 > len(pkt) {
				return -1
			}
			return off + 2
		case l&0xc0 != 0:
			return -1
		default:
			off += 1 + l
		}
	}
	return -1
}

// optMisplaced reports whether a parsed query holds an OPT record outside the additional section or more
// than one.
func optMisplaced(r *dns.Msg) bool {
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return true
			}
		}
	}
	n := 0
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n > 1
}

// formerr answers a malformed query as Knot does: FORMERR, the question echoed, RD copied, nothing else.
func (s *Server) formerr(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.Id, m.Response, m.Opcode, m.Rcode = r.Id, true, r.Opcode, dns.RcodeFormatError
	m.RecursionDesired = r.RecursionDesired
	m.Question = r.Question
	var qtype uint16
	if len(r.Question) > 0 {
		qtype = r.Question[0].Qtype
	}
	s.m.query(qtype, dns.RcodeFormatError)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns write failed", "err", err)
	}
}

// strictReader is the TCP reader: a message with bytes after its last record (which miekg/dns ignores) is
// handed on as its header and question followed by two OPT records, which the handler answers FORMERR.
type strictReader struct{ dns.Reader }

func (r strictReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	b, err := r.Reader.ReadTCP(conn, timeout)
	if err != nil || !malformed(b) {
		return b, err
	}
	off := 12
	if binary.BigEndian.Uint16(b[4:]) != 1 {
		return b, nil // rejected from the header
	}
	if off = skipName(b, off); off < 0 || off+4 > len(b) {
		return b, nil
	}
	off += 4
	out := make([]byte, 0, off+22)
	out = append(out, b[:off]...)
	out[6], out[7], out[8], out[9], out[10], out[11] = 0, 0, 0, 0, 0, 2
	opt := []byte{0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0}
	out = append(append(out, opt...), opt...)
	return out, nil
}
