package dnsserver

import (
	"encoding/binary"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/recovery"
)

// acceptFunc decides, from the header alone, which messages reach the handler: responses are dropped, UPDATE
// and unknown opcodes get NOTIMP, and a query must have exactly one question (else FORMERR).
func acceptFunc(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 { // QR: never answer a response
		return dns.MsgIgnore
	}
	switch opcode := int(dh.Bits>>11) & 0xF; opcode {
	case dns.OpcodeQuery, dns.OpcodeNotify:
	default:
		return dns.MsgRejectNotImplemented
	}
	if dh.Qdcount != 1 || dh.Ancount > 1 || dh.Nscount > 1 || dh.Arcount > 2 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// ServeDNS is the full (slow) path for every message the accept function lets through. A panic while answering
// is contained: the query gets SERVFAIL, and the server goes on.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	defer func() {
		if v := recover(); v != nil {
			s.servfail(w, r, v)
		}
	}()
	s.serveDNS(w, r)
}

// servfail reports the panic v and answers r with SERVFAIL, as coredns does.
func (s *Server) servfail(w dns.ResponseWriter, r *dns.Msg, v any) {
	recovery.Report(s.log, EdgeQuery, v)
	var qtype uint16
	if len(r.Question) > 0 {
		qtype = r.Question[0].Qtype
	}
	s.m.query(qtype, dns.RcodeServerFailure)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	// The writer failed once already, maybe: a second panic must not escape either.
	_ = recovery.Call(s.log, EdgeQuery, func() { _ = w.WriteMsg(m) })
}

func (s *Server) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		// The header promised a question the message did not hold (miekg/dns unpacks short messages).
		m := new(dns.Msg)
		m.Id, m.Response, m.Opcode, m.Rcode = r.Id, true, r.Opcode, dns.RcodeFormatError
		s.m.query(0, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	if optMisplaced(r) {
		s.formerr(w, r)
		return
	}
	q := r.Question[0]
	if s.panicHook != nil {
		s.panicHook(EdgeQuery, strings.ToLower(q.Name))
	}
	if t := r.IsTsig(); t != nil && w.TsigStatus() != nil {
		// Unknown key, bad MAC or time: NOTAUTH, unsigned (we cannot sign with a key we cannot trust).
		s.log.Info("dns TSIG check failed", "remote", w.RemoteAddr().String(), "key", t.Hdr.Name, "err", w.TsigStatus())
		s.reply(w, r, dns.RcodeNotAuth, false)
		return
	}
	if r.Opcode == dns.OpcodeNotify {
		s.reply(w, r, dns.RcodeRefused, true) // we are the primary of our zones
		return
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		s.transfer(w, r)
		return
	}
	if q.Qclass != dns.ClassINET {
		s.reply(w, r, dns.RcodeRefused, true)
		return
	}
	s.query(w, r)
}

// reply sends an answer with rcode and no records, signed when the query was signed with a valid key and
// sign is true.
func (s *Server) reply(w dns.ResponseWriter, r *dns.Msg, rcode int, sign bool) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.RecursionAvailable = false
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(uint16(s.cfg.UDPSize), opt.Do())
	}
	if t := r.IsTsig(); t != nil && sign && w.TsigStatus() == nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
	s.m.query(r.Question[0].Qtype, rcode)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns write failed", "err", err)
	}
}

