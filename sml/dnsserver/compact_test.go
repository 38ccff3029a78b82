package dnsserver

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/sml/zone"
)

// genZone is a generated SML zone: n participants with random identifiers under two schemes and the zone
// itself (full-id names), each with a NAPTR, a B- CNAME or both, spread over 20 SMPs (publisher A records,
// CNAMEs out of the zone, one SMP without a publisher record), a wildcard beside compact names, a name below a
// participant, a participant name with a second record, a non-canonical hash label and a name with 40
// records (for TC).
type genZone struct {
	recs  []zone.Record
	naptr []string // owner names of NAPTR records
	cname []string // owner names of B- CNAME records
}

const genSMPs = 20

func genParticipant(rng *rand.Rand, i int) (naptr, cname zone.Record, hasNAPTR, hasCNAME bool) {
	schemes := []string{"iso6523-actorid-upis", "iso6523-actorid-upis", "iso6523-actorid-upis", "ehf", ""}
	scheme := schemes[rng.IntN(len(schemes))]
	id := identifier.ID{Scheme: scheme, Value: fmt.Sprintf("%04d:%x", rng.IntN(10000), rng.Uint64())}
	smp := i % genSMPs
	ttl := uint32(60)
	if smp%5 == 0 {
		ttl = 120
	}
	service := "Meta:SMP"
	if smp%7 == 0 {
		service = "Meta:SMP2"
	}
	naptr = zone.Record{Name: identifier.NAPTRName(id, testZone, identifier.SchemeLabel), Type: zone.TypeNAPTR, TTL: ttl,
		NAPTR: &zone.NAPTR{Order: 100, Preference: 10, Flags: "U", Service: service,
			Regexp: fmt.Sprintf("!^.*$!http://smp%d.example.org!", smp), Replacement: "."}}
	hasNAPTR, hasCNAME = true, scheme != ""
	switch i % 10 {
	case 3:
		hasNAPTR = false
	case 4:
		hasCNAME = false
	}
	if hasCNAME {
		cname = zone.Record{Name: identifier.CNAMEName(id, testZone, identifier.SchemeLabel), Type: zone.TypeCNAME, // "B-": upper case, as the SML gives it
			TTL: ttl, Target: fmt.Sprintf("smp%d.publisher.sml.test.", smp)}
	}
	return naptr, cname, hasNAPTR, hasCNAME
}

func newGenZone(n int, seed uint64) *genZone {
	rng := rand.New(rand.NewPCG(seed, 14))
	g := &genZone{}
	add := func(text string) { g.recs = append(g.recs, rrsToRecords(dnstest.RRs(text))...) }
	add("ns1.sml.test. 3600 IN A 127.0.0.1")
	for k := range genSMPs - 1 { // the last SMP has no publisher record: its B- names lead to NXDOMAIN
		if k%2 == 0 {
			add(fmt.Sprintf("smp%d.publisher.sml.test. 60 IN A 192.0.2.%d", k, k+1))
		} else {
			add(fmt.Sprintf("smp%d.publisher.sml.test. 60 IN CNAME smp%d.example.org.", k, k))
		}
	}
	add(`*.ehf.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://wild.example.org!" .`)
	for i := range n {
		na, cn, hn, hc := genParticipant(rng, i)
		if hn {
			g.recs = append(g.recs, na)
			g.naptr = append(g.naptr, na.Name)
		}
		if hc {
			g.recs = append(g.recs, cn)
			g.cname = append(g.cname, cn.Name)
		}
	}
	// A name below a participant, a participant with a second record, a non-canonical hash label (the
	// base32 padding bits set), and 40 NAPTRs at one name.
	add("x." + g.naptr[0] + " 60 IN A 192.0.2.200")
	add(g.naptr[1] + " 60 IN AAAA 2001:db8::1")
	odd := g.naptr[2][:51] + "r" + g.naptr[2][52:]
	add(odd + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://odd.example.org!" .`)
	g.naptr = append(g.naptr, odd)
	for i := range 40 {
		add(bigName + ` 60 IN NAPTR 100 ` + fmt.Sprint(i) + ` "U" "Meta:SMP" "!^.*$!http://some-rather-long-host-name-for-smp-number-` + fmt.Sprint(i) + `.example.org/path!" .`)
	}
	return g
}

func (g *genZone) source() *dnstest.Source {
	src := dnstest.NewSource()
	src.AddZone(testApex, 10)
	src.Load(testZone, g.recs)
	return src
}

// variants returns raw queries for (name, qtype): plain, RD and CD, EDNS, EDNS with DO, a 512-byte EDNS buffer
// with a cookie option, and 0x20 case.
func variants(name string, qtype uint16, id uint16) [][]byte {
	var out [][]byte
	for v := range 6 {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.RecursionDesired = false
		m.Id = id + uint16(v)
		switch v {
		case 1:
			m.RecursionDesired, m.CheckingDisabled = true, true
		case 2:
			m.SetEdns0(1232, false)
		case 3:
			m.SetEdns0(4096, true)
		case 4:
			m.SetEdns0(512, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		case 5:
			b := []byte(name)
			for i := range b {
				if i%3 == 0 && 'a' <= b[i] && b[i] <= 'z' {
					b[i] -= 'a' - 'A'
				}
			}
			m.Question[0].Name = string(b)
		}
		raw, err := m.Pack()
		if err != nil {
			panic(err)
		}
		out = append(out, raw)
	}
	return out
}

// tcpWriter is a dns.ResponseWriter that looks like a TCP connection and keeps what is written.
type tcpWriter struct{ out [][]byte }

func (w *tcpWriter) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *tcpWriter) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
}
func (w *tcpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *tcpWriter) Write(b []byte) (int, error) {
	w.out = append(w.out, append([]byte(nil), b...))
	return len(b), nil
}
func (w *tcpWriter) Close() error        { return nil }
func (w *tcpWriter) TsigStatus() error   { return nil }
func (w *tcpWriter) TsigTimersOnly(bool) {}
func (w *tcpWriter) Hijack()             {}

