package dnsserver

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml/zone"
)

// boomName makes the test hook panic when a query for it is handled.
const boomName = "boom.sml.test."

// queryBomb returns a hook that panics on every query for a name beginning with "boom" or "bo=om" (the latter
// never takes the fast path: '=' is not a label character it reads), counting the panics of each path.
func queryBomb() (hook func(edge, name string), fast, full *atomic.Int32) {
	fast, full = new(atomic.Int32), new(atomic.Int32)
	return func(edge, name string) {
		if edge == EdgeQuery && (strings.HasPrefix(name, "boom.") || strings.HasPrefix(name, "bo=om.")) {
			if strings.Contains(string(debug.Stack()), ".fastLocked(") {
				fast.Add(1)
			} else {
				full.Add(1)
			}
			panic(fmt.Sprintf("test: query for %s", name))
		}
	}, fast, full
}

// wantServfail checks that r is SERVFAIL to a query for name, with the question echoed.
func wantServfail(t *testing.T, r *dns.Msg, id uint16, name string) {
	t.Helper()
	if r.Rcode != dns.RcodeServerFailure || !r.Response || r.Id != id {
		t.Fatalf("answer to the panicking query: rcode %s response %t id %d (want SERVFAIL to id %d)\n%v",
			dns.RcodeToString[r.Rcode], r.Response, r.Id, id, r)
	}
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, name) {
		t.Fatalf("SERVFAIL without the question %s: %v", name, r.Question)
	}
}

// wantAnswer checks the NAPTR answer of the test zone.
func wantAnswer(t *testing.T, r *dns.Msg) {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeNAPTR {
		t.Fatalf("the query after a panic was not answered: %v", r)
	}
}

// TestQueryPanicUDP: on the fast path (recvmmsg and plain loops) and on the full path over UDP, a query whose
// handling panics gets SERVFAIL; the panic is counted, and the server answers the next query on the same socket.
func TestQueryPanicUDP(t *testing.T) {
	for _, c := range []struct {
		name    string
		noBatch bool
		qname   string
		fast    bool // the panic happens on the fast path
	}{
		{"fast path, recvmmsg", false, boomName, true},
		{"fast path, plain loop", true, boomName, true},
		{"full path, recvmmsg", false, "bo=om.sml.test.", false},
		{"full path, plain loop", true, "bo=om.sml.test.", false},
		{"full path, EDNS", true, "Boom.sml.test.", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			hook, fast, full := queryBomb()
			s := startServerHook(t, Config{}, newSource(10), c.noBatch, hook)
			before := recovery.Count(EdgeQuery)
			udp, _ := s.Addr()
			conn, err := dns.Dial("udp", udp.String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ask := func(name string, qtype uint16) *dns.Msg {
				t.Helper()
				m := new(dns.Msg)
				m.SetQuestion(name, qtype)
				if c.name == "full path, EDNS" {
					m.SetEdns0(1232, false)
					m.IsEdns0().SetVersion(1) // not for the fast path
				}
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				if err := conn.WriteMsg(m); err != nil {
					t.Fatal(err)
				}
				r, err := conn.ReadMsg()
				if err != nil {
					t.Fatalf("%s: no answer: %v", name, err)
				}
				if r.Id != m.Id {
					t.Fatalf("answer to id %d, want %d", r.Id, m.Id)
				}
				return r
			}
			for range 3 {
				r := ask(c.qname, dns.TypeNAPTR)
				wantServfail(t, r, r.Id, c.qname)
				if c.name != "full path, EDNS" {
					wantAnswer(t, ask(naptrName, dns.TypeNAPTR))
				} else if r := ask(naptrName, dns.TypeNAPTR); r.Rcode != dns.RcodeBadVers {
					t.Fatalf("the query after a panic was not answered: %v", r)
				}
			}
			// A burst, so that panicking and good queries share a recvmmsg batch: each gets its own answer.
			const burst = 16
			ids := map[uint16]string{}
			for i := range burst {
				m := new(dns.Msg)
				name := naptrName
				if i%2 == 0 {
					name = c.qname
				}
				m.SetQuestion(name, dns.TypeNAPTR)
				if c.name == "full path, EDNS" {
					m.SetEdns0(1232, false)
					m.IsEdns0().SetVersion(1)
				}
				ids[m.Id] = name
				if err := conn.WriteMsg(m); err != nil {
					t.Fatal(err)
				}
			}
			for range burst {
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				r, err := conn.ReadMsg()
				if err != nil {
					t.Fatalf("burst: %d answers missing: %v", len(ids), err)
				}
				name, ok := ids[r.Id]
				if !ok {
					t.Fatalf("burst: unexpected or repeated answer to id %d", r.Id)
				}
				delete(ids, r.Id)
				switch {
				case name == c.qname:
					wantServfail(t, r, r.Id, name)
				case c.name == "full path, EDNS":
					if r.Rcode != dns.RcodeBadVers {
						t.Fatalf("burst: %v", r)
					}
				default:
					wantAnswer(t, r)
				}
			}
			if d := recovery.Count(EdgeQuery) - before; d != 3+burst/2 {
				t.Errorf("counted %v panics, want %d", d, 3+burst/2)
			}
			wantFast, wantFull := int32(3+burst/2), int32(0)
			if !c.fast {
				wantFast, wantFull = 0, 3+burst/2
			}
			if fast.Load() != wantFast || full.Load() != wantFull {
				t.Errorf("panics on the fast path %d, on the full path %d; want %d and %d", fast.Load(), full.Load(), wantFast, wantFull)
			}
		})
	}
}

