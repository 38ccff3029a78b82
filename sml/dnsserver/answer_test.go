package dnsserver

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signpost-project/signpost/internal/dnstest"
)

const soaNeg = "sml.test. 60 IN SOA ns1.sml.test. hostmaster.sml.test. 1 3600 600 604800 60"

func answerCases() []dnstest.Case {
	rr, rrs := dnstest.RR, dnstest.RRs
	soa := []dns.RR{rr(soaNeg)}
	naptr := rr(naptrName + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp1.example.org!" .`)
	return []dnstest.Case{
		{Qname: naptrName, Qtype: dns.TypeNAPTR, AA: true, Answer: []dns.RR{naptr}},
		{Name: "upper case", Qname: strings.ToUpper(naptrName), Qtype: dns.TypeNAPTR, AA: true, Answer: []dns.RR{naptr}},
		{Name: "0x20 case", Qname: "rEaNa6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.ISO6523-actorid-UPIS.Sml.TeSt.", Qtype: dns.TypeNAPTR, AA: true, Answer: []dns.RR{naptr}},
		{Name: "NODATA at a NAPTR name", Qname: naptrName, Qtype: dns.TypeA, AA: true, Ns: soa},
		{Name: "CNAME chain", Qname: cnameName, Qtype: dns.TypeA, AA: true, Answer: rrs(cnameName + " 60 IN CNAME " + pubName + "\n" + pubName + " 60 IN A 192.0.2.10")},
		{Name: "CNAME asked", Qname: "B-4C7E158A31C6DFA533DCFAF4B80FB205.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeCNAME, AA: true, Answer: rrs(cnameName + " 60 IN CNAME " + pubName)},
		{Name: "CNAME chain, NODATA at the end", Qname: cnameName, Qtype: dns.TypeNAPTR, AA: true, Answer: rrs(cnameName + " 60 IN CNAME " + pubName), Ns: soa},
		{Name: "CNAME out of zone", Qname: "smp2.publisher.sml.test.", Qtype: dns.TypeA, AA: true, Answer: rrs("smp2.publisher.sml.test. 60 IN CNAME smp2.example.org.")},
		{Name: "CNAME to a missing name", Qname: "b-dangling.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeA, AA: true, Rcode: dns.RcodeNameError,
			Answer: rrs("b-dangling.iso6523-actorid-upis.sml.test. 60 IN CNAME gone.publisher.sml.test."), Ns: soa},
		{Name: "NXDOMAIN", Qname: "nobody.iso6523-actorid-upis.sml.test.", Qtype: dns.TypeNAPTR, AA: true, Rcode: dns.RcodeNameError, Ns: soa},
		{Name: "NXDOMAIN below a name", Qname: "x." + naptrName, Qtype: dns.TypeNAPTR, AA: true, Rcode: dns.RcodeNameError, Ns: soa},
		{Name: "ENT scheme", Qname: "iso6523-actorid-upis.sml.test.", Qtype: dns.TypeNAPTR, AA: true, Ns: soa},
		{Name: "ENT publisher", Qname: "PUBLISHER.sml.test.", Qtype: dns.TypeA, AA: true, Ns: soa},
		{Name: "wildcard", Qname: "anything.wild.sml.test.", Qtype: dns.TypeNAPTR, AA: true,
			Answer: rrs(`anything.wild.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://wild.example.org!" .`)},
		{Name: "apex SOA", Qname: "sml.test.", Qtype: dns.TypeSOA, AA: true, Answer: rrs("sml.test. 3600 IN SOA ns1.sml.test. hostmaster.sml.test. 1 3600 600 604800 60")},
		{Name: "apex NS", Qname: "SML.test.", Qtype: dns.TypeNS, AA: true, Answer: rrs("sml.test. 3600 IN NS ns1.sml.test.")},
		{Name: "apex NODATA", Qname: "sml.test.", Qtype: dns.TypeNAPTR, AA: true, Ns: soa},
		{Name: "ANY (RFC 8482)", Qname: naptrName, Qtype: dns.TypeANY, AA: true, Answer: []dns.RR{naptr}},
		{Name: "outside the zones", Qname: "example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeRefused},
		{Name: "parent of the zone", Qname: "test.", Qtype: dns.TypeSOA, Rcode: dns.RcodeRefused},
		{Name: "NXDOMAIN below the SOA's mname", Qname: "x.NS1.sml.test.", Qtype: dns.TypeA, AA: true, Rcode: dns.RcodeNameError, Ns: soa},
		{Name: "NXDOMAIN, short", Qname: "b.sml.test.", Qtype: dns.TypeNAPTR, AA: true, Rcode: dns.RcodeNameError, Ns: soa},
	}
}

func TestAnswers(t *testing.T) {
	for _, noBatch := range []bool{false, true} {
		t.Run(map[bool]string{false: "recvmmsg", true: "plain-loop"}[noBatch], func(t *testing.T) {
			testAnswers(t, startServerLoop(t, Config{}, newSource(10), noBatch))
		})
	}
}

func testAnswers(t *testing.T, s *Server) {
	for _, netw := range []string{"udp", "tcp"} {
		for _, edns := range []bool{false, true} {
			for _, c := range answerCases() {
				m := c.Msg()
				m.RecursionDesired = true
				if edns {
					m.SetEdns0(4096, false)
				}
				r := exchange(t, s, m, netw)
				if err := dnstest.SortAndCheck(r, c); err != nil {
					t.Errorf("%s edns=%v: %v", netw, edns, err)
					continue
				}
				if r.Question[0].Name != c.Qname {
					t.Errorf("%s %s: question %q, want the query's case %q", netw, c, r.Question[0].Name, c.Qname)
				}
				for _, a := range r.Answer {
					if strings.EqualFold(a.Header().Name, c.Qname) && a.Header().Name != c.Qname {
						t.Errorf("%s %s: owner %q, want the query's case", netw, c, a.Header().Name)
					}
				}
				if !r.RecursionDesired {
					t.Errorf("%s %s: RD not copied", netw, c)
				}
				if (r.IsEdns0() != nil) != edns {
					t.Errorf("%s %s: OPT in answer %v, want %v", netw, c, r.IsEdns0() != nil, edns)
				}
			}
		}
	}
	reg := s.m
	if n := testutil.ToFloat64(reg.queries.WithLabelValues("NAPTR", "NOERROR")); n == 0 {
		t.Error("no NAPTR NOERROR queries counted")
	}
	if n := testutil.ToFloat64(reg.serial.WithLabelValues(testZone)); n != 1 {
		t.Errorf("serial gauge %v, want 1", n)
	}
}

// TestTruncation: an answer larger than the client's buffer comes with TC over UDP, in full over TCP.
func TestTruncation(t *testing.T) {
	s := startServer(t, Config{UDPSize: 1232}, newSource(10))
	for _, bufsize := range []uint16{0, 1232, 4096} {
		m := new(dns.Msg)
		m.SetQuestion(bigName, dns.TypeNAPTR)
		if bufsize > 0 {
			m.SetEdns0(bufsize, false)
		}
		packed, _ := m.Pack()
		r := exchange(t, s, m, "udp")
		if !r.Truncated || !r.Authoritative {
			t.Errorf("bufsize %d: tc=%v aa=%v, want both", bufsize, r.Truncated, r.Authoritative)
		}
		r.Compress = true
		raw, _ := r.Pack()
		limit := 512
		if bufsize > 0 {
			limit = min(int(bufsize), 1232)
		}
		if len(raw) > limit {
			t.Errorf("bufsize %d: %d bytes over UDP", bufsize, len(raw))
		}
		_ = packed
		r = exchange(t, s, m, "tcp")
		if r.Truncated || len(r.Answer) != 40 {
			t.Errorf("tcp: tc=%v answers=%d, want full 40", r.Truncated, len(r.Answer))
		}
	}
}

// TestRejected: messages the server does not take are answered from the header alone, or not at all.
func TestRejected(t *testing.T) {
	s := startServer(t, Config{}, newSource(10))
	q := func(mod func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion(naptrName, dns.TypeNAPTR)
		m.Id = 4711
		mod(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	update := new(dns.Msg)
	update.SetUpdate(testZone)
	update.Insert([]dns.RR{dnstest.RR("x.sml.test. 60 IN A 192.0.2.1")})
	update.Id = 4711
	upd, _ := update.Pack()
	twoQ := q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })
	noQ := q(func(m *dns.Msg) { m.Question = nil })
	cases := []struct {
		name  string
		raw   []byte
		rcode int // -1: no answer
	}{
		{"UPDATE", upd, dns.RcodeNotImplemented},
		{"unknown opcode", q(func(m *dns.Msg) { m.Opcode = 3 }), dns.RcodeNotImplemented},
		{"IQUERY", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeIQuery }), dns.RcodeNotImplemented},
		{"two questions", twoQ, dns.RcodeFormatError},
		{"no question", noQ, dns.RcodeFormatError},
		{"a response", q(func(m *dns.Msg) { m.Response = true }), -1},
		{"truncated question", q(func(*dns.Msg) {})[:20], dns.RcodeFormatError},
		{"NOTIFY to the primary", q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify; m.Question[0].Qtype = dns.TypeSOA }), dns.RcodeRefused},
		{"class CH", q(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), dns.RcodeRefused},
		{"EDNS version 1", q(func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }), dns.RcodeBadVers},
	}
	u, tc := s.Addr()
	for _, c := range cases {
		for _, netw := range []string{"udp", "tcp"} {
			addr := u.String()
			if netw == "tcp" {
				addr = tc.String()
			}
			got, err := rawExchange(netw, addr, c.raw, c.rcode < 0)
			if c.rcode < 0 {
				if err == nil {
					t.Errorf("%s over %s: got an answer to a response", c.name, netw)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s over %s: %v", c.name, netw, err)
				continue
			}
			if got.Id != 4711 || !got.Response || got.Rcode != c.rcode || got.RecursionAvailable {
				t.Errorf("%s over %s: id %d qr %v rcode %s, want rcode %s", c.name, netw, got.Id, got.Response,
					dns.RcodeToString[got.Rcode], dns.RcodeToString[c.rcode])
			}
		}
	}
}