// compareServers sends every query to the compact server (full path, then fast path) and to the reference
// server (every name a node, answers packed by miekg/dns), over UDP and TCP, and compares the bytes. It returns
// how many the fast path answered.
func compareServers(t *testing.T, stage string, s, ref *Server, qs []dnstest.Case) (fast, total int) {
	t.Helper()
	errs := 0
	for i, c := range qs {
		for _, raw := range variants(c.Qname, c.Qtype, uint16(i*8)) {
			total++
			wr, ws := &udpWriter{keys: ref.keys}, &udpWriter{keys: s.keys}
			ref.serveRaw(raw, wr)
			s.serveRaw(raw, ws)
			if len(wr.captured) != 1 || len(ws.captured) != 1 {
				t.Fatalf("%s %s: %d and %d answers", stage, c, len(ws.captured), len(wr.captured))
			}
			want := wr.captured[0]
			if !bytes.Equal(ws.captured[0], want) && errs < 10 {
				errs++
				t.Errorf("%s %s %s udp full path differs\n got  %.300x\n want %.300x", stage, c.Qname, dns.TypeToString[c.Qtype], ws.captured[0], want)
			}
			if b, ok := s.fast(raw, nil); ok {
				fast++
				if !bytes.Equal(b, want) && errs < 10 {
					errs++
					t.Errorf("%s %s %s fast path differs\n got  %.300x\n want %.300x", stage, c.Qname, dns.TypeToString[c.Qtype], b, want)
				}
			}
			m := new(dns.Msg)
			if err := m.Unpack(raw); err != nil {
				t.Fatal(err)
			}
			tr, ts := &tcpWriter{}, &tcpWriter{}
			ref.ServeDNS(tr, m)
			s.ServeDNS(ts, m)
			if len(tr.out) != 1 || len(ts.out) != 1 || !bytes.Equal(ts.out[0], tr.out[0]) {
				if errs < 10 {
					errs++
					t.Errorf("%s %s %s tcp differs\n got  %.300x\n want %.300x", stage, c.Qname, dns.TypeToString[c.Qtype], ts.out, tr.out)
				}
			}
		}
	}
	return fast, total
}

