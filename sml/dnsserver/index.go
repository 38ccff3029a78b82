package dnsserver

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml/zone"
)

// zoneIdx is one zone in memory: its apex and its records by lower-case owner name. It is read under the
// server's read lock and changed under its write lock; nodes are replaced, never changed, so answers cached
// on a node stay valid as long as the node is in the index.
type zoneIdx struct {
	name  string // lower-case FQDN
	apex  zone.Apex
	soa   *dns.SOA
	nodes map[string]*node
	// below counts, per name strictly inside the zone, the owner names under it; a name with a count and no
	// node is an empty non-terminal.
	below   map[string]int
	gen     uint64 // increases with every change; answers that depend on more than their node carry it
	records int
	// wild counts wildcard owners (*.x); nx is the NXDOMAIN answer for the apex as question, compact form, at
	// the current serial (the fast path relocates it for other names; see nxdomain).
	wild int
	nx   []byte
	// The compact participant index (compact.go): names by suffix, and the records they share.
	psets    []*pset
	tmpls    []*tmpl // nil where freed
	tmplIdx  map[string]uint32
	freeTmpl []uint32
	// noCompact (tests) keeps every name a node.
	noCompact bool
	// sizeHint is the source's participant count while loading: the first suffix's tables are made that big
	// (pages never written are not resident, and fit gives back what is unused).
	sizeHint int
}

// node is the data at one owner name: its RRsets by type, and the answers packed for it.
type node struct {
	sets []rrset // sorted by type
	// pre is the answer for preType, packed before the node is published (prebuild) and never changed: the
	// common case without an extra allocation. Other answers go to cache on first use.
	pre     []byte
	preType uint16
	cache   atomic.Pointer[[]cached]
}

type rrset struct {
	t   uint16
	rrs []dns.RR
}

// cached is an answer in canonical form: ID 0, no RD/CD, a lower-case question, no OPT. gen 0 means it depends
// only on its node.
type cached struct {
	qtype uint16
	gen   uint64
	msg   []byte
}

func (n *node) set(t uint16) []dns.RR {
	for i := range n.sets {
		if n.sets[i].t == t {
			return n.sets[i].rrs
		}
	}
	return nil
}

func (n *node) lookupCache(qtype uint16, gen uint64) []byte {
	if n.preType == qtype && n.pre != nil {
		return n.pre
	}
	p := n.cache.Load()
	if p == nil {
		return nil
	}
	for _, c := range *p {
		if c.qtype == qtype && (c.gen == 0 || c.gen == gen) {
			return c.msg
		}
	}
	return nil
}

const maxCachedPerNode = 8