// rawExchange sends raw bytes and unpacks the answer (header only if the rest does not parse).
func rawExchange(netw, addr string, raw []byte, expectNone bool) (*dns.Msg, error) {
	conn, err := net.Dial(netw, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	wait := 3 * time.Second
	if expectNone {
		wait = 500 * time.Millisecond
	}
	_ = conn.SetDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	var n int
	if netw == "tcp" {
		out := binary.BigEndian.AppendUint16(nil, uint16(len(raw)))
		if _, err := conn.Write(append(out, raw...)); err != nil {
			return nil, err
		}
		if _, err := readFull(conn, buf[:2]); err != nil {
			return nil, err
		}
		l := int(binary.BigEndian.Uint16(buf))
		if n, err = readFull(conn, buf[:l]); err != nil {
			return nil, err
		}
	} else {
		if _, err := conn.Write(raw); err != nil {
			return nil, err
		}
		if n, err = conn.Read(buf); err != nil {
			return nil, err
		}
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		return nil, err
	}
	return m, nil
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPipelinedTCP: several queries written at once on one TCP connection are all answered on it.
func TestPipelinedTCP(t *testing.T) {
	s := startServer(t, Config{}, newSource(10))
	_, tc := s.Addr()
	conn, err := net.Dial("tcp", tc.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	for i, name := range []string{"sml.test.", naptrName, cnameName} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeSOA)
		m.Id = uint16(100 + i)
		b, _ := m.Pack()
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for i := range 3 {
		if _, err := readFull(conn, buf[:2]); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		l := int(binary.BigEndian.Uint16(buf))
		if _, err := readFull(conn, buf[:l]); err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:l]); err != nil || m.Id != uint16(100+i) {
			t.Fatalf("answer %d: id %d err %v", i, m.Id, err)
		}
	}
}

