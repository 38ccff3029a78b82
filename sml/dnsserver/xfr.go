package dnsserver

import (
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
	s.mu.RLock()
	if z = s.zones[name]; z == nil {
		s.mu.RUnlock()
		s.reply(w, r, dns.RcodeNotAuth, true)
		return
	}
	soa := z.soa
	rrs := make([]dns.RR, 0, z.records)
	for owner, n := range z.nodes {
		if owner == z.name {
			for _, set := range n.sets {
				if set.t != dns.TypeSOA {
					rrs = append(rrs, set.rrs...)
				}
			}
			continue
		}
		for _, set := range n.sets {
			rrs = append(rrs, set.rrs...)
		}
	}
	z.eachCompact(func(rr dns.RR) { rrs = append(rrs, rr) })
	s.mu.RUnlock()
	all := make([]dns.RR, 0, len(rrs)+2)
	all = append(all, soa)
	all = append(all, rrs...)
	all = append(all, soa)
	if err := s.send(w, r, all); err != nil {
		s.m.transfer(kind, "failed")
		s.log.Warn("dns transfer failed", "remote", w.RemoteAddr().String(), "zone", name, "err", err)
		return
	}
	s.m.transfer(kind, "full")
	s.log.Info("dns zone transferred in full", "remote", w.RemoteAddr().String(), "zone", name,
		"type", kind, "serial", soa.Serial, "records", len(all))
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
	t := r.IsTsig()
	first := true
	for len(rrs) > 0 {
		size, k := 0, 0
		for k < len(rrs) && (k == 0 || size+dns.Len(rrs[k]) <= maxEnvelope) {
			size += dns.Len(rrs[k])
			k++
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		m.Compress = true
		m.Answer = rrs[:k]
		rrs = rrs[k:]
		if opt := r.IsEdns0(); opt != nil && first {
			m.SetEdns0(uint16(s.cfg.UDPSize), opt.Do())
		}
		if t != nil && w.TsigStatus() == nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
		}
		if err := w.WriteMsg(m); err != nil {
			return err
		}
		w.TsigTimersOnly(true)
		first = false
	}
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