// query answers a standard query from the index.
func (s *Server) query(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	opt := r.IsEdns0()
	if opt != nil && opt.Version() != 0 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeBadVers)
		m.SetEdns0(uint16(s.cfg.UDPSize), opt.Do())
		s.m.query(q.Qtype, dns.RcodeBadVers)
		_ = w.WriteMsg(m)
		return
	}
	limit := 512
	if opt != nil {
		limit = max(512, min(int(opt.UDPSize()), s.cfg.UDPSize))
	}
	if !udp {
		limit = dns.MaxMsgSize
	}
	qname := strings.ToLower(q.Name)
	s.mu.RLock()
	c, rcode, ok := s.canonical(qname, q.Qtype)
	s.mu.RUnlock()
	if !ok {
		c = refusedMsg(qname, q.Qtype, q.Qclass)
	}
	if c == nil {
		s.reply(w, r, rcode, true)
		return
	}
	s.m.query(q.Qtype, rcode)
	if t := r.IsTsig(); t != nil {
		// Signed query (a secondary's SOA check): build the message and let the writer sign it.
		m, err := expand(c, qname, q.Qtype, q.Qclass)
		if err != nil {
			s.reply(w, r, dns.RcodeServerFailure, true)
			return
		}
		m.Id, m.RecursionDesired, m.CheckingDisabled = r.Id, r.RecursionDesired, r.CheckingDisabled
		m.Question = r.Question
		m.Compress = true
		if opt != nil {
			m.SetEdns0(uint16(s.cfg.UDPSize), opt.Do())
		}
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
		if udp {
			m.Truncate(limit)
		}
		_ = w.WriteMsg(m)
		return
	}
	var qn [260]byte
	n, err := dns.PackDomainName(q.Name, qn[:], 0, nil, false)
	if err != nil {
		s.reply(w, r, dns.RcodeFormatError, false)
		return
	}
	n = copy(qn[n:], []byte{byte(q.Qtype >> 8), byte(q.Qtype), byte(q.Qclass >> 8), byte(q.Qclass)}) + n
	var flags uint16
	if r.RecursionDesired {
		flags |= 1 << 8
	}
	if r.CheckingDisabled {
		flags |= 1 << 4
	}
	out := s.finish(make([]byte, 0, len(c)+n+13), c, r.Id, flags, qn[:n], opt != nil, opt != nil && opt.Do())
	if len(out) > limit {
		// Too big for the client's UDP buffer: as many whole RRsets as fit, with TC.
		m, err := expand(c, qname, q.Qtype, q.Qclass)
		if err != nil {
			s.reply(w, r, dns.RcodeServerFailure, false)
			return
		}
		m.Compress = true
		if opt != nil {
			m.SetEdns0(uint16(s.cfg.UDPSize), opt.Do())
		}
		m.Truncate(limit)
		b, err := m.Pack()
		if err != nil {
			s.reply(w, r, dns.RcodeServerFailure, false)
			return
		}
		out = s.finish(out[:0], compact(b), r.Id, flags, qn[:n], false, false)
	}
	if _, err := w.Write(out); err != nil {
		s.log.Debug("dns write failed", "err", err)
	}
}

// finish makes the reply to a query from a canonical answer c (compact form): the query's ID, its RD and CD
// bits, the question as the client wrote it (qn: name in wire form, same length as the canonical one, type and
// class) and, when opt, our OPT record with the DO bit do. It appends to out.
func (s *Server) finish(out, c []byte, id, flags uint16, qn []byte, opt, do bool) []byte {
	out = append(out[:0], byte(id>>8), byte(id))
	out = append(out, c[:10]...)
	out = append(out, qn...)
	out = append(out, c[10:]...)
	out[2] |= byte(flags >> 8)
	out[3] |= byte(flags)
	if opt {
		binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
		var dob byte
		if do {
			dob = 0x80
		}
		out = append(out, 0, 0, 41, byte(s.cfg.UDPSize>>8), byte(s.cfg.UDPSize), 0, 0, dob, 0, 0, 0)
	}
	return out
}

// expand turns a canonical answer back into a message, with the lower-case question.
func expand(c []byte, qname string, qtype, qclass uint16) (*dns.Msg, error) {
	var qn [260]byte
	n, err := dns.PackDomainName(qname, qn[:], 0, nil, false)
	if err != nil {
		return nil, err
	}
	n += copy(qn[n:], []byte{byte(qtype >> 8), byte(qtype), byte(qclass >> 8), byte(qclass)})
	full := append(append(append([]byte{0, 0}, c[:10]...), qn[:n]...), c[10:]...)
	m := new(dns.Msg)
	if err := m.Unpack(full); err != nil {
		return nil, err
	}
	return m, nil
}
