package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/signpost-project/signpost/internal/recovery"
)

// listenUDP binds a UDP socket with SO_REUSEPORT, so that several sockets (one reader each) share a port.
func listenUDP(addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// udpLoop reads queries from one socket until it is closed, answering on the fast path when it can and on
// the full path otherwise.
func (s *Server) udpLoop(c *net.UDPConn) {
	if !s.noBatch && s.udpLoopBatch(c) {
		return
	}
	in := make([]byte, 65535)
	out := make([]byte, 0, 65535)
	for {
		n, from, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if s.panicHook != nil {
			s.panicHook(EdgeUDP, "")
		}
		if b, ok := s.fast(in[:n], out); ok {
			out = b
			_, _ = c.WriteToUDPAddrPort(b, from)
			continue
		}
		s.slowUDP(c, in[:n], from)
	}
}

// slowUDP runs one UDP message through the full path, as miekg/dns's server would: accept function, unpack,
// TSIG check, handler. A panic on the way is contained: the query gets SERVFAIL.
func (s *Server) slowUDP(c *net.UDPConn, pkt []byte, from netip.AddrPort) {
	w := &udpWriter{conn: c, remote: from, keys: s.keys}
	defer func() {
		if v := recover(); v != nil {
			recovery.Report(s.log, EdgeQuery, v)
			if b, ok := servfailWire(pkt, nil); ok {
				s.m.query(0, dns.RcodeServerFailure)
				_, _ = w.Write(b)
			}
		}
	}()
	s.serveRaw(pkt, w)
}

// servfailWire appends to out[:0] a SERVFAIL reply to the query q, built from its bytes alone (nothing that can
// panic): its ID, opcode, RD and CD bits, and its question when q has one that can be read. ok is false for what
// must get no answer: a message shorter than a header, or a response.
func servfailWire(q, out []byte) (_ []byte, ok bool) {
	if len(q) < 12 || q[2]&0x80 != 0 {
		return nil, false
	}
	out = append(out[:0], q[0], q[1], 0x80|q[2]&0x79, q[3]&0x10|dns.RcodeServerFailure, 0, 0, 0, 0, 0, 0, 0, 0)
	if q[4] != 0 || q[5] != 1 {
		return out, true
	}
	off := 12
	for off < len(q) && off < 12+255 {
		l := int(q[off])
		if l == 0 {
			if off+5 <= len(q) {
				out[5] = 1
				out = append(out, q[12:off+5]...)
			}
			return out, true
		}
		if l > 63 {
			return out, true
		}
		off += 1 + l
	}
	return out, true
}

// serveRaw is miekg/dns's serveDNS for our own writers.
func (s *Server) serveRaw(pkt []byte, w *udpWriter) {
	var dh dns.Header
	if len(pkt) < 12 {
		return // too short to answer; any reply could be used to amplify
	}
	dh.Id = binary.BigEndian.Uint16(pkt[0:])
	dh.Bits = binary.BigEndian.Uint16(pkt[2:])
	dh.Qdcount = binary.BigEndian.Uint16(pkt[4:])
	dh.Ancount = binary.BigEndian.Uint16(pkt[6:])
	dh.Nscount = binary.BigEndian.Uint16(pkt[8:])
	dh.Arcount = binary.BigEndian.Uint16(pkt[10:])
	req := new(dns.Msg)
	action := acceptFunc(dh)
	if action == dns.MsgAccept {
		if err := req.Unpack(pkt); err != nil {
			action = dns.MsgReject
		}
	}
	switch action {
	case dns.MsgIgnore:
		return
	case dns.MsgReject, dns.MsgRejectNotImplemented:
		m := new(dns.Msg)
		m.Id = dh.Id
		m.Response = true
		m.Opcode = int(dh.Bits>>11) & 0xF
		m.Rcode = dns.RcodeFormatError
		if action == dns.MsgRejectNotImplemented {
			m.Rcode = dns.RcodeNotImplemented
		}
		s.m.query(0, m.Rcode)
		_ = w.WriteMsg(m)
		return
	}
	if len(req.Question) == 1 && malformed(pkt) {
		s.formerr(w, req)
		return
	}
	if t := req.IsTsig(); t != nil {
		w.tsigStatus = dns.TsigVerifyWithProvider(pkt, s.keys, "", false)
		w.tsigMAC = t.MAC
	}
	s.ServeDNS(w, req)
}

// udpWriter is a dns.ResponseWriter for one UDP query read by our own loop.
type udpWriter struct {
	conn       *net.UDPConn
	remote     netip.AddrPort
	keys       tsigKeys
	tsigStatus error
	tsigMAC    string
	captured   [][]byte // without a conn (tests): what was written
}

func (w *udpWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *udpWriter) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(w.remote) }
func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	var b []byte
	var err error
	if m.IsTsig() != nil {
		b, _, err = dns.TsigGenerateWithProvider(m, w.keys, w.tsigMAC, false)
	} else {
		b, err = m.Pack()
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *udpWriter) Write(b []byte) (int, error) {
	if w.conn == nil { // tests: capture
		w.captured = append(w.captured, append([]byte(nil), b...))
		return len(b), nil
	}
	return w.conn.WriteToUDPAddrPort(b, w.remote)
}
func (w *udpWriter) Close() error        { return nil }
func (w *udpWriter) TsigStatus() error   { return w.tsigStatus }
func (w *udpWriter) TsigTimersOnly(bool) {}
func (w *udpWriter) Hijack()             {}