// TestQueryPanicTCP: over TCP (miekg/dns's server), a panicking query gets SERVFAIL and the same connection goes
// on being served.
func TestQueryPanicTCP(t *testing.T) {
	hook, _, full := queryBomb()
	s := startServerHook(t, Config{}, newSource(10), false, hook)
	before := recovery.Count(EdgeQuery)
	_, tcp := s.Addr()
	conn, err := dns.Dial("tcp", tcp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := func(name string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeNAPTR)
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := conn.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatalf("%s: no answer on the connection: %v", name, err)
		}
		return r
	}
	for range 3 {
		r := ask(boomName)
		wantServfail(t, r, r.Id, boomName)
		wantAnswer(t, ask(naptrName))
	}
	if d := recovery.Count(EdgeQuery) - before; d != 3 || full.Load() != 3 {
		t.Errorf("counted %v panics (%d on the full path), want 3", d, full.Load())
	}
	// A new connection too.
	wantAnswer(t, exchange(t, s, dnstest.Case{Qname: naptrName, Qtype: dns.TypeNAPTR}.Msg(), "tcp"))
}

// TestUDPReaderPanic: a UDP reader that panics outside any one query (the datagrams it had read are lost)
// restarts, and a client that asks again is answered.
func TestUDPReaderPanic(t *testing.T) {
	for _, noBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("noBatch=%t", noBatch), func(t *testing.T) {
			var armed atomic.Bool
			armed.Store(true)
			before := recovery.Count(EdgeUDP)
			s := startServerHook(t, Config{}, newSource(10), noBatch, func(edge, _ string) {
				if edge == EdgeUDP && armed.CompareAndSwap(true, false) {
					panic("test: reader")
				}
			})
			udp, _ := s.Addr()
			c := &dns.Client{Net: "udp", Timeout: 250 * time.Millisecond}
			var r *dns.Msg
			var err error
			for range 40 { // the first query is lost with the reader's batch; resolvers ask again
				if r, _, err = c.Exchange(dnstest.Case{Qname: naptrName, Qtype: dns.TypeNAPTR}.Msg(), udp.String()); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("no answer after the reader's panic: %v", err)
			}
			wantAnswer(t, r)
			if armed.Load() {
				t.Fatal("the hook did not run")
			}
			if d := recovery.Count(EdgeUDP) - before; d != 1 {
				t.Errorf("counted %v panics, want 1", d)
			}
		})
	}
}

