// The commit engine: every write use case runs through Service.write, which applies the zone change it collects
// (serial, journal, zone state) in the same transaction, shares commits among concurrent writers, and hands the
// committed changes to OnChange in commit order.

package sml

import (
	"context"
	"time"

	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/sml/zone"
)

// journalRecordLimit bounds one journal entry: a change of more records (a new logical address of an SMP with
// very many participants) resets the journal instead, and secondaries transfer the whole zone, which is then
// cheaper than an IXFR anyway. A variable for tests.
var journalRecordLimit = 200000

// nextSerial is max(prev+1, unix seconds of now) in RFC 1982 serial arithmetic.
func nextSerial(prev uint32, now time.Time) uint32 {
	t := uint32(now.Unix())
	if serialLess(prev, t) {
		return t
	}
	return prev + 1
}

// serialLess reports a < b in RFC 1982 serial number arithmetic.
func serialLess(a, b uint32) bool { return a != b && int32(b-a) > 0 }

// change collects one use case's zone change inside its transaction.
type change struct {
	zone         string
	del, add     []zone.Record
	participants int64 // change in the zone's participant count
	forceSerial  uint32
	// audit logs the use case's audit line; called once, after the commit (fn may run more than once).
	audit func()
	// resetJournal drops the zone's journal instead of appending the change (bulk import): secondaries then
	// transfer the whole zone.
	resetJournal bool
}

// write runs fn as one transaction of a write use case and applies the zone change it collects: new serial,
// journal entry (trimmed), zone state. Then it hands the change to OnChange in commit order.
func (s *Service) write(ctx context.Context, op string, fn func(t Tx, c *change) error) error {
	return s.writeTx(ctx, op, false, fn)
}

// writeTx is write; solo runs the transaction alone (large transactions), never in a shared batch.
func (s *Service) writeTx(ctx context.Context, op string, solo bool, fn func(t Tx, c *change) error) error {
	err := s.doWrite(ctx, op, solo, fn)
	if s.onWrite != nil {
		s.onWrite(op, err)
	}
	return err
}

func (s *Service) doWrite(ctx context.Context, op string, solo bool, fn func(t Tx, c *change) error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	var out zone.Change
	var changed bool
	var audit func()
	run := func(t Tx) error {
		changed, audit = false, nil
		c := &change{}
		if err := fn(t, c); err != nil {
			return err
		}
		audit = c.audit
		if c.zone == "" || (len(c.del) == 0 && len(c.add) == 0 && c.participants == 0 && c.forceSerial == 0) {
			return nil
		}
		st, _, err := t.Zone(c.zone)
		if err != nil {
			return err
		}
		next := nextSerial(st.Serial, s.now())
		if c.forceSerial != 0 && serialLess(next, c.forceSerial) {
			next = c.forceSerial
		}
		out = zone.Change{Zone: c.zone, From: st.Serial, To: next, Deleted: c.del, Added: c.add}
		if c.resetJournal || len(c.del)+len(c.add) > journalRecordLimit {
			if err := t.DeleteJournals(c.zone); err != nil {
				return err
			}
			st.FirstSeq = st.NextSeq
		} else {
			if err := t.PutJournal(c.zone, st.NextSeq, out); err != nil {
				return err
			}
			st.NextSeq++
		}
		for st.NextSeq-st.FirstSeq > uint64(s.journalSize) {
			if err := t.DeleteJournal(c.zone, st.FirstSeq); err != nil {
				return err
			}
			st.FirstSeq++
		}
		st.Serial = next
		st.Participants += c.participants
		if err := t.PutZone(c.zone, st); err != nil {
			return err
		}
		changed = true
		return nil
	}
	err := s.commit(solo, fn, run)
	if err != nil {
		return s.fail(op, err)
	}
	if changed {
		s.handOver(out)
	}
	if audit != nil {
		audit()
	}
	return nil
}

// commit runs the transaction run of the use case fn: alone (solo, or no other writer in flight) or in a batch
// shared with concurrent writers.
func (s *Service) commit(solo bool, fn func(t Tx, c *change) error, run func(t Tx) error) (err error) {
	defer s.inflight.Add(-1) // also when a use case panics: the count must not stay raised
	if s.inflight.Add(1) > 1 && !solo {
		// Concurrent writers share a commit (one fsync). A refused call would roll the shared transaction back
		// and make every other call in it run again, so refusals are found first in a read-only dry run: a
		// refusal on that snapshot is a correct answer (as if the call had come at that moment).
		err = s.repo.View(func(t Tx) error { return fn(dryTxn{t}, &change{}) })
		if e, ok := err.(*Error); !ok || e.Kind == KindInternal {
			err = s.repo.Batch(run)
		}
	} else {
		err = s.repo.Update(run)
	}
	return err
}

// audit logs the audit line of one committed change: msg "sml change", audit=true, the operation, the caller's
// certificate identity, the domain (zone), the SMP ID and args (the identifier and other details). It is the only
// place that writes audit lines of SOAP changes: one per SMP change and one per participant created or removed.
func (s *Service) audit(op string, c Caller, d *Domain, smpID string, args ...any) {
	s.log.Info("sml change", append([]any{logging.Audit, "op", op, "caller", c.Identity, "domain", d.Zone, "smp", smpID}, args...)...)
}

// fail logs internal errors with their cause and returns err as an *Error.
func (s *Service) fail(op string, err error) error {
	if IsUnavailable(err) {
		s.log.Warn("sml: "+op+": the store is unavailable", "err", err)
		if e, ok := err.(*Error); ok && e.Unavailable {
			return e
		}
		return unavailable(err)
	}
	if e, ok := err.(*Error); ok {
		if e.Kind == KindInternal {
			s.log.Error("sml: "+op+" failed", "err", e.Err)
		}
		return e
	}
	s.log.Error("sml: "+op+" failed", "err", err)
	return internal(op, err)
}

// reject reports an error found before any transaction.
func (s *Service) reject(op string, err error) error {
	if s.onWrite != nil {
		s.onWrite(op, err)
	}
	return err
}