// genCases picks query cases from the generated zone: every class of answer.
func genCases(g *genZone, rng *rand.Rand, per int) []dnstest.Case {
	var qs []dnstest.Case
	q := func(name string, types ...uint16) {
		for _, t := range types {
			qs = append(qs, dnstest.Case{Qname: name, Qtype: t})
		}
	}
	for range per {
		q(g.naptr[rng.IntN(len(g.naptr))], dns.TypeNAPTR, dns.TypeA, dns.TypeANY, dns.TypeCNAME, dns.TypeTXT)
		q(g.cname[rng.IntN(len(g.cname))], dns.TypeCNAME, dns.TypeA, dns.TypeAAAA, dns.TypeNAPTR, dns.TypeANY)
		// Unknown hash names: NXDOMAIN under the scheme and the zone, the wildcard under ehf.
		var key [32]byte
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		label := string(hashLabel(nil, kindSHA256, &key))
		q(label+".iso6523-actorid-upis.sml.test.", dns.TypeNAPTR, dns.TypeA)
		q(label+".sml.test.", dns.TypeNAPTR)
		q(label+".ehf.sml.test.", dns.TypeNAPTR, dns.TypeA)
		q(string(hashLabel(nil, kindMD5, &key))+".iso6523-actorid-upis.sml.test.", dns.TypeA, dns.TypeCNAME)
	}
	q("iso6523-actorid-upis.sml.test.", dns.TypeNAPTR, dns.TypeA)
	q("ehf.sml.test.", dns.TypeNAPTR)
	q("publisher.sml.test.", dns.TypeA)
	q("x."+g.naptr[0], dns.TypeA, dns.TypeNAPTR)
	q("y."+g.naptr[0], dns.TypeA)
	q(g.naptr[1], dns.TypeNAPTR, dns.TypeAAAA, dns.TypeA, dns.TypeANY)
	q(g.naptr[len(g.naptr)-1], dns.TypeNAPTR)
	q(bigName, dns.TypeNAPTR)
	q("sml.test.", dns.TypeSOA, dns.TypeNS, dns.TypeNAPTR)
	q("nobody.sml.test.", dns.TypeA)
	q("example.org.", dns.TypeA)
	return qs
}

// sortedSource is a dnstest.Source whose Records come in one order (by key), so that two servers loaded from
// it order the records of an RRset alike.
type sortedSource struct {
	*dnstest.Source
	hint int // ParticipantsHint, 0: none
}

func (s sortedSource) ParticipantsHint(string) int { return s.hint }

func (s sortedSource) Records(zoneName string, fn func(zone.Record) error) (uint32, error) {
	type keyed struct {
		k string
		r zone.Record
	}
	var recs []keyed
	serial, err := s.Source.Records(zoneName, func(r zone.Record) error {
		recs = append(recs, keyed{dnstest.Key(r), r})
		return nil
	})
	if err != nil {
		return 0, err
	}
	slices.SortFunc(recs, func(a, b keyed) int { return strings.Compare(a.k, b.k) })
	for _, r := range recs {
		if err := fn(r.r); err != nil {
			return 0, err
		}
	}
	return serial, nil
}

