package dnsserver

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/sml/zone"
)

// maxEnvelope is the budget of uncompressed record bytes per transfer message (a message may not pass 64 KB).
const maxEnvelope = 32 * 1024

// transfer answers AXFR and IXFR: TCP only for AXFR, from an allowed address, TSIG-signed when required.
func (s *Server) transfer(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	kind := "axfr"
	if q.Qtype == dns.TypeIXFR {
		kind = "ixfr"
	}
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	if udp && q.Qtype == dns.TypeAXFR {
		s.m.transfer(kind, "refused")
		s.reply(w, r, dns.RcodeRefused, true)
		return
	}
	if !s.transferAllowed(w, r) {
		s.m.transfer(kind, "refused")
		s.log.Info("dns transfer refused", "remote", w.RemoteAddr().String(), "zone", q.Name, "type", kind)
		s.reply(w, r, dns.RcodeRefused, true)
		return
	}
	name := strings.ToLower(q.Name)
	s.mu.RLock()
	z := s.zones[name]
	s.mu.RUnlock()
	if z == nil || q.Qclass != dns.ClassINET {
		s.m.transfer(kind, "refused")
		s.reply(w, r, dns.RcodeNotAuth, true)
		return
	}
	if q.Qtype == dns.TypeIXFR {
		if s.ixfr(w, r, z, udp) {
			return
		}
	}
	// AXFR, or IXFR answered AXFR-style.
	var (
		serial uint32
		n      int
		err    error
	)
	if zs, ok := s.src.(ZoneStreamer); ok {
		serial, n, err = s.axfrStream(w, r, zs, name)
	} else {
		serial, n, err = s.axfrIndex(w, r, name)
	}
	if errors.Is(err, errNoZone) {
		s.m.transfer(kind, "refused")
		s.reply(w, r, dns.RcodeNotAuth, true)
		return
	}
	if err != nil {
		s.m.transfer(kind, "failed")
		s.log.Warn("dns transfer failed", "remote", w.RemoteAddr().String(), "zone", name, "err", err)
		return
	}
	s.m.transfer(kind, "full")
	s.log.Info("dns zone transferred in full", "remote", w.RemoteAddr().String(), "zone", name,
		"type", kind, "serial", serial, "records", n)
}

var errNoZone = errors.New("zone not in the index")

// axfrStream sends the zone as the source streams it from one snapshot (the store's read transaction): the SOA
// at that snapshot's serial, the apex NS records, every record, the SOA again, in messages sent as they fill.
// Nothing but one message is held in memory, and the index stays unlocked.
func (s *Server) axfrStream(w dns.ResponseWriter, r *dns.Msg, zs ZoneStreamer, name string) (serial uint32, n int, err error) {
	s.mu.RLock()
	z := s.zones[name]
	var soa dns.SOA
	var ns []dns.RR
	if z != nil {
		soa = *z.soa
		ns = z.nodes[z.name].set(dns.TypeNS)
	}
	s.mu.RUnlock()
	if z == nil {
		return 0, 0, errNoZone
	}
	x := s.newXfrWriter(w, r)
	err = zs.StreamRecords(name, func(sn uint32) error {
		soa.Serial = sn
		if err := x.add(&soa); err != nil {
			return err
		}
		for _, rr := range ns {
			if err := x.add(rr); err != nil {
				return err
			}
		}
		return nil
	}, func(rec zone.Record) error {
		rr, err := toRR(rec)
		if err != nil || rr.Header().Name == name || !dns.IsSubDomain(name, rr.Header().Name) {
			return nil // left out of the index too (and reported when it loads)
		}
		return x.add(rr)
	})
	if err == nil {
		if err = x.add(&soa); err == nil {
			err = x.flush()
		}
	}
	return soa.Serial, x.n, err
}

// axfrIndex sends the zone from the index at one serial (for sources that cannot stream): its records are
// copied under the read lock, then sent.
func (s *Server) axfrIndex(w dns.ResponseWriter, r *dns.Msg, name string) (uint32, int, error) {
	s.mu.RLock()
	z := s.zones[name]
	if z == nil {
		s.mu.RUnlock()
		return 0, 0, errNoZone
	}
	soa := z.soa
	rrs := make([]dns.RR, 0, z.records+2)
	rrs = append(rrs, soa)
	for owner, n := range z.nodes {
		for _, set := range n.sets {
			if owner != z.name || set.t != dns.TypeSOA {
				rrs = append(rrs, set.rrs...)
			}
		}
	}
	z.eachCompact(func(rr dns.RR) { rrs = append(rrs, rr) })
	s.mu.RUnlock()
	rrs = append(rrs, soa)
	return soa.Serial, len(rrs), s.send(w, r, rrs)
}

