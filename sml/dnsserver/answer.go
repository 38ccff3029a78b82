package dnsserver

import (
	"sync"

	"github.com/miekg/dns"
)

// maxChase bounds CNAME chains followed inside a zone.
const maxChase = 8

// answer is the outcome of a lookup in one zone.
type answer struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
	// static means the answer depends only on the node it came from (not on the SOA or other names).
	static bool
}

// resolve looks up qname (lower-case FQDN inside z) and qtype. It runs under the server's read lock.
func (z *zoneIdx) resolve(qname string, qtype uint16) answer {
	n, owner := z.find(qname)
	if n == nil {
		if z.ent(qname) {
			return answer{rcode: dns.RcodeSuccess, ns: []dns.RR{z.negSOA()}} // empty non-terminal
		}
		return answer{rcode: dns.RcodeNameError, ns: []dns.RR{z.negSOA()}}
	}
	synth := owner != qname // from a wildcard
	apex := qname == z.name
	if qtype == dns.TypeANY {
		// RFC 8482: one RRset is enough.
		rrs := n.sets[0].rrs
		for _, s := range n.sets {
			if s.t == dns.TypeNAPTR || s.t == dns.TypeCNAME {
				rrs = s.rrs
				break
			}
		}
		return answer{answer: rename(rrs, qname, synth), static: !apex && !synth}
	}
	if rrs := n.set(qtype); rrs != nil {
		return answer{answer: rename(rrs, qname, synth), static: !apex && !synth}
	}
	cn := n.set(dns.TypeCNAME)
	if cn == nil {
		return answer{ns: []dns.RR{z.negSOA()}}
	}
	// Follow the CNAME chain while it stays in the zone.
	out := rename(cn, qname, synth)
	seen := map[string]bool{qname: true}
	target := cn[0].(*dns.CNAME).Target
	for range maxChase {
		if seen[target] || !dns.IsSubDomain(z.name, target) {
			return answer{answer: out}
		}
		seen[target] = true
		tn, towner := z.find(target)
		if tn == nil {
			if z.ent(target) {
				return answer{answer: out, ns: []dns.RR{z.negSOA()}}
			}
			return answer{rcode: dns.RcodeNameError, answer: out, ns: []dns.RR{z.negSOA()}}
		}
		tsynth := towner != target
		if rrs := tn.set(qtype); rrs != nil {
			return answer{answer: append(out, rename(rrs, target, tsynth)...)}
		}
		next := tn.set(dns.TypeCNAME)
		if next == nil {
			return answer{answer: out, ns: []dns.RR{z.negSOA()}}
		}
		out = append(out, rename(next, target, tsynth)...)
		target = next[0].(*dns.CNAME).Target
	}
	return answer{answer: out}
}

// find returns the node of name, or of the wildcard that covers it (RFC 4592), and the owner it was found at.
func (z *zoneIdx) find(name string) (*node, string) {
	if n := z.nodes[name]; n != nil {
		return n, name
	}
	if n := z.compactNode(name); n != nil {
		return n, name
	}
	if z.ent(name) {
		return nil, ""
	}
	// The closest encloser is the longest existing ancestor; its wildcard child covers name.
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		p := name[off:]
		if p == z.name || z.exists(p) || z.ent(p) {
			if w := z.nodes["*."+p]; w != nil {
				return w, "*." + p
			}
			return nil, ""
		}
	}
	return nil, ""
}

// rename returns rrs, copied with owner name when they come from a wildcard.
func rename(rrs []dns.RR, name string, synth bool) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		if synth {
			rr = dns.Copy(rr)
			rr.Header().Name = name
		}
		out[i] = rr
	}
	return out
}

// canonical returns the answer to (qname, qtype, class IN) in canonical, compact form: the message for ID 0,
// QR and AA set, no RD or CD, the question in lower case and no OPT, without its ID and question (see compact). Names are compressed against the lower-case question, so patching
// the question back to the client's case gives every compressed name the client's case (as Knot does). ok is
// false when qname is in none of the zones. It runs under the server's read lock and caches the answer on its
// node when it can.
func (s *Server) canonical(qname string, qtype uint16) (msg []byte, rcode int, ok bool) {
	z := s.findZone(qname)
	if z == nil {
		return nil, dns.RcodeRefused, false
	}
	n := z.nodes[qname]
	var (
		t         *tmpl
		set, kind int
	)
	if n != nil {
		if b := n.lookupCache(qtype, z.gen); b != nil {
			return b, int(b[1] & 0xf), true
		}
	} else if set, kind, _, t = z.compactOf(qname); t != nil {
		if b := t.lookup(uint16(set), kind, qtype, z.gen); b != nil {
			return b, int(b[1] & 0xf), true
		}
	}
	a := z.resolve(qname, qtype)
	m := &dns.Msg{Compress: true}
	m.Response, m.Authoritative = true, true
	m.Rcode = a.rcode
	m.Question = []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}}
	m.Answer, m.Ns = a.answer, a.ns
	full, err := m.Pack()
	if err != nil {
		s.log.Error("dns answer does not pack", "name", qname, "type", dns.TypeToString[qtype], "err", err)
		return nil, dns.RcodeServerFailure, true
	}
	b := compact(full)
	gen := z.gen
	if a.static {
		gen = 0
	}
	switch {
	case n != nil:
		n.store(cached{qtype: qtype, gen: gen, msg: b})
	case t != nil && tmplCacheable(a, qname):
		t.store(tcached{set: uint16(set), kind: uint8(kind), qtype: qtype, gen: gen, msg: b})
	}
	return b, a.rcode, true
}

