package sml

import (
	"fmt"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/txbatch"
)

// Counts are the records of an SML repository, by kind: what Copy copied, and what CountRecords finds.
type Counts struct {
	Zones        int64 `json:"zones"`
	SMPs         int64 `json:"smps"`
	Participants int64 `json:"participants"`
	Names        int64 `json:"names"`
	Journal      int64 `json:"journal"`
	Migrations   int64 `json:"migrations"`
	CertChanges  int64 `json:"cert_changes"`
}

// Total is the number of records.
func (c Counts) Total() int64 {
	return c.Zones + c.SMPs + c.Participants + c.Names + c.Journal + c.Migrations + c.CertChanges
}

// copyChunk is how many records one write transaction of Copy carries.
const copyChunk = 5000

// CountRecords counts every record of the repository.
func CountRecords(r Repo) (Counts, error) {
	var c Counts
	err := r.View(func(t Tx) error {
		return eachRecord(t, func(kind string, _ func(Tx) error) error {
			c.add(kind)
			return nil
		})
	})
	return c, err
}

func (c *Counts) add(kind string) {
	switch kind {
	case "zone":
		c.Zones++
	case "smp":
		c.SMPs++
	case "participant":
		c.Participants++
	case "name":
		c.Names++
	case "journal":
		c.Journal++
	case "migration":
		c.Migrations++
	case "certchange":
		c.CertChanges++
	}
}

// Copy copies every record of from (read in one snapshot) into to, in write transactions of a few thousand
// records, and calls progress with the number of records copied so far. Records are put as they are (the same
// keys, serials, journal and name hashes), so copying again gives the same result; records that exist only in to
// stay, which the caller's check of the counts reveals. The zone states go last: a copy that stops half-way leaves
// no zone state behind, and a node started on it would rebuild rather than serve half a zone. Nothing may write
// to either repository meanwhile.
func Copy(from, to Repo, progress func(done int64)) (Counts, error) {
	var c Counts
	var zones []func(Tx) error
	b := txbatch.Batch[Tx]{Update: to.Update, Done: func() {
		if progress != nil {
			progress(c.Total())
		}
	}}
	err := from.View(func(t Tx) error {
		return eachRecord(t, func(kind string, put func(Tx) error) error {
			c.add(kind)
			if kind == "zone" {
				zones = append(zones, put)
				return nil
			}
			b.Add(put)
			if b.Len() >= copyChunk {
				return b.Flush()
			}
			return nil
		})
	})
	if err == nil {
		err = b.Flush()
	}
	if err == nil {
		for _, put := range zones {
			b.Add(put)
		}
		err = b.Flush()
	}
	if err != nil {
		return c, fmt.Errorf("copy: %w", err)
	}
	return c, nil
}

// eachRecord calls fn with every record of t: its kind and the function that puts it into another repository.
func eachRecord(t Tx, fn func(kind string, put func(Tx) error) error) error {
	type zoneRec struct {
		name     string
		st       ZoneState
		settings string
		hasSet   bool
	}
	var zones []zoneRec
	if err := t.EachZone(func(name string, st ZoneState) error {
		s, ok := t.DomainSettings(name)
		zones = append(zones, zoneRec{name, st, s, ok})
		return nil
	}); err != nil {
		return err
	}
	if err := t.EachSMP(func(s SMP) error {
		return fn("smp", func(to Tx) error { return to.PutSMP(s) })
	}); err != nil {
		return err
	}
	for _, z := range zones {
		if err := t.EachParticipant(z.name, func(p Participant) error {
			return fn("participant", func(to Tx) error { return to.PutParticipant(p) })
		}); err != nil {
			return err
		}
		if err := t.EachName(z.name, func(h []byte, what string) error {
			return fn("name", func(to Tx) error { return to.PutNameHash(z.name, h, what) })
		}); err != nil {
			return err
		}
		for seq := z.st.FirstSeq; seq < z.st.NextSeq; seq++ {
			ch, ok, err := t.Journal(z.name, seq)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("zone %s: journal entry %d is missing (the state says %d to %d)", z.name, seq,
					z.st.FirstSeq, z.st.NextSeq-1)
			}
			if err := fn("journal", func(to Tx) error { return to.PutJournal(z.name, seq, ch) }); err != nil {
				return err
			}
		}
	}
	if err := t.EachMigration(func(zone string, id identifier.ID, m MigrationRecord) error {
		return fn("migration", func(to Tx) error { return to.PutMigration(zone, id, m) })
	}); err != nil {
		return err
	}
	if err := t.EachCertChange(func(c CertChange) error {
		return fn("certchange", func(to Tx) error { return to.PutCertChange(c) })
	}); err != nil {
		return err
	}
	for _, z := range zones {
		if err := fn("zone", func(to Tx) error {
			if z.hasSet {
				if err := to.PutDomainSettings(z.name, z.settings); err != nil {
					return err
				}
			}
			return to.PutZone(z.name, z.st)
		}); err != nil {
			return err
		}
	}
	return nil
}