func (n *node) store(c cached) {
	for {
		old := n.cache.Load()
		var next []cached
		if old != nil && len(*old) < maxCachedPerNode {
			next = make([]cached, 0, len(*old)+1)
			for _, o := range *old {
				if o.qtype != c.qtype {
					next = append(next, o)
				}
			}
		}
		next = append(next, c)
		if n.cache.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (z *zoneIdx) serial() uint32 { return z.soa.Serial }

// loadZone reads one zone from the source into a new index. A panic while loading is an error (the zone keeps
// its old index, or the server does not start).
func (s *Server) loadZone(a zone.Apex) (z *zoneIdx, err error) {
	if perr := recovery.Call(s.log, EdgeLoad, func() { z, err = s.buildZone(a) }); perr != nil {
		return nil, fmt.Errorf("dnsserver: load zone %s failed on a bug (its stack is logged): %w", a.Zone, perr)
	}
	return z, err
}

func (s *Server) buildZone(a zone.Apex) (*zoneIdx, error) {
	name := strings.ToLower(dns.Fqdn(a.Zone))
	z := &zoneIdx{name: name, apex: a, nodes: map[string]*node{}, below: map[string]int{}, gen: 1, noCompact: s.noCompact}
	if h, ok := s.src.(SizeHinter); ok {
		z.sizeHint = max(0, min(h.ParticipantsHint(a.Zone), 1<<31))
	}
	var bad error
	in := interner{}
	scratch := make([]byte, 0, 512)
	lbuf := make([]byte, 0, 256)
	add := func(r *zone.Record) {
		if lname := lowerName(&lbuf, r.Name); z.nodes[string(lname)] == nil {
			switch z.compactAdd(r, lname, &scratch) {
			case compactAdded:
				z.records++
				return
			case compactSame:
				return
			}
		}
		rr, err := in.rr(*r)
		if err != nil {
			if bad == nil {
				bad = err
			}
			return
		}
		owner := rr.Header().Name
		if !dns.IsSubDomain(name, owner) || owner == name {
			if bad == nil {
				bad = fmt.Errorf("record %s is not below the zone %s", owner, name)
			}
			return
		}
		if z.nodes[owner] == nil {
			if old := z.compactTake(owner); old != nil {
				z.records--
				z.addLoad(old)
			}
		}
		z.addLoad(rr)
	}
	// The source (store reads, owner-name hashing) and the indexing run on two goroutines, handing records
	// over in batches.
	const batchSize = 1024
	work, free := make(chan []zone.Record, 8), make(chan []zone.Record, 8)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		perr := recovery.Call(s.log, EdgeLoad, func() {
			for b := range work {
				for i := range b {
					add(&b[i])
				}
				clear(b)
				select {
				case free <- b[:0]:
				default:
				}
			}
		})
		if perr != nil {
			failed.Store(true)
			// Drain the batches still coming, so that the source is not blocked.
			for range work {
			}
		}
		done <- perr
	}()
	cur := make([]zone.Record, 0, batchSize)
	serial, err := s.src.Records(a.Zone, func(r zone.Record) error {
		if failed.Load() {
			return errors.New("indexing failed")
		}
		cur = append(cur, r)
		if len(cur) == batchSize {
			work <- cur
			select {
			case cur = <-free:
			default:
				cur = make([]zone.Record, 0, batchSize)
			}
		}
		return nil
	})
	work <- cur
	close(work)
	if perr := <-done; perr != nil {
		return nil, fmt.Errorf("dnsserver: load zone %s failed on a bug (its stack is logged): %w", name, perr)
	}
	for _, p := range z.psets {
		p.sha.fit()
		p.md5.fit()
	}
	if err != nil {
		return nil, fmt.Errorf("dnsserver: load zone %s: %w", name, err)
	}
	if bad != nil {
		s.log.Error("dns zone has records it cannot serve; they are left out", "zone", name, "err", bad)
	}
	a.SOA.Serial = serial
	z.apex = a
	z.setApex()
	z.nx = z.nxTemplate()
	if err := s.prebuildAll(z); err != nil {
		return nil, fmt.Errorf("dnsserver: load zone %s failed on a bug (its stack is logged): %w", name, err)
	}
	return z, nil
}

// prebuildAll packs every node's answers, on all CPUs (the zone is not shared yet). A panic in a worker is
// reported and returned as an error; the workers go on draining the work, so that the load ends.
func (s *Server) prebuildAll(z *zoneIdx) error {
	type item struct {
		name string
		n    *node
	}
	work := make(chan []item, 64)
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range work {
				err := recovery.Call(s.log, EdgeLoad, func() {
					for _, it := range batch {
						if s.panicHook != nil {
							s.panicHook(EdgeLoad, it.name)
						}
						z.prebuild(it.name, it.n)
					}
				})
				if err != nil {
					errMu.Lock()
					first = cmp.Or(first, err)
					errMu.Unlock()
				}
			}
		}()
	}
	batch := make([]item, 0, 1024)
	for name, n := range z.nodes {
		batch = append(batch, item{name, n})
		if len(batch) == cap(batch) {
			work <- batch
			batch = make([]item, 0, 1024)
		}
	}
	work <- batch
	close(work)
	wg.Wait()
	return first
}

// addLoad adds a record while loading (nodes are not shared yet, so they are changed in place).
func (z *zoneIdx) addLoad(rr dns.RR) {
	name := rr.Header().Name
	n := z.nodes[name]
	if n == nil {
		n = &node{}
		z.nodes[name] = n
		z.countAncestors(name, 1)
		if strings.HasPrefix(name, "*.") {
			z.wild++
		}
	}
	n.sets = addToSets(n.sets, rr)
	z.records++
}