// ixfr answers an IXFR incrementally when it can and reports whether it did; false means answer AXFR-style.
func (s *Server) ixfr(w dns.ResponseWriter, r *dns.Msg, z *zoneIdx, udp bool) bool {
	var from uint32
	if len(r.Ns) != 1 {
		return false
	}
	qs, ok := r.Ns[0].(*dns.SOA)
	if !ok {
		return false
	}
	from = qs.Serial
	s.mu.RLock()
	soa := *z.soa
	if cur := s.zones[z.name]; cur != nil {
		soa = *cur.soa
	}
	s.mu.RUnlock()
	if !serialLess(from, soa.Serial) || udp {
		// Up to date (or over UDP, where we do not send transfers): the current SOA alone.
		s.m.transfer("ixfr", "uptodate")
		if err := s.send(w, r, []dns.RR{&soa}); err != nil {
			s.log.Debug("dns write failed", "err", err)
		}
		return true
	}
	steps, ok, err := s.src.Changes(z.name, from)
	if err != nil {
		s.log.Error("dns journal read failed; answering AXFR-style", "zone", z.name, "err", err)
		return false
	}
	if !ok || len(steps) == 0 || steps[0].From != from {
		return false
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].From != steps[i-1].To {
			s.log.Error("dns journal has a gap; answering AXFR-style", "zone", z.name, "at", steps[i].From)
			return false
		}
	}
	last := steps[len(steps)-1].To
	at := func(serial uint32) *dns.SOA {
		c := soa
		c.Serial = serial
		return &c
	}
	out := []dns.RR{at(last)}
	for _, st := range steps {
		out = append(out, at(st.From))
		out = appendRecords(out, st.Deleted)
		out = append(out, at(st.To))
		out = appendRecords(out, st.Added)
	}
	out = append(out, at(last))
	if err := s.send(w, r, out); err != nil {
		s.m.transfer("ixfr", "failed")
		s.log.Warn("dns transfer failed", "remote", w.RemoteAddr().String(), "zone", z.name, "err", err)
		return true
	}
	s.m.transfer("ixfr", "incremental")
	s.log.Info("dns zone transferred incrementally", "remote", w.RemoteAddr().String(), "zone", z.name,
		"from", from, "to", last, "steps", len(steps))
	return true
}

func appendRecords(out []dns.RR, recs []zone.Record) []dns.RR {
	for _, r := range recs {
		if rr, err := toRR(r); err == nil {
			out = append(out, rr)
		}
	}
	return out
}

// send writes rrs as the answer to r in as many messages as needed, each signed when r was.
func (s *Server) send(w dns.ResponseWriter, r *dns.Msg, rrs []dns.RR) error {
	x := s.newXfrWriter(w, r)
	for _, rr := range rrs {
		if err := x.add(rr); err != nil {
			return err
		}
	}
	return x.flush()
}

// xfrWriter sends records as the answer to r in messages of up to maxEnvelope bytes of records (at least one
// record each), each signed when r was; the first carries our OPT when r had one.
type xfrWriter struct {
	s     *Server
	w     dns.ResponseWriter
	r     *dns.Msg
	tsig  *dns.TSIG
	first bool
	buf   []dns.RR
	size  int
	n     int // records added
}

func (s *Server) newXfrWriter(w dns.ResponseWriter, r *dns.Msg) *xfrWriter {
	return &xfrWriter{s: s, w: w, r: r, tsig: r.IsTsig(), first: true}
}

func (x *xfrWriter) add(rr dns.RR) error {
	l := dns.Len(rr)
	if len(x.buf) > 0 && x.size+l > maxEnvelope {
		if err := x.flush(); err != nil {
			return err
		}
	}
	x.buf = append(x.buf, rr)
	x.size += l
	x.n++
	return nil
}

// flush sends the records added since the last message, if any.
func (x *xfrWriter) flush() error {
	if len(x.buf) == 0 {
		return nil
	}
	m := new(dns.Msg)
	m.SetReply(x.r)
	m.Authoritative = true
	m.Compress = true
	m.Answer = x.buf
	if opt := x.r.IsEdns0(); opt != nil && x.first {
		m.SetEdns0(uint16(x.s.cfg.UDPSize), opt.Do())
	}
	if t := x.tsig; t != nil && x.w.TsigStatus() == nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
	if err := x.w.WriteMsg(m); err != nil {
		return err
	}
	x.w.TsigTimersOnly(true)
	x.first = false
	clear(x.buf)
	x.buf, x.size = x.buf[:0], 0
	return nil
}

// transferAllowed: from an allowed address, and signed with the transfer key when one is required.
func (s *Server) transferAllowed(w dns.ResponseWriter, r *dns.Msg) bool {
	var ip netip.Addr
	switch a := w.RemoteAddr().(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	ip = ip.Unmap()
	ok := false
	for _, p := range s.allowed {
		if p.Contains(ip) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	if s.xferKey == "" {
		return true
	}
	t := r.IsTsig()
	return t != nil && w.TsigStatus() == nil && strings.ToLower(t.Hdr.Name) == s.xferKey &&
		strings.EqualFold(t.Algorithm, dns.HmacSHA256)
}
