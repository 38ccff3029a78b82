package smp

import (
	"context"
	"fmt"
	"slices"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/txbatch"
)

// Counts are the records of an SMP repository, by kind: what Copy copied, and what CountRecords finds.
type Counts struct {
	Groups        int64 `json:"groups"`
	Metadata      int64 `json:"metadata"`
	Documents     int64 `json:"documents"`
	Users         int64 `json:"users"`
	Tokens        int64 `json:"tokens"`
	Registrations int64 `json:"registrations"`
	Settings      int64 `json:"settings"`
}

// Total is the number of records.
func (c Counts) Total() int64 {
	return c.Groups + c.Metadata + c.Documents + c.Users + c.Tokens + c.Registrations + c.Settings
}

// copySettings are the instance settings a copy carries.
var copySettings = []string{settingSigning, settingLayout, settingSchedule, settingSMLSelf}

// copyPage is how many service groups one write transaction of Copy carries.
const copyPage = 500

// CountRecords counts every record of the repository.
func CountRecords(ctx context.Context, r Repository) (Counts, error) {
	var c Counts
	err := r.View(ctx, func(tx ReadTx) error {
		return eachRecord(tx, func(kind string, _ func(WriteTx) error) error {
			c.add(kind)
			return nil
		}, func() error { return nil })
	})
	return c, err
}

func (c *Counts) add(kind string) {
	switch kind {
	case "group":
		c.Groups++
	case "metadata":
		c.Metadata++
	case "document":
		c.Documents++
	case "user":
		c.Users++
	case "token":
		c.Tokens++
	case "registration":
		c.Registrations++
	case "setting":
		c.Settings++
	}
}

// Copy copies every record of from (read in one snapshot) into to, a page of service groups per write
// transaction, and calls progress with the number of records copied so far. Groups, service metadata, signed
// documents (stored as they are: the signatures stay valid), users, tokens and settings are put as they are, so
// copying again gives the same result; records that exist only in to stay, which the caller's check of the counts
// reveals. Registrations get new sequence numbers from to, in their order in from (the outbox order). Not copied:
// the versions of deleted groups, and the console's sessions (users log in again). Nothing may write to either
// repository meanwhile.
func Copy(ctx context.Context, from, to Repository, progress func(done int64)) (Counts, error) {
	var c Counts
	var regs []Registration
	b := txbatch.Batch[WriteTx]{
		Update: func(fn func(WriteTx) error) error { return to.Update(ctx, fn) },
		Done: func() {
			if progress != nil {
				progress(c.Total())
			}
		},
	}
	err := from.View(ctx, func(tx ReadTx) error {
		return eachRecord(tx, func(kind string, put func(WriteTx) error) error {
			c.add(kind)
			if kind == "registration" {
				return nil // below, renumbered
			}
			b.Add(put)
			return nil
		}, b.Flush)
	})
	if err == nil {
		err = b.Flush()
	}
	if err == nil {
		err = from.View(ctx, func(tx ReadTx) error {
			var err error
			regs, err = allRegistrations(tx)
			return err
		})
	}
	if err == nil && len(regs) > 0 {
		slices.SortFunc(regs, func(a, b Registration) int {
			switch {
			case a.Seq < b.Seq:
				return -1
			case a.Seq > b.Seq:
				return 1
			}
			return 0
		})
		err = to.Update(ctx, func(tx WriteTx) error {
			for _, r := range regs {
				seq, err := tx.NextRegistrationSeq()
				if err != nil {
					return err
				}
				r.Seq = seq
				if err := tx.PutRegistration(r); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil && progress != nil {
			progress(c.Total())
		}
	}
	if err != nil {
		return c, fmt.Errorf("copy: %w", err)
	}
	return c, nil
}

func allRegistrations(tx ReadTx) ([]Registration, error) {
	var out []Registration
	after := ""
	for {
		page, err := tx.Registrations("", after, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].Participant.String()
	}
}

// eachRecord calls fn with every record of tx, its kind and the function that puts it into another repository;
// page is called after each page of service groups.
func eachRecord(tx ReadTx, fn func(kind string, put func(WriteTx) error) error, page func() error) error {
	after := ""
	for {
		groups, err := tx.Groups(after, copyPage)
		if err != nil {
			return err
		}
		for _, gi := range groups {
			if err := eachOfGroup(tx, gi.Group.Participant, fn); err != nil {
				return err
			}
		}
		if err := page(); err != nil {
			return err
		}
		if len(groups) < copyPage {
			break
		}
		after = groups[len(groups)-1].Group.Participant.String()
	}
	users, err := tx.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := fn("user", func(w WriteTx) error { return w.PutUser(u) }); err != nil {
			return err
		}
	}
	tokens, err := tx.Tokens()
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if err := fn("token", func(w WriteTx) error { return w.PutToken(t) }); err != nil {
			return err
		}
	}
	for _, name := range copySettings {
		v, err := tx.Setting(name)
		if err != nil {
			return err
		}
		if v != nil {
			if err := fn("setting", func(w WriteTx) error { return w.PutSetting(name, v) }); err != nil {
				return err
			}
		}
	}
	regs, err := allRegistrations(tx)
	if err != nil {
		return err
	}
	for _, r := range regs {
		if err := fn("registration", func(w WriteTx) error { return w.PutRegistration(r) }); err != nil {
			return err
		}
	}
	return nil
}

// eachOfGroup calls fn for a service group, its service metadata and the documents served for them.
func eachOfGroup(tx ReadTx, p identifier.ID, fn func(kind string, put func(WriteTx) error) error) error {
	sg, version, ok, err := tx.Group(p)
	if err != nil || !ok {
		return err
	}
	if err := fn("group", func(w WriteTx) error { return w.PutGroup(sg, version) }); err != nil {
		return err
	}
	sms, err := tx.MetadataOf(p)
	if err != nil {
		return err
	}
	keys := make([]DocKey, 0, len(AllFlavours)*(1+len(sms)))
	for _, f := range AllFlavours {
		keys = append(keys, DocKey{Flavour: f, Participant: p})
	}
	for _, sm := range sms {
		if err := fn("metadata", func(w WriteTx) error { return w.PutMetadata(sm) }); err != nil {
			return err
		}
		for _, f := range AllFlavours {
			keys = append(keys, DocKey{Flavour: f, Participant: p, DocType: sm.DocumentType})
		}
	}
	for _, k := range keys {
		doc, err := tx.Document(k)
		if err != nil {
			return err
		}
		if doc != nil {
			if err := fn("document", func(w WriteTx) error { return w.PutDocument(k, doc) }); err != nil {
				return err
			}
		}
	}
	return nil
}