// setApex builds the apex node (SOA and NS) from z.apex.
func (z *zoneIdx) setApex() {
	a := z.apex
	z.soa = &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: a.SOA.TTL},
		Ns:      strings.ToLower(dns.Fqdn(a.SOA.MName)),
		Mbox:    strings.ToLower(dns.Fqdn(a.SOA.RName)),
		Serial:  a.SOA.Serial,
		Refresh: a.SOA.Refresh, Retry: a.SOA.Retry, Expire: a.SOA.Expire, Minttl: a.SOA.Minimum,
	}
	apex := &node{}
	apex.sets = addToSets(apex.sets, z.soa)
	for _, ns := range a.NS {
		apex.sets = addToSets(apex.sets, &dns.NS{
			Hdr: dns.RR_Header{Name: z.name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: a.TTL},
			Ns:  strings.ToLower(dns.Fqdn(ns)),
		})
	}
	z.nodes[z.name] = apex
}

// negSOA is the SOA for the authority section of negative answers: its TTL is min(TTL, minimum) (RFC 2308).
func (z *zoneIdx) negSOA() *dns.SOA {
	soa := *z.soa
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return &soa
}

// countAncestors adds d to the count of every name between name (exclusive) and the apex (exclusive).
func (z *zoneIdx) countAncestors(name string, d int) {
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		p := name[off:]
		if p == z.name {
			return
		}
		if c := z.below[p] + d; c > 0 {
			z.below[p] = c
		} else {
			delete(z.below, p)
		}
	}
}

// apply changes the index by one committed step. Changed nodes are replaced, so their cached answers go.
func (z *zoneIdx) apply(c zone.Change) {
	changed := map[string]*node{}
	get := func(name string) *node {
		if n, ok := changed[name]; ok {
			return n
		}
		var n *node
		if old := z.nodes[name]; old != nil {
			n = &node{sets: slices.Clone(old.sets)}
			for i := range n.sets {
				n.sets[i].rrs = slices.Clone(n.sets[i].rrs)
			}
		} else if rr := z.compactTake(name); rr != nil {
			// A compact name that gets another record, or loses its own, becomes a node.
			n = &node{sets: addToSets(nil, rr)}
		} else {
			n = &node{}
		}
		changed[name] = n
		return n
	}
	scratch := make([]byte, 0, 512)
	for _, r := range c.Deleted {
		rr, err := toRR(r)
		if err != nil || rr.Header().Name == z.name {
			continue
		}
		name := rr.Header().Name
		if _, ok := changed[name]; !ok && z.nodes[name] == nil {
			r.Name = name
			if z.compactDel(&r, &scratch) {
				z.records--
				continue
			}
		}
		n := get(name)
		before := countRRs(n.sets)
		n.sets = removeFromSets(n.sets, rr)
		z.records -= before - countRRs(n.sets)
	}
	in := interner{}
	for _, r := range c.Added {
		rr, err := in.rr(r)
		if err != nil || rr.Header().Name == z.name || !dns.IsSubDomain(z.name, rr.Header().Name) {
			continue
		}
		name := rr.Header().Name
		if _, ok := changed[name]; !ok && z.nodes[name] == nil {
			switch z.compactAdd(&r, []byte(name), &scratch) {
			case compactAdded:
				z.records++
				continue
			case compactSame:
				continue
			}
		}
		n := get(name)
		before := countRRs(n.sets)
		n.sets = addToSets(n.sets, rr)
		z.records += countRRs(n.sets) - before
	}
	for name, n := range changed {
		_, had := z.nodes[name]
		switch {
		case len(n.sets) == 0 && had:
			delete(z.nodes, name)
			z.countAncestors(name, -1)
			if strings.HasPrefix(name, "*.") {
				z.wild--
			}
		case len(n.sets) > 0:
			z.nodes[name] = n
			if !had {
				z.countAncestors(name, 1)
				if strings.HasPrefix(name, "*.") {
					z.wild++
				}
			}
		}
	}
	for name, n := range changed {
		if len(n.sets) > 0 {
			z.prebuild(name, n)
		}
	}
	z.apex.SOA.Serial = c.To
	soa := *z.soa
	soa.Serial = c.To
	z.soa = &soa
	apex := &node{sets: slices.Clone(z.nodes[z.name].sets)}
	for i := range apex.sets {
		if apex.sets[i].t == dns.TypeSOA {
			apex.sets[i].rrs = []dns.RR{z.soa}
		}
	}
	z.nodes[z.name] = apex
	z.gen++
	z.nx = z.nxTemplate()
}

func countRRs(sets []rrset) int {
	n := 0
	for _, s := range sets {
		n += len(s.rrs)
	}
	return n
}