// loadedPair loads the generated zone into a server with the compact index and into a reference server
// without it, from one source; commits to it apply to both.
func loadedPair(t *testing.T, g *genZone) (s, ref *Server, commit func(del, add []zone.Record)) {
	t.Helper()
	src := g.source()
	load := func(noCompact bool) *Server {
		s, err := New(Config{Listen: "127.0.0.1:0"}, sortedSource{src, len(g.naptr)}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.noCompact = noCompact
		z, err := s.loadZone(testApex)
		if err != nil {
			t.Fatal(err)
		}
		s.setZone(z.name, z)
		return s
	}
	s, ref = load(false), load(true)
	src.OnCommit = func(c zone.Change) { s.Apply(c); ref.Apply(c) }
	return s, ref, func(del, add []zone.Record) { src.Commit(testZone, del, add) }
}

// TestCompactIndexEqualsReference: over a generated zone of 100,000 participants with random names (short
// mode: 10,000), answers from the compact index (full path and fast path, UDP and TCP) are byte-identical to
// those of the same server with every name a node, packed by miekg/dns: NXDOMAIN and NODATA with the SOA,
// empty non-terminals, CNAME chains, 0x20 case, EDNS, TC, ANY and wildcards; before and after changes.
func TestCompactIndexEqualsReference(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	g := newGenZone(n, 1)
	s, ref, commit := loadedPair(t, g)
	z := s.zones[testZone]
	// Every participant name is compact except the one with a second record (and the non-canonical label).
	if got, want := z.compactCount(), len(g.naptr)+len(g.cname)-2; got != want {
		t.Errorf("compact names: %d, want %d", got, want)
	}
	if got, want := z.records, ref.zones[testZone].records; got != want {
		t.Errorf("records: %d, reference %d", got, want)
	}
	if len(z.tmpls) > 4*genSMPs {
		t.Errorf("%d templates for %d SMPs", len(z.tmpls), genSMPs)
	}
	checkIndexContents(t, s, ref)
	if z.sizeHint != 0 {
		t.Errorf("size hint %d not used", z.sizeHint)
	}
	rng := rand.New(rand.NewPCG(2, 14))
	fast, total := compareServers(t, "loaded", s, ref, genCases(g, rng, 300))
	if fast < total/2 {
		t.Errorf("fast path answered %d of %d queries", fast, total)
	}

	// Changes: participants removed, moved to another SMP, added; a second record at a participant name and
	// its removal; a participant under a new scheme.
	var del, add []zone.Record
	for i := range 200 {
		r := g.recs[len(g.recs)/2+i]
		if r.Type != zone.TypeNAPTR && r.Type != zone.TypeCNAME {
			continue
		}
		del = append(del, r)
		if i%2 == 0 {
			m := r
			if m.Type == zone.TypeNAPTR {
				nn := *m.NAPTR
				nn.Regexp = "!^.*$!http://moved.example.org!"
				m.NAPTR = &nn
			} else {
				m.Target = "smp0.publisher.sml.test."
			}
			add = append(add, m)
		}
	}
	for i := range 100 {
		na, cn, _, hc := genParticipant(rng, n+i)
		add = append(add, na)
		g.naptr = append(g.naptr, na.Name)
		if hc {
			add = append(add, cn)
			g.cname = append(g.cname, cn.Name)
		}
	}
	add = append(add, rrsToRecords(dnstest.RRs(g.naptr[5]+" 60 IN A 192.0.2.55\n"+
		strings.Repeat("a", 52)+`.newscheme.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://new.example.org!" .`))...)
	commit(del, add)
	checkIndexContents(t, s, ref)
	changed := genCases(g, rng, 100)
	for _, r := range append(del, add...) {
		changed = append(changed, dnstest.Case{Qname: r.Name, Qtype: dns.TypeNAPTR}, dnstest.Case{Qname: r.Name, Qtype: dns.TypeA})
	}
	changed = append(changed, dnstest.Case{Qname: "newscheme.sml.test.", Qtype: dns.TypeA})
	compareServers(t, "after changes", s, ref, changed)
	commit(rrsToRecords(dnstest.RRs(g.naptr[5]+" 60 IN A 192.0.2.55")), nil)
	compareServers(t, "after a removal", s, ref, []dnstest.Case{{Qname: g.naptr[5], Qtype: dns.TypeA}, {Qname: g.naptr[5], Qtype: dns.TypeNAPTR}})
}

// checkIndexContents: the compact server's index (nodes and compact names) holds the reference's records.
func checkIndexContents(t *testing.T, s, ref *Server) {
	t.Helper()
	all := func(s *Server) []string {
		z := s.zones[testZone]
		var out []string
		for _, n := range z.nodes {
			for _, set := range n.sets {
				for _, rr := range set.rrs {
					out = append(out, rr.String())
				}
			}
		}
		z.eachCompact(func(rr dns.RR) { out = append(out, rr.String()) })
		slices.Sort(out)
		return out
	}
	got, want := all(s), all(ref)
	if !slices.Equal(got, want) {
		t.Errorf("index holds %d records, reference %d (or they differ)", len(got), len(want))
	}
}

// TestSplitCompact: hash labels parse to their binary key and back; other labels do not parse.
func TestSplitCompact(t *testing.T) {
	for _, name := range []string{naptrName, cnameName} {
		kind, key, rest, ok := splitCompact(name)
		if !ok || rest != "iso6523-actorid-upis.sml.test." {
			t.Fatalf("%s: ok %v rest %q", name, ok, rest)
		}
		if got := string(hashLabel(nil, kind, &key)) + "." + rest; got != name {
			t.Errorf("round trip %s -> %s", name, got)
		}
	}
	for _, name := range []string{
		"reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctor.iso.sml.test.", // padding bits set
		"reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasct1q.iso.sml.test.", // not base32
		"REANA6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.iso.sml.test.", // upper case
		"b-4c7e158a31c6dfa533dcfaf4b80fb20g.iso.sml.test.",                   // not hex
		"b-4c7e158a31c6dfa533dcfaf4b80fb2051.iso.sml.test.",                  // too long
		"b-dangling.iso6523-actorid-upis.sml.test.",
		"smp1.publisher.sml.test.",
	} {
		if _, _, _, ok := splitCompact(name); ok {
			t.Errorf("%s parsed as a hash name", name)
		}
	}
}

// TestPtable: inserts, replacements and deletions (backward shift) against a map, through growth and fit.
func TestPtable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 14))
	var tab ptable[[16]byte]
	want := map[[16]byte]uint32{}
	keys := make([][16]byte, 0, 20000)
	for i := range 60000 {
		switch op := rng.IntN(10); {
		case op < 6 || len(keys) == 0:
			var k [16]byte
			for j := range k {
				k[j] = byte(rng.Uint32())
			}
			k[0] = byte(i % 3) // clusters: many keys share their home slots' region
			keys = append(keys, k)
			ref := uint32(i + 1)
			if old := tab.put(&k, ref); old != want[k] {
				t.Fatalf("put: old %d, want %d", old, want[k])
			}
			want[k] = ref
		case op < 8:
			k := keys[rng.IntN(len(keys))]
			if old := tab.del(&k); old != want[k] {
				t.Fatalf("del: %d, want %d", old, want[k])
			}
			delete(want, k)
		default:
			tab.fit()
		}
	}
	if tab.n != len(want) {
		t.Fatalf("n %d, want %d", tab.n, len(want))
	}
	for _, k := range keys {
		if got := tab.get(&k); got != want[k] {
			t.Fatalf("get: %d, want %d", got, want[k])
		}
	}
	_ = netip.Addr{}
}

