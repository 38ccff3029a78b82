package sml

import (
	"context"
	"fmt"

	"github.com/signpost-project/signpost/sml/zone"
)

// What the DNS server reads (sml/dnsserver.Source).

// Apexes returns every configured zone with its current serial, in configuration order.
func (s *Service) Apexes() ([]zone.Apex, error) {
	states, err := s.zoneStates("apexes")
	if err != nil {
		return nil, err
	}
	out := make([]zone.Apex, len(states))
	for i, st := range states {
		out[i] = s.domains[s.zones[i]].apex(st.Serial)
	}
	return out, nil
}

// zoneStates reads the state of every configured zone, in configuration order, from one snapshot.
func (s *Service) zoneStates(op string) ([]ZoneState, error) {
	out := make([]ZoneState, len(s.zones))
	err := s.repo.View(func(t Tx) error {
		for i, z := range s.zones {
			st, _, err := t.Zone(z)
			if err != nil {
				return err
			}
			out[i] = st
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

func (d *Domain) apex(serial uint32) zone.Apex {
	soa := d.SOA
	soa.Serial = serial
	return zone.Apex{Zone: d.Zone, SOA: soa, NS: append([]string(nil), d.NS...), TTL: d.TTL}
}

// Records calls fn for every record of the zone except the apex SOA and NS records, from one consistent snapshot,
// and returns the serial of that snapshot. An error from fn ends the walk and is returned.
func (s *Service) Records(zoneName string, fn func(zone.Record) error) (serial uint32, err error) {
	d, ok := s.domains[fqdn(zoneName)]
	if !ok {
		return 0, errorf(KindNotFound, "%s is not a zone of this SML", zoneName)
	}
	return s.records(d, nil, fn)
}

// StreamRecords is Records with head called with the snapshot's serial before the first record (the DNS
// server's ZoneStreamer: an AXFR streams from the store without a copy of the zone).
func (s *Service) StreamRecords(zoneName string, head func(serial uint32) error, fn func(zone.Record) error) error {
	d, ok := s.domains[fqdn(zoneName)]
	if !ok {
		return errorf(KindNotFound, "%s is not a zone of this SML", zoneName)
	}
	_, err := s.records(d, head, fn)
	return err
}

// records is Records with head called with the snapshot's serial before the first record.
func (s *Service) records(d *Domain, head func(serial uint32) error, fn func(zone.Record) error) (serial uint32, err error) {
	var fnErr error
	err = s.repo.View(func(t Tx) error {
		st, _, err := t.Zone(d.Zone)
		if err != nil {
			return err
		}
		serial = st.Serial
		if head != nil {
			if err := head(serial); err != nil {
				fnErr = err
				return err
			}
		}
		for _, r := range d.Glue {
			if err := fn(r); err != nil {
				fnErr = err
				return err
			}
		}
		smps := map[string]SMP{}
		if err := t.EachSMP(func(smp SMP) error {
			if smp.Domain != d.Zone {
				return nil
			}
			smps[smp.ID] = smp
			for _, r := range d.smpRecords(smp) {
				if err := fn(r); err != nil {
					fnErr = err
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		buf := make([]zone.Record, 0, 2)
		return t.EachParticipant(d.Zone, func(p Participant) error {
			smp, ok := smps[p.SMPID]
			if !ok {
				return fmt.Errorf("participant %s refers to SMP %q, which is not in zone %s", p.ID, p.SMPID, d.Zone)
			}
			buf = d.appendParticipantRecords(buf[:0], p, smp)
			for _, r := range buf {
				if err := fn(r); err != nil {
					fnErr = err
					return err
				}
			}
			return nil
		})
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, s.fail("records", err)
	}
	return serial, nil
}

// Changes returns the committed changes of the zone after serial from, in order (each step's From is the previous
// step's To; the last step's To is the current serial). ok is false when the journal no longer reaches back to
// from (or from is not a serial this zone had): the caller then transfers the whole zone. from equal to the
// current serial gives no steps and ok true.
func (s *Service) Changes(zoneName string, from uint32) (steps []zone.Change, ok bool, err error) {
	d, found := s.domains[fqdn(zoneName)]
	if !found {
		return nil, false, errorf(KindNotFound, "%s is not a zone of this SML", zoneName)
	}
	steps, ok, _, err = s.changesFrom(d, from)
	if err != nil {
		return nil, false, s.fail("changes", err)
	}
	return steps, ok, nil
}

// changesFrom is Changes from one snapshot, with the zone's serial in that snapshot.
func (s *Service) changesFrom(d *Domain, from uint32) (steps []zone.Change, ok bool, serial uint32, err error) {
	err = s.repo.View(func(t Tx) error {
		steps, ok = nil, false
		st, _, err := t.Zone(d.Zone)
		if err != nil {
			return err
		}
		serial = st.Serial
		if from == st.Serial {
			ok = true
			return nil
		}
		if st.FirstSeq >= st.NextSeq {
			return nil
		}
		collect := func(first uint64) error {
			for seq := first; seq < st.NextSeq; seq++ {
				c, _, err := t.Journal(d.Zone, seq)
				if err != nil {
					return err
				}
				steps = append(steps, c)
			}
			ok = true
			return nil
		}
		entry := func(seq uint64) (zone.Change, error) {
			c, found, err := t.Journal(d.Zone, seq)
			if err == nil && !found {
				err = fmt.Errorf("journal entry %d of %s is missing", seq, d.Zone)
			}
			return c, err
		}
		lo, hi := st.FirstSeq, st.NextSeq-1
		// A follower (another node) or a secondary is usually a few changes behind: the last entries first, one
		// read each, then a binary search of the rest.
		for probe := 0; probe < 4 && lo < hi; probe++ {
			c, err := entry(hi)
			if err != nil {
				return err
			}
			if c.From == from {
				return collect(hi)
			}
			if serialLess(c.From, from) {
				return nil // between two steps' starts: not a serial of this zone's chain
			}
			hi--
		}
		// Binary search for the entry whose From is `from`: From grows (serial arithmetic) along the sequence.
		for lo <= hi {
			mid := lo + (hi-lo)/2
			c, err := entry(mid)
			if err != nil {
				return err
			}
			switch {
			case c.From == from:
				return collect(mid)
			case serialLess(c.From, from):
				lo = mid + 1
			default:
				if mid == 0 {
					return nil
				}
				hi = mid - 1
			}
		}
		return nil
	})
	if err != nil || !ok {
		steps = nil
	}
	return steps, ok, serial, err
}

// ParticipantsHint returns how many participants the zone holds (the DNS server's SizeHinter: its index is
// sized once); 0 when it cannot tell.
func (s *Service) ParticipantsHint(zoneName string) int {
	st, err := s.Stats()
	if err != nil {
		return 0
	}
	for _, z := range st {
		if z.Zone == fqdn(zoneName) {
			return int(z.Participants)
		}
	}
	return 0
}

// ZoneStats is a zone's current serial and participant count.
type ZoneStats struct {
	Zone         string
	Serial       uint32
	Participants int64
	// JournalEntries is how many changes the zone's journal holds.
	JournalEntries uint64
}

// Stats returns every configured zone's serial and participant count (from the zone state, without a scan).
func (s *Service) Stats() ([]ZoneStats, error) {
	states, err := s.zoneStates("stats")
	if err != nil {
		return nil, err
	}
	out := make([]ZoneStats, len(states))
	for i, st := range states {
		out[i] = ZoneStats{Zone: s.zones[i], Serial: st.Serial, Participants: st.Participants, JournalEntries: st.NextSeq - st.FirstSeq}
	}
	return out, nil
}

// RaiseSerial makes the zone's serial greater than min (RFC 1982), with an empty change (an SOA-only IXFR step),
// when it is not already. The SML calls it at start with the serials its secondaries report, so that a store
// restored from an older backup never serves a serial the secondaries consider old. It returns the serial after.
func (s *Service) RaiseSerial(ctx context.Context, zoneName string, min uint32) (uint32, error) {
	d, ok := s.domains[fqdn(zoneName)]
	if !ok {
		return 0, errorf(KindNotFound, "%s is not a zone of this SML", zoneName)
	}
	var serial uint32
	err := s.write(ctx, "raise-serial", func(t Tx, ch *change) error {
		st, _, err := t.Zone(d.Zone)
		if err != nil {
			return err
		}
		serial = st.Serial
		if serialLess(min, st.Serial) {
			return nil
		}
		ch.zone, ch.forceSerial = d.Zone, min+1
		if ch.forceSerial == 0 { // 0 means "not forced"; 1 is above 0xFFFFFFFF in serial arithmetic too
			ch.forceSerial = 1
		}
		serial = 0
		return nil
	})
	if err != nil {
		return 0, err
	}
	if serial == 0 {
		st, err := s.Stats()
		if err != nil {
			return 0, err
		}
		for _, z := range st {
			if z.Zone == d.Zone {
				serial = z.Serial
			}
		}
	}
	return serial, nil
}