// queryVariants are raw queries for every answer case: plain, with RD and CD, with EDNS (and DO, and a
// cookie option), and in 0x20 case.
func queryVariants() [][]byte {
	var out [][]byte
	for _, c := range answerCases() {
		for v := range 6 {
			m := c.Msg()
			m.Id = uint16(1000 + v)
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
				b := []byte(m.Question[0].Name)
				for i := range b {
					if i%2 == 0 {
						b[i] = byte(strings.ToUpper(string(b[i]))[0])
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
	}
	return out
}

// TestFastPathEqualsSlowPath: for every case, the fast path's bytes equal the full path's, and the fast path
// does answer the cacheable ones.
func TestFastPathEqualsSlowPath(t *testing.T) {
	for _, wild := range []bool{true, false} {
		t.Run(map[bool]string{true: "with-wildcard", false: "without-wildcard"}[wild], func(t *testing.T) {
			src := newSource(10)
			if !wild {
				src = newSourceWithout("*.")
			}
			testFastPathEqualsSlowPath(t, startServer(t, Config{}, src), wild)
		})
	}
}

func testFastPathEqualsSlowPath(t *testing.T, s *Server, wild bool) {
	check := func(stage string) {
		hits := 0
		for _, raw := range queryVariants() {
			w := &udpWriter{keys: s.keys}
			s.serveRaw(raw, w) // also fills the cache
			if len(w.captured) != 1 {
				t.Fatalf("slow path wrote %d messages", len(w.captured))
			}
			slow := w.captured[0]
			fast, ok := s.fast(raw, nil)
			q := new(dns.Msg)
			_ = q.Unpack(raw)
			if !ok {
				continue
			}
			hits++
			if !bytes.Equal(fast, slow) {
				t.Errorf("%s: %s %s: fast path differs\n fast %x\n slow %x", stage, q.Question[0].Name,
					dns.TypeToString[q.Question[0].Qtype], fast, slow)
			}
		}
		if hits < len(answerCases()) {
			t.Errorf("%s: fast path answered only %d queries", stage, hits)
		}
	}
	check("before changes")
	fastRcode := func(name string) (int, bool) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeNAPTR)
		raw, _ := m.Pack()
		b, ok := s.fast(raw, nil)
		if !ok {
			return 0, false
		}
		return int(b[3] & 0xf), true
	}
	if rc, ok := fastRcode("nobody.iso6523-actorid-upis.sml.test."); ok != !wild || (ok && rc != dns.RcodeNameError) {
		t.Errorf("fast NXDOMAIN: answered %v rcode %d (wildcards in zone: %v)", ok, rc, wild)
	}
	if _, ok := fastRcode("x.ns1.sml.test."); ok {
		t.Error("fast path answered NXDOMAIN below the SOA's mname")
	}
	// A change raises the serial: answers with the SOA must not come from the old cache.
	src := newSourceOf(s)
	src.Commit(testZone, nil, rrsToRecords(dnstest.RRs("new.iso6523-actorid-upis.sml.test. 60 IN NAPTR 100 10 \"U\" \"Meta:SMP\" \"!^.*$!http://x.example.org!\" .")))
	check("after a change")
	r := exchange(t, s, dnstest.Case{Qname: naptrName, Qtype: dns.TypeA}.Msg(), "udp")
	if len(r.Ns) != 1 || r.Ns[0].(*dns.SOA).Serial != 2 {
		t.Errorf("NODATA after a change: authority %v, want the SOA at serial 2", r.Ns)
	}
}

func newSourceOf(s *Server) *dnstest.Source { return s.src.(*dnstest.Source) }

// FuzzServe feeds arbitrary bytes to the fast-path parser and the full handler: no panic, and any answer is a
// well-formed response with the query's ID.
func FuzzServe(f *testing.F) {
	for _, raw := range queryVariants() {
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	servers := []*Server{loadedServer(f), loadedServerFrom(f, newSourceWithout("*."))}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, s := range servers {
			if out, ok := s.fast(raw, nil); ok {
				checkAnswer(t, raw, out)
			}
			w := &udpWriter{keys: s.keys}
			s.serveRaw(raw, w)
			for _, out := range w.captured {
				checkAnswer(t, raw, out)
			}
		}
	})
}

