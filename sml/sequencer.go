package sml

import (
	"log/slog"
	"sync"
	"time"

	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml/zone"
)

// EdgeOnChange is the edge label (signpost_panics_total) of a panic of Options.OnChange.
const EdgeOnChange = "sml_onchange"

// gapWait is how long a writer waits for the changes before its own to be handed over (by the writers that made
// them, or by the follower for changes of other nodes) before it reads them from the journal itself. A variable
// for tests.
var gapWait = 100 * time.Millisecond

// sequencer hands committed changes to OnChange in commit order: per zone, change N+1 (From == N.To) only after
// change N, and each change once. Changes come from this node's writers (writers sharing a batch commit return
// from the store in any order) and, with several nodes on one repository, from the journal (the follower, or a
// writer whose change follows one it has not seen). A change that ends at or before the last serial handed over
// is dropped: it was handed over already.
type sequencer struct {
	log *slog.Logger
	mu  sync.Mutex
	// moved is closed, and replaced, each time a zone's last serial moves: waiters select on it.
	moved   chan struct{}
	fn      func(zone.Change)
	last    map[string]uint32
	pending map[string]map[uint32]zone.Change
}

func (q *sequencer) init(fn func(zone.Change), log *slog.Logger) {
	q.log = log
	q.moved = make(chan struct{})
	q.fn = fn
	q.last = map[string]uint32{}
	q.pending = map[string]map[uint32]zone.Change{}
}

// lastOf returns the last serial of the zone handed over.
func (q *sequencer) lastOf(z string) uint32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.last[z]
}

// handed reports whether the zone's changes up to serial have been handed over.
func (q *sequencer) handed(z string, serial uint32) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !serialLess(q.last[z], serial)
}

// offer takes c and hands over every change that then follows the zone's last serial.
func (q *sequencer) offer(c zone.Change) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.offerLocked(c)
}

func (q *sequencer) offerLocked(c zone.Change) {
	last := q.last[c.Zone]
	if !serialLess(last, c.To) || serialLess(c.From, last) {
		// Handed over already (by the follower and by the writer that made it, or passed by a reload).
		return
	}
	p := q.pending[c.Zone]
	if p == nil {
		p = map[uint32]zone.Change{}
		q.pending[c.Zone] = p
	}
	p[c.From] = c
	q.drainLocked(c.Zone)
}

// drainLocked hands over the pending changes of the zone that follow its last serial, in order.
func (q *sequencer) drainLocked(z string) {
	p := q.pending[z]
	moved := false
	for {
		n, ok := p[q.last[z]]
		if !ok {
			break
		}
		delete(p, n.From)
		q.call(n)
		q.last[z] = n.To
		moved = true
	}
	if moved {
		close(q.moved)
		q.moved = make(chan struct{})
	}
}

func (q *sequencer) call(c zone.Change) {
	if q.fn != nil {
		// A panicking consumer must not stop the sequence: every later writer of the zone would wait for this
		// change. It is reported and passed over; the DNS server loads the zone afresh when the next change does
		// not follow what it has.
		_ = recovery.Call(q.log, EdgeOnChange, func() { q.fn(c) })
	}
}

// jump moves the zone to serial when the changes from its last serial cannot be read from the journal (trimmed,
// reset by a bulk import, or a change too large for it): the consumer gets a change from serial to serial, which
// does not follow what it has, so that the DNS server loads the zone afresh. Pending changes that end at or before
// serial are dropped.
func (q *sequencer) jump(z string, serial uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !serialLess(q.last[z], serial) {
		return
	}
	q.call(zone.Change{Zone: z, From: serial, To: serial})
	q.last[z] = serial
	for from, c := range q.pending[z] {
		if !serialLess(serial, c.To) {
			delete(q.pending[z], from)
		}
	}
	close(q.moved)
	q.moved = make(chan struct{})
	q.drainLocked(z)
}

// remind hands over, again, a change from the zone's last serial to itself when the consumer serves an older
// serial than the last handed over (its reload failed): the DNS server loads the zone afresh.
func (q *sequencer) remind(z string, served uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if last := q.last[z]; serialLess(served, last) {
		q.call(zone.Change{Zone: z, From: last, To: last})
	}
}

// wait waits at most d until the zone's changes up to serial have been handed over, and reports whether they were.
func (q *sequencer) wait(z string, serial uint32, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for serialLess(q.last[z], serial) {
		ch := q.moved
		q.mu.Unlock()
		select {
		case <-ch:
			q.mu.Lock()
		case <-timer.C:
			q.mu.Lock()
			return !serialLess(q.last[z], serial)
		}
	}
	return true
}

// handOver hands the committed change c of this node's writer over, in order. When changes before it are missing
// after gapWait (committed by another node and not yet applied by the follower, or by a writer of this node that
// has not handed its change over yet), the writer reads them from the journal itself. If that fails (the store is
// unreachable), the writer returns anyway: its change is committed, and the follower hands it over when it can.
func (s *Service) handOver(c zone.Change) {
	s.seq.offer(c)
	if s.seq.wait(c.Zone, c.To, gapWait) {
		return
	}
	if err := s.catchUp(c.Zone); err != nil {
		s.log.Warn("sml: could not read the changes before this write's from the journal; the DNS server applies them later",
			"zone", c.Zone, "serial", c.To, "err", err)
	}
}

// catchUp hands over the zone's changes from the last serial handed over to the zone's current serial, read from
// the journal, or moves the zone to its current serial (a reload) when the journal no longer reaches back.
func (s *Service) catchUp(z string) error {
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	d, ok := s.domains[z]
	if !ok {
		return nil
	}
	from := s.seq.lastOf(z)
	steps, ok, serial, err := s.changesFrom(d, from)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Info("sml: the zone's journal does not reach back to the serial this node serves; the DNS server loads the zone afresh",
			"zone", z, "from", from, "serial", serial)
		s.seq.jump(z, serial)
		return nil
	}
	s.seq.mu.Lock()
	defer s.seq.mu.Unlock()
	for _, c := range steps {
		s.seq.offerLocked(c)
	}
	return nil
}