// TestServfailWire: the SERVFAIL built from raw bytes echoes ID, opcode, RD, CD and the question, and refuses to
// answer responses and runts; it never reads past the message.
func TestServfailWire(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("Boom.sml.test.", dns.TypeNAPTR)
	m.CheckingDisabled = true
	m.SetEdns0(1232, true)
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b, ok := servfailWire(q, nil)
	if !ok {
		t.Fatal("no SERVFAIL for a query")
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if r.Id != m.Id || !r.Response || r.Rcode != dns.RcodeServerFailure || !r.RecursionDesired || !r.CheckingDisabled ||
		r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 || r.Question[0] != m.Question[0] || len(r.Extra) != 0 {
		t.Fatalf("SERVFAIL %v", r)
	}
	for i := range len(q) {
		b, ok := servfailWire(q[:i], nil) // cut anywhere: a header, or nothing; never a panic
		if ok && (i < 12 || len(b) > i) {
			t.Fatalf("cut at %d: %x", i, b)
		}
	}
	resp := append([]byte(nil), q...)
	resp[2] |= 0x80
	if _, ok := servfailWire(resp, nil); ok {
		t.Fatal("a SERVFAIL to a response")
	}
}

// TestApplyPanic: a change whose application panics makes the server load the zone afresh: the change is served.
func TestApplyPanic(t *testing.T) {
	var armed atomic.Bool
	armed.Store(true)
	src := newSource(10)
	s := startServerHook(t, Config{}, src, false, func(edge, _ string) {
		if edge == EdgeApply && armed.CompareAndSwap(true, false) {
			panic("test: apply")
		}
	})
	before := recovery.Count(EdgeApply)
	src.Commit(testZone, nil, []zone.Record{participant(7)[0]})
	if armed.Load() {
		t.Fatal("the hook did not run")
	}
	r := exchange(t, s, dnstest.Case{Qname: participant(7)[0].Name, Qtype: dns.TypeNAPTR}.Msg(), "udp")
	if len(r.Answer) != 1 {
		t.Fatalf("the change whose application panicked is not served: %v", r)
	}
	if soa := exchange(t, s, dnstest.Case{Qname: testZone, Qtype: dns.TypeSOA}.Msg(), "udp"); soa.Answer[0].(*dns.SOA).Serial != 2 {
		t.Fatalf("serial after the reload: %v", soa.Answer)
	}
	if d := recovery.Count(EdgeApply) - before; d != 1 {
		t.Errorf("counted %v panics, want 1", d)
	}
	// The next change applies normally.
	src.Commit(testZone, nil, []zone.Record{participant(8)[0]})
	if r := exchange(t, s, dnstest.Case{Qname: participant(8)[0].Name, Qtype: dns.TypeNAPTR}.Msg(), "udp"); len(r.Answer) != 1 {
		t.Fatalf("the next change is not served: %v", r)
	}
}

// TestNotifyPanic: a NOTIFY sender that panics restarts and sends the NOTIFY of the round it failed.
func TestNotifyPanic(t *testing.T) {
	catcher := startCatcher(t, 0)
	var armed atomic.Bool
	armed.Store(true)
	src := newSource(10)
	before := recovery.Count(EdgeNotify)
	startServerHook(t, Config{Notify: []string{catcher.address}}, src, false, func(edge, _ string) {
		if edge == EdgeNotify && armed.CompareAndSwap(true, false) {
			panic("test: notify")
		}
	})
	src.Commit(testZone, nil, []zone.Record{participant(7)[0]})
	eventually(t, "NOTIFY with serial 2 after the sender's panic", 20*time.Second, func() error {
		if g := catcher.serials(); len(g) == 0 || g[len(g)-1] != 2 {
			return errorf("got %v", g)
		}
		return nil
	})
	if armed.Load() {
		t.Fatal("the hook did not run")
	}
	if d := recovery.Count(EdgeNotify) - before; d != 1 {
		t.Errorf("counted %v panics, want 1", d)
	}
	// The restarted sender goes on with later changes.
	src.Commit(testZone, nil, []zone.Record{participant(8)[0]})
	eventually(t, "NOTIFY with serial 3", 20*time.Second, func() error {
		if g := catcher.serials(); g[len(g)-1] != 3 {
			return errorf("got %v", g)
		}
		return nil
	})
}

// TestLoadPanic: a panic while loading a zone is an error of Start, not the end of the process.
func TestLoadPanic(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"}, newSource(10), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.panicHook = func(edge, name string) {
		if edge == EdgeLoad && name == pubName {
			panic("test: load")
		}
	}
	before := recovery.Count(EdgeLoad)
	err = s.Start(context.Background())
	if err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("Start succeeded with a zone that cannot load")
	}
	if !strings.Contains(err.Error(), "load zone sml.test") || !strings.Contains(err.Error(), "test: load") {
		t.Errorf("error %q does not say which zone failed and why", err)
	}
	if d := recovery.Count(EdgeLoad) - before; d != 1 {
		t.Errorf("counted %v panics, want 1", d)
	}
}