// addToSets adds rr unless an equal record (TTL aside) is there; the RRset takes the new record's TTL.
func addToSets(sets []rrset, rr dns.RR) []rrset {
	t := rr.Header().Rrtype
	for i := range sets {
		if sets[i].t != t {
			continue
		}
		for _, o := range sets[i].rrs {
			if dns.IsDuplicate(o, rr) {
				return sets
			}
		}
		sets[i].rrs = append(sets[i].rrs, rr)
		for _, o := range sets[i].rrs {
			o.Header().Ttl = rr.Header().Ttl
		}
		return sets
	}
	sets = append(sets, rrset{t: t, rrs: []dns.RR{rr}})
	slices.SortFunc(sets, func(a, b rrset) int { return int(a.t) - int(b.t) })
	return sets
}

func removeFromSets(sets []rrset, rr dns.RR) []rrset {
	t := rr.Header().Rrtype
	for i := range sets {
		if sets[i].t != t {
			continue
		}
		sets[i].rrs = slices.DeleteFunc(sets[i].rrs, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) })
		if len(sets[i].rrs) == 0 {
			return slices.Delete(sets, i, i+1)
		}
		return sets
	}
	return sets
}

// interner shares equal rdata strings (an SMP's NAPTR regexp and CNAME target repeat for each of its
// participants) so that a big zone holds each once.
type interner map[string]string

func (in interner) str(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < 1<<16 {
		in[s] = s
	}
	return s
}

// rr is toRR with shared strings.
func (in interner) rr(r zone.Record) (dns.RR, error) {
	rr, err := toRR(r)
	if err != nil {
		return nil, err
	}
	switch v := rr.(type) {
	case *dns.NAPTR:
		v.Flags, v.Service, v.Regexp, v.Replacement = in.str(v.Flags), in.str(v.Service), in.str(v.Regexp), in.str(v.Replacement)
	case *dns.CNAME:
		v.Target = in.str(v.Target)
	}
	return rr, nil
}

// toRR turns a neutral record into a miekg/dns record with a lower-case owner name.
func toRR(r zone.Record) (dns.RR, error) {
	name := strings.ToLower(dns.Fqdn(r.Name))
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("bad owner name %q", r.Name)
	}
	h := dns.RR_Header{Name: name, Rrtype: uint16(r.Type), Class: dns.ClassINET, Ttl: r.TTL}
	switch r.Type {
	case zone.TypeA:
		if !r.Addr.Is4() {
			return nil, fmt.Errorf("%s: A record without an IPv4 address", name)
		}
		return &dns.A{Hdr: h, A: net.IP(r.Addr.AsSlice())}, nil
	case zone.TypeAAAA:
		if !r.Addr.Is6() {
			return nil, fmt.Errorf("%s: AAAA record without an IPv6 address", name)
		}
		return &dns.AAAA{Hdr: h, AAAA: net.IP(r.Addr.AsSlice())}, nil
	case zone.TypeCNAME:
		if r.Target == "" {
			return nil, fmt.Errorf("%s: CNAME without a target", name)
		}
		return &dns.CNAME{Hdr: h, Target: strings.ToLower(dns.Fqdn(r.Target))}, nil
	case zone.TypeNS:
		if r.Target == "" {
			return nil, fmt.Errorf("%s: NS without a target", name)
		}
		return &dns.NS{Hdr: h, Ns: strings.ToLower(dns.Fqdn(r.Target))}, nil
	case zone.TypeNAPTR:
		if r.NAPTR == nil {
			return nil, fmt.Errorf("%s: NAPTR without data", name)
		}
		n := r.NAPTR
		repl := n.Replacement
		if repl == "" {
			repl = "."
		}
		return &dns.NAPTR{Hdr: h, Order: n.Order, Preference: n.Preference, Flags: n.Flags, Service: n.Service,
			Regexp: n.Regexp, Replacement: strings.ToLower(dns.Fqdn(repl))}, nil
	}
	return nil, fmt.Errorf("%s: record type %d is not served", name, r.Type)
}

// findZone returns the zone that holds name (lower-case FQDN): the longest matching zone name.
func (s *Server) findZone(name string) *zoneIdx {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z := s.zones[name[off:]]; z != nil {
			return z
		}
	}
	return s.zones["."]
}
