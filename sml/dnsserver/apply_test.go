package dnsserver

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/dnstest"
	"github.com/signpost-project/signpost/sml/zone"
)

// TestApply: steps change the answers at once; removing the last name under an empty non-terminal makes it
// NXDOMAIN; a step that does not follow the index's serial makes the server reload the zone.
func TestApply(t *testing.T) {
	src := newSource(10)
	s := startServer(t, Config{}, src)
	p := "x.newscheme.sml.test."
	rec := rrsToRecords(dnstest.RRs(p + ` 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://x.example.org!" .`))
	ask := func(name string) *dns.Msg {
		return exchange(t, s, dnstest.Case{Qname: name, Qtype: dns.TypeNAPTR}.Msg(), "udp")
	}
	if r := ask("newscheme.sml.test."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("before: %s", dns.RcodeToString[r.Rcode])
	}
	src.Commit(testZone, nil, rec)
	if r := ask(p); len(r.Answer) != 1 {
		t.Errorf("added name: %v", r)
	}
	if r := ask("newscheme.sml.test."); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("empty non-terminal after add: %v", r)
	}
	src.Commit(testZone, rec, nil)
	for _, n := range []string{p, "newscheme.sml.test."} {
		if r := ask(n); r.Rcode != dns.RcodeNameError || r.Ns[0].(*dns.SOA).Serial != 3 {
			t.Errorf("%s after delete: %v", n, r)
		}
	}
	// A step the server never saw: the source moves on without telling it, then the next step does not
	// follow; the server reloads.
	src.OnCommit = nil
	src.Commit(testZone, nil, rec) // 3 -> 4, not applied
	src.OnCommit = s.Apply
	c := src.Commit(testZone, nil, participant(9)) // 4 -> 5
	if c.From != 4 {
		t.Fatal(c)
	}
	if r := ask(p); len(r.Answer) != 1 || r.Ns != nil {
		t.Errorf("after reload: %v", r)
	}
	if r := ask("sml.test."); r.Ns[0].(*dns.SOA).Serial != 5 {
		t.Errorf("serial after reload: %v", r.Ns)
	}
	// An old step (already in the index) changes nothing.
	s.Apply(zone.Change{Zone: testZone, From: 3, To: 4, Deleted: rec})
	if r := ask(p); len(r.Answer) != 1 {
		t.Errorf("old step applied again: %v", r)
	}
}

// notifyCatcher is a DNS server that counts the NOTIFYs it gets and ignores the first `drop` of them.
type notifyCatcher struct {
	mu      sync.Mutex
	got     []uint32 // serials
	drop    int
	srv     *dns.Server
	address string
}

func startCatcher(t *testing.T, drop int) *notifyCatcher {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &notifyCatcher{drop: drop, address: pc.LocalAddr().String()}
	started := make(chan struct{})
	c.srv = &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if r.Opcode != dns.OpcodeNotify {
				return
			}
			if c.drop > 0 {
				c.drop--
				return
			}
			if len(r.Answer) == 1 {
				c.got = append(c.got, r.Answer[0].(*dns.SOA).Serial)
			}
			m := new(dns.Msg)
			m.SetReply(r) // no AA, like Knot
			_ = w.WriteMsg(m)
		})}
	go func() { _ = c.srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = c.srv.Shutdown() })
	return c
}

func (c *notifyCatcher) serials() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint32(nil), c.got...)
}

// TestNotifyCoalescedAndRetried: a burst of changes gives few NOTIFYs, the last with the last serial; a NOTIFY
// that is not answered is sent again.
func TestNotifyCoalescedAndRetried(t *testing.T) {
	quiet := startCatcher(t, 0)
	lossy := startCatcher(t, 2)
	src := newSource(100)
	s := startServer(t, Config{Notify: []string{quiet.address, lossy.address}, NotifyDelay: 300 * time.Millisecond}, src)
	for i := range 30 {
		src.Commit(testZone, nil, participant(100+i))
	}
	for _, c := range []*notifyCatcher{quiet, lossy} {
		eventually(t, "NOTIFY with serial 31", 20*time.Second, func() error {
			if g := c.serials(); len(g) == 0 || g[len(g)-1] != 31 {
				return errorf("got %v", g)
			}
			return nil
		})
	}
	if g := quiet.serials(); len(g) > 5 {
		t.Errorf("%d NOTIFYs for a burst of 30 changes (%v), want them coalesced", len(g), g)
	}
	if n := testutilNotifies(s, "acknowledged"); n < 2 {
		t.Errorf("acknowledged %v", n)
	}
}