// refusedMsg is the canonical answer to a question outside every zone.
func refusedMsg(qname string, qtype, qclass uint16) []byte {
	m := &dns.Msg{Compress: true}
	m.Response = true
	m.Rcode = dns.RcodeRefused
	m.Question = []dns.Question{{Name: qname, Qtype: qtype, Qclass: qclass}}
	b, _ := m.Pack()
	return compact(b)
}

// compact drops the ID and the question of a packed message (whose question name is uncompressed, as
// miekg/dns packs it): what is left is bytes 2..12 of the header (flags and counts) and the sections after
// the question. finish puts a query's ID and question back.
func compact(full []byte) []byte {
	off := 12
	for off < len(full) && full[off] != 0 {
		off += int(full[off]) + 1
	}
	off += 5
	out := make([]byte, 0, 10+len(full)-off)
	out = append(out, full[2:12]...)
	return append(out, full[off:]...)
}

// prebuild packs the answers a node is asked for most (each of its own RRsets) when it enters the index, so
// that the first query is as fast as the next. It runs under the write lock or before the zone is shared.
func (z *zoneIdx) prebuild(name string, n *node) {
	if name == z.name {
		return // the apex answers carry the serial; packed on demand
	}
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	for i, set := range n.sets {
		if b := packOwnSet(set, *bp); b != nil {
			if i == 0 {
				n.pre, n.preType = b, set.t
			} else {
				n.store(cached{qtype: set.t, msg: b})
			}
			continue
		}
		a := z.resolve(name, set.t)
		if !a.static {
			continue
		}
		m := &dns.Msg{Compress: true}
		m.Response, m.Authoritative = true, true
		m.Question = []dns.Question{{Name: name, Qtype: set.t, Qclass: dns.ClassINET}}
		m.Answer = a.answer
		full, err := m.Pack()
		if err != nil {
			continue
		}
		if i == 0 {
			n.pre, n.preType = compact(full), set.t
		} else {
			n.store(cached{qtype: set.t, msg: compact(full)})
		}
	}
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 64*1024); return &b }}

// packOwnSet packs, in compact canonical form, the answer that is exactly one RRset of A, AAAA or NAPTR
// records at the question's name: owners are pointers to the question and the data holds no compressible name,
// so the bytes are those miekg/dns packs (TestPackOwnSet checks), without its compression map. It returns nil
// for other types.
func packOwnSet(set rrset, scratch []byte) []byte { // scratch: capacity 64 KB
	switch set.t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeNAPTR:
	default:
		return nil
	}
	out := scratch[512:522]
	out[0], out[1] = 0x84, 0x00 // QR AA, NOERROR
	out[2], out[3] = 0, 1
	out[4], out[5] = byte(len(set.rrs)>>8), byte(len(set.rrs))
	for _, rr := range set.rrs {
		buf := scratch[:512]
		end, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return nil
		}
		off := 0
		for off < end && buf[off] != 0 {
			off += int(buf[off]) + 1
		}
		off++ // the root label
		out = append(out, 0xc0, 12)
		out = append(out, buf[off:end]...)
	}
	if len(out) > 60000 {
		return nil
	}
	return append([]byte(nil), out...)
}

// nxTemplate packs, in compact form, the NXDOMAIN answer with the apex as the question. Its names are
// compressed only against the question's zone suffix and its own SOA data, so for another name below the zone
// every compression pointer moves by the difference in name length (see nxdomain).
func (z *zoneIdx) nxTemplate() []byte {
	m := &dns.Msg{Compress: true}
	m.Response, m.Authoritative = true, true
	m.Rcode = dns.RcodeNameError
	m.Question = []dns.Question{{Name: z.name, Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	m.Ns = []dns.RR{z.negSOA()}
	full, err := m.Pack()
	if err != nil {
		return nil
	}
	return compact(full)
}

// nxdomain writes into out (compact form) the NXDOMAIN answer for qname (lower case, presentation form, with
// wire length qlen) from the zone's template, moving its compression pointers by the difference in length. It
// returns nil when the name could change how miekg/dns would compress the SOA (a suffix of qname below the zone
// that is also a suffix of the SOA's names), and the full path answers.
func (z *zoneIdx) nxdomain(qname []byte, qlen int, out []byte) []byte {
	t := z.nx
	if t == nil {
		return nil
	}
	for _, x := range []string{z.soa.Ns, z.soa.Mbox} {
		for off, end := 0, false; !end && len(x)-off > len(z.name); off, end = dns.NextLabel(x, off) {
			suf := x[off:]
			if len(qname) >= len(suf) && string(qname[len(qname)-len(suf):]) == suf &&
				(len(qname) == len(suf) || qname[len(qname)-len(suf)-1] == '.') {
				return nil
			}
		}
	}
	d := qlen - (len(z.name) + 1)
	if len(z.name) == 1 { // the root zone: wire length 1
		d = qlen - 1
	}
	out = append(out[:0], t...)
	// Body: SOA owner, type, class, TTL, rdlength, then the two names.
	off := 10
	var ok bool
	if off, ok = relocateName(out, off, d); !ok {
		return nil
	}
	off += 10
	if off, ok = relocateName(out, off, d); !ok {
		return nil
	}
	if _, ok = relocateName(out, off, d); !ok {
		return nil
	}
	return out
}

// relocateName walks the name at b[off:], adds d to its compression pointer if it ends in one, and returns the
// offset after the name.
func relocateName(b []byte, off, d int) (int, bool) {
	for off < len(b) {
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return 0, false
			}
			p := (l&0x3f)<<8 | int(b[off+1]) + d
			if p >= 0x3fff {
				return 0, false
			}
			b[off], b[off+1] = 0xc0|byte(p>>8), byte(p)
			return off + 2, true
		case l&0xc0 != 0:
			return 0, false
		default:
			off += l + 1
		}
	}
	return 0, false
}
