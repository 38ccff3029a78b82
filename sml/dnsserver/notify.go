package dnsserver

import (
	"context"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/recovery"
)

// notifyAttempts is how often one NOTIFY is sent before giving up until the next change.
const notifyAttempts = 5

// notifier sends NOTIFYs, one loop per secondary: changes mark zones pending; a loop sends one NOTIFY per
// pending zone, retried until acknowledged, then waits NotifyDelay before the next round (coalescing).
type notifier struct {
	s       *Server
	ctx     context.Context
	wg      sync.WaitGroup
	targets []*notifyTarget
}

type notifyTarget struct {
	addr    string
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
	// inflight are the zones of the round being sent; only the target's loop uses it. A loop that restarts after
	// a panic sends them again.
	inflight map[string]bool
}

func newNotifier(s *Server, ctx context.Context) *notifier {
	n := &notifier{s: s, ctx: ctx}
	for _, t := range s.targets {
		nt := &notifyTarget{addr: t.String(), pending: map[string]bool{}, wake: make(chan struct{}, 1)}
		n.targets = append(n.targets, nt)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			recovery.Loop(ctx, s.log, EdgeNotify, func(context.Context) { n.loop(nt) })
		}()
	}
	return n
}

func (n *notifier) wait() {
	if n != nil {
		n.wg.Wait()
	}
}

// schedule marks a zone changed for every secondary.
func (n *notifier) schedule(zone string) {
	for _, t := range n.targets {
		t.mu.Lock()
		t.pending[zone] = true
		t.mu.Unlock()
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

func (n *notifier) loop(t *notifyTarget) {
	if len(t.inflight) > 0 { // a restart after a panic: the failed round's zones are pending again
		t.mu.Lock()
		for z := range t.inflight {
			t.pending[z] = true
		}
		t.mu.Unlock()
		t.inflight = nil
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.wake:
		}
		t.mu.Lock()
		t.inflight = t.pending
		t.pending = map[string]bool{}
		t.mu.Unlock()
		for z := range t.inflight {
			if hook := n.s.panicHook; hook != nil {
				hook(EdgeNotify, z)
			}
			n.send(t.addr, z)
			delete(t.inflight, z)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(n.s.cfg.NotifyDelay):
		}
	}
}

// send sends one NOTIFY for zone to addr, retrying with backoff until acknowledged (any NOERROR answer with
// the NOTIFY opcode; Knot answers without AA).
func (n *notifier) send(addr, zone string) {
	s := n.s
	s.mu.RLock()
	z := s.zones[zone]
	var soa *dns.SOA
	if z != nil {
		soa = z.soa
	}
	s.mu.RUnlock()
	if soa == nil {
		return
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, TsigProvider: s.keys}
	backoff := 500 * time.Millisecond
	for attempt := 1; attempt <= notifyAttempts; attempt++ {
		m := new(dns.Msg)
		m.SetNotify(zone)
		m.Answer = []dns.RR{soa}
		if s.ntfKey != "" {
			m.SetTsig(s.ntfKey, dns.HmacSHA256, 300, time.Now().Unix())
		}
		r, _, err := c.ExchangeContext(n.ctx, m, addr)
		if err == nil && r.Opcode == dns.OpcodeNotify && r.Rcode == dns.RcodeSuccess {
			s.m.notify("acknowledged")
			s.log.Debug("dns notify acknowledged", "zone", zone, "secondary", addr, "serial", soa.Serial)
			return
		}
		if err == nil {
			s.log.Warn("dns notify not accepted", "zone", zone, "secondary", addr, "rcode", dns.RcodeToString[r.Rcode], "attempt", attempt)
		} else {
			s.log.Warn("dns notify failed", "zone", zone, "secondary", addr, "err", err, "attempt", attempt)
		}
		select {
		case <-n.ctx.Done():
			s.m.notify("failed")
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	s.m.notify("failed")
}