func checkAnswer(t *testing.T, q, a []byte) {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(a); err != nil {
		t.Fatalf("answer does not parse: %v\nquery %x\nanswer %x", err, q, a)
	}
	if !m.Response || m.Id != binary.BigEndian.Uint16(q) {
		t.Fatalf("answer qr=%v id=%d for query %x", m.Response, m.Id, q)
	}
}

// loadedServer is a server with the test zone in its index, not listening.
func loadedServer(tb testing.TB) *Server {
	tb.Helper()
	return loadedServerFrom(tb, newSource(4))
}

func loadedServerFrom(tb testing.TB, src *dnstest.Source) *Server {
	tb.Helper()
	s, err := New(Config{Listen: "127.0.0.1:0"}, src, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	apexes, _ := s.src.Apexes()
	for _, a := range apexes {
		z, err := s.loadZone(a)
		if err != nil {
			tb.Fatal(err)
		}
		s.setZone(z.name, z)
	}
	return s
}

// BenchmarkFastPath is the per-query work of the UDP fast path (parse, look up, copy, patch), no syscalls.
func BenchmarkFastPath(b *testing.B) {
	s := loadedServer(b)
	m := new(dns.Msg)
	m.SetQuestion("reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.ISO6523-actorid-upis.sml.test.", dns.TypeNAPTR)
	raw, _ := m.Pack()
	out := make([]byte, 0, 65535)
	if _, ok := s.fast(raw, out); !ok {
		b.Fatal("not answered on the fast path")
	}
	b.ReportAllocs()
	for b.Loop() {
		out, _ = s.fast(raw, out)
	}
}

// BenchmarkFastPathNXDOMAIN is the fast path for a name that does not exist.
func BenchmarkFastPathNXDOMAIN(b *testing.B) {
	s := loadedServerFrom(b, newSourceWithout("*."))
	m := new(dns.Msg)
	m.SetQuestion("nobody0123456789.iso6523-actorid-upis.sml.test.", dns.TypeNAPTR)
	raw, _ := m.Pack()
	out := make([]byte, 0, 65535)
	if _, ok := s.fast(raw, out); !ok {
		b.Fatal("not answered on the fast path")
	}
	b.ReportAllocs()
	for b.Loop() {
		out, _ = s.fast(raw, out)
	}
}

// BenchmarkSlowPath is the same query through the full path (unpack, handler, pack), for comparison.
func BenchmarkSlowPath(b *testing.B) {
	s := loadedServer(b)
	m := new(dns.Msg)
	m.SetQuestion(naptrName, dns.TypeNAPTR)
	raw, _ := m.Pack()
	b.ReportAllocs()
	for b.Loop() {
		w := &udpWriter{keys: s.keys}
		s.serveRaw(raw, w)
	}
}

// TestPackOwnSet: the direct packing of a node's own RRset gives miekg/dns's bytes.
func TestPackOwnSet(t *testing.T) {
	s := loadedServer(t)
	z := s.zones[testZone]
	checked := 0
	for name, n := range z.nodes {
		for _, set := range n.sets {
			got := packOwnSet(set, make([]byte, 0, 64*1024))
			if got == nil {
				continue
			}
			m := &dns.Msg{Compress: true}
			m.Response, m.Authoritative = true, true
			m.Question = []dns.Question{{Name: name, Qtype: set.t, Qclass: dns.ClassINET}}
			m.Answer = set.rrs
			full, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if want := compact(full); !bytes.Equal(got, want) {
				t.Errorf("%s %s:\n got  %x\n want %x", name, dns.TypeToString[set.t], got, want)
			}
			checked++
		}
	}
	if checked < 4 {
		t.Errorf("checked %d RRsets", checked)
	}
}