// TestSizeHint: the first suffix's tables are made from the source's participant count at once.
func TestSizeHint(t *testing.T) {
	z := &zoneIdx{name: testZone, nodes: map[string]*node{}, below: map[string]int{}, sizeHint: 1000}
	r := rrToRecord(dnstest.RR(naptrName + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp1.example.org!" .`))
	var scratch []byte
	if got := z.compactAdd(&r, []byte(r.Name), &scratch); got != compactAdded {
		t.Fatalf("compactAdd: %d", got)
	}
	if p := z.psets[0]; len(p.sha.slots) != 1000*10/7+16 || len(p.md5.slots) != 1000*10/7+16 || z.sizeHint != 0 {
		t.Errorf("slots %d and %d, hint left %d", len(p.sha.slots), len(p.md5.slots), z.sizeHint)
	}
}

// TestCompactAddOutcomes: a record added again is the same name; with another TTL the name moves to a template
// with that TTL and the old one is freed; another record at the name is a conflict, which leaves it as it was.
func TestCompactAddOutcomes(t *testing.T) {
	z := &zoneIdx{name: testZone, nodes: map[string]*node{}, below: map[string]int{}}
	rec := func(text string) zone.Record { return rrToRecord(dnstest.RR(text)) }
	var scratch []byte
	add := func(r zone.Record) int { return z.compactAdd(&r, []byte(r.Name), &scratch) }
	r60 := rec(naptrName + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp1.example.org!" .`)
	r120 := rec(naptrName + ` 120 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp1.example.org!" .`)
	other := rec(naptrName + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp2.example.org!" .`)
	if got := add(r60); got != compactAdded {
		t.Fatalf("first add: %d", got)
	}
	if got := add(r60); got != compactSame {
		t.Errorf("same record: %d", got)
	}
	if got := add(r120); got != compactSame {
		t.Errorf("another TTL: %d", got)
	}
	_, _, _, tm := z.compactOf(naptrName)
	if tm == nil || tm.rr.Header().Ttl != 120 || tm.refs != 1 {
		t.Fatalf("template after the TTL change: %v", tm)
	}
	if got := add(other); got != compactConflict {
		t.Errorf("another record: %d", got)
	}
	if _, _, _, tm2 := z.compactOf(naptrName); tm2 != tm {
		t.Error("a conflict changed the name's record")
	}
	live := 0
	for _, x := range z.tmpls {
		if x != nil {
			live++
		}
	}
	if live != 1 || len(z.tmplIdx) != 1 {
		t.Errorf("%d templates live, %d interned; want 1", live, len(z.tmplIdx))
	}
	if rr := z.compactTake(naptrName); rr == nil || rr.Header().Name != naptrName || z.compactCount() != 0 {
		t.Errorf("take: %v, %d names left", rr, z.compactCount())
	}
}
