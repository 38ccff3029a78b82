package smp

import (
	"context"
	"encoding/json"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// How a participant reaches the SML: a write that makes a service group meant to be in the SML (a new group, or
// InSML turned on) or no longer (a deleted group, or InSML turned off) records an intent, a Registration that is
// pending, in the same transaction as the data. A worker (package smp/registrar) delivers intents in order and
// records the outcome here. One record per participant says where it stands; the latest intent replaces an
// undelivered earlier one (create then delete before delivery: the delete is what the SML must hear).

// RegOp is what the SML must be told about a participant.
type RegOp string

// The operations.
const (
	RegCreate RegOp = "create"
	RegDelete RegOp = "delete"
)

// RegState is where a participant's registration stands.
type RegState string

// The states. A participant without a record is not registered (nor meant to be).
const (
	// RegPending: the intent waits for delivery (Next says when it is tried next; LastError why the last try failed).
	RegPending RegState = "pending"
	// RegRegistered: the SML has the participant for this SMP.
	RegRegistered RegState = "registered"
	// RegFailed: the SML refused the intent for good (LastError); it waits until someone retries it.
	RegFailed RegState = "failed"
)

// Registration is a participant's state in the SML as this SMP knows it.
type Registration struct {
	Participant identifier.ID `json:"-"`
	State       RegState      `json:"state"`
	// Op is the intent's operation (pending and failed); for registered, RegCreate.
	Op RegOp `json:"op"`
	// Seq orders intents: a later intent has a higher Seq. The worker completes an intent only when the record
	// still has the Seq it delivered.
	Seq       uint64    `json:"seq"`
	Attempts  int       `json:"attempts,omitempty"`
	Next      time.Time `json:"next,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Since is when the intent was recorded (pending, failed) or delivered (registered).
	Since time.Time `json:"since"`
}

// MarshalRegistration encodes a registration for a repository.
func MarshalRegistration(r *Registration) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, Internal("encode registration", err)
	}
	return b, nil
}

// UnmarshalRegistration decodes what MarshalRegistration encoded; the participant comes from the key.
func UnmarshalRegistration(p identifier.ID, b []byte) (Registration, error) {
	var r Registration
	if err := json.Unmarshal(b, &r); err != nil {
		return r, Internal("decode registration of "+p.String(), err)
	}
	r.Participant = p
	return r, nil
}

// RegistrationCounts counts the registrations by state, with the pending intents' oldest.
type RegistrationCounts struct {
	Registered int `json:"registered"`
	Pending    int `json:"pending"`
	Failed     int `json:"failed"`
	// OldestPending is when the oldest pending intent was recorded (zero: none).
	OldestPending time.Time `json:"oldest_pending,omitzero"`
}

// registrationIntent records, in the commit of c, what the SML must hear after it: called for a change that
// stores or deletes a group, when the SMP registers in an SML.
func (s *Service) registrationIntent(tx WriteTx, c *change, now time.Time) error {
	want := !c.delGroup && c.sg.InSML
	r, ok, err := tx.Registration(c.p)
	if err != nil {
		return err
	}
	var op RegOp
	switch {
	case want && (!ok || r.Op == RegDelete):
		op = RegCreate
	case !want && ok && r.State == RegFailed && r.Op == RegCreate:
		// Refused for good and never registered: nothing to undo.
		return tx.DeleteRegistration(c.p)
	case !want && ok && r.Op == RegCreate:
		op = RegDelete
	default:
		return nil
	}
	seq, err := tx.NextRegistrationSeq()
	if err != nil {
		return err
	}
	return tx.PutRegistration(Registration{Participant: c.p, State: RegPending, Op: op, Seq: seq, Next: now, Since: now})
}

// maxRegistrationPage bounds a page of Registrations.
const maxRegistrationPage = 1000

// SMLEnabled reports whether the SMP records SML intents.
func (s *Service) SMLEnabled() bool { return s.smlOn }

// Intents signals (without blocking, coalesced) each commit that recorded an SML intent: the worker's wake-up.
func (s *Service) Intents() <-chan struct{} { return s.intents }

func (s *Service) kickIntents() {
	select {
	case s.intents <- struct{}{}:
	default:
	}
}

// Registration returns a participant's registration; ok is false when it has none.
func (s *Service) Registration(ctx context.Context, p identifier.ID) (r Registration, ok bool, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		r, ok, err = tx.Registration(p)
		return err
	})
	return r, ok, asError("read registration", err)
}

// Registrations pages through the registrations in participant order, after the participant after; state ""
// lists every state. next is "" on the last page.
func (s *Service) Registrations(ctx context.Context, state RegState, after string, limit int) (out []Registration, next string, err error) {
	if limit <= 0 || limit > maxRegistrationPage {
		limit = maxRegistrationPage
	}
	err = s.repo.View(ctx, func(tx ReadTx) error {
		out, err = tx.Registrations(state, after, limit+1)
		return err
	})
	if err != nil {
		return nil, "", asError("list registrations", err)
	}
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Participant.String()
	}
	return out, next, nil
}

// RegistrationCounts counts the registrations by state.
func (s *Service) RegistrationCounts(ctx context.Context) (c RegistrationCounts, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		c, err = tx.RegistrationCounts()
		return err
	})
	return c, asError("count registrations", err)
}

// DueIntents returns up to limit pending intents due at now, oldest first.
func (s *Service) DueIntents(ctx context.Context, now time.Time, limit int) (out []Registration, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		out, err = tx.Outbox(now, limit)
		return err
	})
	return out, asError("read outbox", err)
}

// Outcome is what delivering one intent came to.
type Outcome struct {
	Participant identifier.ID
	Seq         uint64 // the delivered intent's
	// State: RegRegistered (a create delivered), "" (a delete delivered: the record goes), RegPending (try again
	// at Next) or RegFailed.
	State RegState
	Next  time.Time
	Err   string
}

// CompleteIntents records the outcomes of a delivery in one transaction. An outcome whose intent was replaced
// meanwhile (another Seq) is dropped: the newer intent is delivered next.
func (s *Service) CompleteIntents(ctx context.Context, outs []Outcome) error {
	if len(outs) == 0 {
		return nil
	}
	now := s.now().UTC()
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		for _, o := range outs {
			r, ok, err := tx.Registration(o.Participant)
			if err != nil {
				return err
			}
			if !ok || r.Seq != o.Seq || r.State != RegPending {
				continue
			}
			switch o.State {
			case "":
				err = tx.DeleteRegistration(o.Participant)
			case RegRegistered:
				r.State, r.Attempts, r.Next, r.LastError, r.Since = RegRegistered, 0, time.Time{}, "", now
				err = tx.PutRegistration(r)
			case RegPending:
				r.Attempts++
				r.Next, r.LastError = o.Next, o.Err
				err = tx.PutRegistration(r)
			case RegFailed:
				r.State, r.Next, r.LastError = RegFailed, time.Time{}, o.Err
				r.Attempts++
				err = tx.PutRegistration(r)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return asError("record SML outcomes", err)
}

// RetryRegistrations makes failed intents pending again, due now: participant p's (it must be failed), or every
// failed one when p is zero. It returns how many.
func (s *Service) RetryRegistrations(ctx context.Context, p identifier.ID) (int, error) {
	n := 0
	now := s.now().UTC()
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		var failed []Registration
		if p.IsZero() {
			after := ""
			for {
				page, err := tx.Registrations(RegFailed, after, 1000)
				if err != nil {
					return err
				}
				failed = append(failed, page...)
				if len(page) < 1000 {
					break
				}
				after = page[len(page)-1].Participant.String()
			}
		} else {
			r, ok, err := tx.Registration(p)
			if err != nil {
				return err
			}
			if !ok {
				return NotFound("SML registration of " + p.String())
			}
			if r.State != RegFailed {
				return Invalid("participant", "the SML registration of "+p.String()+" is "+string(r.State)+", not failed: only a failed one is retried")
			}
			failed = []Registration{r}
		}
		for _, r := range failed {
			seq, err := tx.NextRegistrationSeq()
			if err != nil {
				return err
			}
			r.State, r.Seq, r.Attempts, r.Next = RegPending, seq, 0, now
			if err := tx.PutRegistration(r); err != nil {
				return err
			}
		}
		n = len(failed)
		return nil
	})
	if err != nil {
		return 0, asError("retry registrations", err)
	}
	if n > 0 {
		s.kickIntents()
	}
	return n, nil
}

// Reconcile records a create intent for every service group meant to be in the SML that has no registration (a
// store written while no SML was configured, or restored from elsewhere), and forgets registrations whose
// group is gone and never reached the SML. It returns how many intents it recorded.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	if !s.smlOn {
		return 0, nil
	}
	total := 0
	after := ""
	for {
		var page []GroupInfo
		if err := s.repo.View(ctx, func(tx ReadTx) error {
			var err error
			page, err = tx.Groups(after, 1000)
			return err
		}); err != nil {
			return total, asError("list groups", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Group.Participant.String()
		now := s.now().UTC()
		n := 0
		err := s.repo.Update(ctx, func(tx WriteTx) error {
			n = 0
			for _, g := range page {
				if !g.Group.InSML {
					continue
				}
				if _, ok, err := tx.Registration(g.Group.Participant); err != nil || ok {
					if err != nil {
						return err
					}
					continue
				}
				seq, err := tx.NextRegistrationSeq()
				if err != nil {
					return err
				}
				if err := tx.PutRegistration(Registration{Participant: g.Group.Participant, State: RegPending, Op: RegCreate, Seq: seq, Next: now, Since: now}); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, asError("reconcile registrations", err)
		}
		total += n
	}
	if total > 0 {
		s.kickIntents()
	}
	return total, nil
}

// SetRegistered records that the SML has p for this SMP (a completed inbound migration), replacing any intent.
func (s *Service) SetRegistered(ctx context.Context, p identifier.ID) error {
	now := s.now().UTC()
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		seq, err := tx.NextRegistrationSeq()
		if err != nil {
			return err
		}
		return tx.PutRegistration(Registration{Participant: p, State: RegRegistered, Op: RegCreate, Seq: seq, Since: now})
	})
	return asError("record registration", err)
}

// ForgetRegistrations removes every registration record (the SMP was deleted from the SML, and the SML with it
// deleted its participants); Reconcile records them again when the SMP registers anew.
func (s *Service) ForgetRegistrations(ctx context.Context) (int, error) {
	n := 0
	err := s.repo.Update(ctx, func(tx WriteTx) error {
		var err error
		n, err = tx.DeleteRegistrations()
		return err
	})
	return n, asError("forget registrations", err)
}

// SMLSelf is this SMP's own registration in the SML, as the registrar last saw it.
type SMLSelf struct {
	// Unregistered is true after the operator deleted the SMP from the SML (`signpost smp sml unregister`): the
	// registrar neither registers it again at start nor delivers intents until `smp sml register`.
	Unregistered bool `json:"unregistered,omitempty"`
	// Registered is true once the SML has accepted the SMP with its current addresses.
	Registered bool `json:"registered"`
	// LastError is why the last attempt failed ("" after a success).
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
}

const settingSMLSelf = "sml.self"

// SMLSelf returns this SMP's own registration state.
func (s *Service) SMLSelf(ctx context.Context) (st SMLSelf, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		b, err := tx.Setting(settingSMLSelf)
		if err != nil || b == nil {
			return err
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return Internal("decode SML state", err)
		}
		return nil
	})
	return st, asError("read SML state", err)
}

// SetSMLSelf records this SMP's own registration state.
func (s *Service) SetSMLSelf(ctx context.Context, st SMLSelf) error {
	st.Updated = s.now().UTC()
	return asError("record SML state", s.repo.Update(ctx, func(tx WriteTx) error { return putSetting(tx, settingSMLSelf, st) }))
}
