package boltrepo

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/store"
)

// The SML registrations: smp.registrations holds each participant's record; smp.outbox indexes the pending ones
// by Seq ("p" seq -> participant) and the failed ones ("f" participant), so that the worker reads the pending in
// order and counting them does not decode every record.

var (
	pendingPrefix = []byte("p")
	failedPrefix  = []byte("f")
)

func pendingKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("p"), seq) }

func failedKey(p identifier.ID) []byte { return append([]byte("f"), p.String()...) }

// parseParticipant turns a stored canonical participant back into an ID.
func parseParticipant(b []byte) identifier.ID {
	s := string(b)
	if i := bytes.Index(b, []byte(identifier.Separator)); i >= 0 {
		return identifier.ID{Scheme: s[:i], Value: s[i+len(identifier.Separator):]}
	}
	return identifier.ID{Value: s}
}

func (x tx) Registration(p identifier.ID) (smp.Registration, bool, error) {
	b := x.t.Get(store.SMPRegistrations, groupKey(p))
	if b == nil {
		return smp.Registration{}, false, nil
	}
	r, err := smp.UnmarshalRegistration(p, b)
	return r, err == nil, err
}

func (x tx) Registrations(state smp.RegState, after string, limit int) ([]smp.Registration, error) {
	var out []smp.Registration
	if state == smp.RegFailed {
		start := failedKey(parseParticipant([]byte(after)))
		err := x.t.Scan(store.SMPOutbox, failedPrefix, start, func(k, _ []byte) error {
			if after != "" && bytes.Equal(k, start) {
				return nil
			}
			if len(out) == limit {
				return store.ErrStop
			}
			p := parseParticipant(k[1:])
			r, ok, err := x.Registration(p)
			if ok {
				out = append(out, r)
			}
			return err
		})
		return out, err
	}
	var start []byte
	if after != "" {
		start = []byte(after)
	}
	err := x.t.Scan(store.SMPRegistrations, nil, start, func(k, v []byte) error {
		if start != nil && bytes.Equal(k, start) {
			return nil
		}
		if len(out) == limit {
			return store.ErrStop
		}
		r, err := smp.UnmarshalRegistration(parseParticipant(k), v)
		if err != nil {
			return err
		}
		if state == "" || r.State == state {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

func (x tx) RegistrationCounts() (smp.RegistrationCounts, error) {
	var c smp.RegistrationCounts
	c.Pending = x.t.Count(store.SMPOutbox, pendingPrefix)
	c.Failed = x.t.Count(store.SMPOutbox, failedPrefix)
	c.Registered = x.t.Count(store.SMPRegistrations, nil) - c.Pending - c.Failed
	err := x.t.Scan(store.SMPOutbox, pendingPrefix, nil, func(_, v []byte) error {
		r, ok, err := x.Registration(parseParticipant(v))
		if ok {
			c.OldestPending = r.Since
		}
		if err != nil {
			return err
		}
		return store.ErrStop
	})
	return c, err
}

func (x tx) Outbox(now time.Time, limit int) ([]smp.Registration, error) {
	var out []smp.Registration
	err := x.t.Scan(store.SMPOutbox, pendingPrefix, nil, func(_, v []byte) error {
		if len(out) == limit {
			return store.ErrStop
		}
		r, ok, err := x.Registration(parseParticipant(v))
		if err != nil {
			return err
		}
		if ok && r.State == smp.RegPending && !r.Next.After(now) {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// unindex removes a stored registration's outbox entry.
func (x tx) unindex(p identifier.ID) error {
	old, ok, err := x.Registration(p)
	if err != nil || !ok {
		return err
	}
	switch old.State {
	case smp.RegPending:
		return x.t.Delete(store.SMPOutbox, pendingKey(old.Seq))
	case smp.RegFailed:
		return x.t.Delete(store.SMPOutbox, failedKey(p))
	}
	return nil
}

func (x tx) PutRegistration(r smp.Registration) error {
	if err := x.unindex(r.Participant); err != nil {
		return err
	}
	b, err := smp.MarshalRegistration(&r)
	if err != nil {
		return err
	}
	if err := x.t.Put(store.SMPRegistrations, groupKey(r.Participant), b); err != nil {
		return err
	}
	switch r.State {
	case smp.RegPending:
		return x.t.Put(store.SMPOutbox, pendingKey(r.Seq), groupKey(r.Participant))
	case smp.RegFailed:
		return x.t.Put(store.SMPOutbox, failedKey(r.Participant), []byte{})
	}
	return nil
}

func (x tx) DeleteRegistration(p identifier.ID) error {
	if err := x.unindex(p); err != nil {
		return err
	}
	return x.t.Delete(store.SMPRegistrations, groupKey(p))
}

func (x tx) DeleteRegistrations() (int, error) {
	if _, err := x.t.DeletePrefix(store.SMPOutbox, nil); err != nil {
		return 0, err
	}
	return x.t.DeletePrefix(store.SMPRegistrations, nil)
}

func (x tx) NextRegistrationSeq() (uint64, error) { return x.t.NextSequence(store.SMPOutbox) }