// fast answers a plain UDP query from a cached canonical answer: QR clear, opcode QUERY, one question of class
// IN in uncompressed wire form with ordinary label characters, no other records but an optional plain OPT
// (version 0). It returns false, having sent nothing, for anything else (or when no cached answer is there or
// the answer does not fit); the full path then answers. A panic is contained: the query gets SERVFAIL.
func (s *Server) fast(q []byte, out []byte) (res []byte, answered bool) {
	defer func() {
		if v := recover(); v != nil {
			res, answered = s.fastPanicked(v, q, out)
		}
	}()
	return s.fastLocked(q, out, false)
}

// fastPanicked reports the panic v of the fast path on the query q and returns the SERVFAIL answer to it, in out.
func (s *Server) fastPanicked(v any, q, out []byte) ([]byte, bool) {
	recovery.Report(s.log, EdgeQuery, v)
	b, ok := servfailWire(q, out)
	if ok {
		s.m.query(0, dns.RcodeServerFailure)
	}
	return b, ok
}

// fastLocked is fast without the panic recovery (its callers recover: fast per query, the recvmmsg loop per
// batch); locked says the caller holds the read lock.
func (s *Server) fastLocked(q []byte, out []byte, locked bool) ([]byte, bool) {
	if len(q) < 17 {
		return nil, false
	}
	if q[2]&0xfa != 0 || q[3]&0x4f != 0 { // QR, opcode, TC; Z, rcode (AA, RD and AD/CD tolerated)
		return nil, false
	}
	if q[4] != 0 || q[5] != 1 || q[6]|q[7]|q[8]|q[9]|q[10] != 0 || q[11] > 1 {
		return nil, false
	}
	var name [256]byte
	nl := 0
	off := 12
	for {
		if off >= len(q) {
			return nil, false
		}
		l := int(q[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(q) || nl+l+1 > 254 {
			return nil, false
		}
		for _, ch := range q[off : off+l] {
			lc := labelChar[ch]
			if lc == 0 {
				return nil, false
			}
			name[nl] = lc
			nl++
		}
		name[nl] = '.'
		nl++
		off += l
	}
	if nl == 0 || off+4 > len(q) {
		return nil, false
	}
	qnEnd := off
	qtype := binary.BigEndian.Uint16(q[off:])
	if binary.BigEndian.Uint16(q[off+2:]) != dns.ClassINET || qtype == 0 || qtype == dns.TypeOPT ||
		(qtype >= 128 && qtype != dns.TypeANY) {
		return nil, false
	}
	off += 4
	opt, do := false, false
	limit := 512
	if q[11] == 1 {
		// OPT: root owner, type 41, version 0, options well formed.
		if off+11 > len(q) || q[off] != 0 || binary.BigEndian.Uint16(q[off+1:]) != dns.TypeOPT ||
			q[off+5] != 0 || q[off+6] != 0 || q[off+8]&0x7f != 0 {
			return nil, false
		}
		opt, do = true, q[off+7]&0x80 != 0
		limit = max(512, min(int(binary.BigEndian.Uint16(q[off+3:])), s.cfg.UDPSize))
		rdlen := int(binary.BigEndian.Uint16(q[off+9:]))
		off += 11
		if off+rdlen != len(q) {
			return nil, false
		}
		for end := off + rdlen; off < end; {
			if off+4 > end {
				return nil, false
			}
			off += 4 + int(binary.BigEndian.Uint16(q[off+2:]))
		}
		if off != len(q) {
			return nil, false
		}
	} else if off != len(q) {
		return nil, false
	}
	if s.panicHook != nil {
		s.panicHook(EdgeQuery, string(name[:nl]))
	}
	var nxb [512]byte
	if !locked {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	z := s.findZoneBytes(name[:nl])
	if z == nil {
		return nil, false
	}
	var c []byte
	if set, kind, t := z.compactBytes(name[:nl]); t != nil {
		c = t.lookup(uint16(set), kind, qtype, z.gen)
	} else if n := z.nodes[string(name[:nl])]; n != nil {
		c = n.lookupCache(qtype, z.gen)
	} else if z.wild == 0 && z.below[string(name[:nl])] == 0 && !z.psetBelowBytes(name[:nl]) {
		c = z.nxdomain(name[:nl], qnEnd-12, nxb[:0])
	}
	need := len(c) + 2 + qnEnd + 4 - 12
	if opt {
		need += 11
	}
	if len(c) < 10 || need > limit {
		return nil, false
	}
	flags := uint16(q[2]&0x01)<<8 | uint16(q[3]&0x10)
	out = s.finish(out, c, binary.BigEndian.Uint16(q), flags, q[12:qnEnd+4], opt, do)
	s.m.query(qtype, int(c[1]&0xf))
	return out, true
}

// labelChar maps the bytes the fast path takes in names (letters, digits, '-', '_', '*') to lower case; 0 for
// any other byte (the full path handles those names).
var labelChar = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = byte(c), byte(c)
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	t['-'], t['_'], t['*'] = '-', '_', '*'
	return t
}()

// findZoneBytes is findZone for a name in a byte slice, without allocation: the longest zone name that is a
// suffix of name at a label boundary.
func (s *Server) findZoneBytes(name []byte) *zoneIdx {
	for _, z := range s.zoneList {
		zn := z.name
		if len(zn) > len(name) {
			continue
		}
		if string(name[len(name)-len(zn):]) == zn && (len(zn) == len(name) || zn == "." || name[len(name)-len(zn)-1] == '.') {
			return z
		}
	}
	return nil
}
