// Participant use cases: create and delete in batches (all or none), and list by page.

package sml

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/signpost-project/signpost/identifier"
)

func (s *Service) removeParticipant(t Tx, d *Domain, p Participant, smp SMP, ch *change) error {
	if err := t.DeleteParticipant(p); err != nil {
		return err
	}
	if err := t.DeleteName(d.Zone, d.indexName(p.ID)); err != nil {
		return err
	}
	if err := t.DeleteMigration(p.Domain, p.ID); err != nil { // a key prepared for it must not move a successor
		return err
	}
	ch.del = d.appendParticipantRecords(ch.del, p, smp)
	ch.participants--
	return nil
}

// CreateParticipants registers 1..MaxBatch participants for the caller's SMP: all of them, or none when any is
// refused. A refused batch's *Error lists every refused participant (Error.Participants).
func (s *Service) CreateParticipants(ctx context.Context, c Caller, smpID string, ps []ParticipantSpec) error {
	if err := checkBatch(len(ps)); err != nil {
		return s.reject("create-participants", err)
	}
	return s.write(ctx, "create-participants", func(t Tx, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, smpID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		seen := make(map[identifier.ID]bool, len(ps))
		created := make([]Participant, 0, len(ps))
		ch.zone = d.Zone
		raw := make([]identifier.ID, len(ps))
		for i, spec := range ps {
			raw[i] = spec.ID
		}
		if err := prefetch(t, d, raw, c.Wildcard || d.wildcardOwner(c.Identity)); err != nil {
			return err
		}
		var refused refusals
		for _, spec := range ps {
			id, err := d.canonical(spec.ID, c.Wildcard || d.wildcardOwner(c.Identity))
			if err != nil {
				if err := refused.add(err, spec.ID); err != nil {
					return err
				}
				continue
			}
			if seen[id] {
				refused.refuse(errorf(KindBadRequest, "the participant '%s' is listed twice; list each participant once", id), spec.ID)
				continue
			}
			seen[id] = true
			svc, err := checkService(spec.Service)
			if err != nil {
				if err := refused.add(err, spec.ID); err != nil {
					return err
				}
				continue
			}
			if _, exists, err := t.Participant(d.Zone, id); err != nil {
				return err
			} else if exists {
				refused.refuse(errorf(KindAlreadyExists, "the participant '%s' already exists", id), spec.ID)
				continue
			}
			p := Participant{ID: id, SMPID: smp.ID, Service: svc, Domain: d.Zone, Created: now, Updated: now}
			if err := s.addParticipant(t, d, p, smp, ch); err != nil {
				if err := refused.add(err, spec.ID); err != nil {
					return err
				}
				continue
			}
			created = append(created, p)
		}
		if len(refused) > 0 {
			return batchError(refused)
		}
		ch.audit = func() {
			for _, p := range created {
				s.audit("create-participant", c, d, smp.ID, "participant", p.ID.String(), "service", p.Service)
			}
		}
		return nil
	})
}

// refusals collects the refused participants of a batch, so that the caller learns of every one at once.
type refusals []*Error

// add records err as the refusal of the participant p (as the caller gave it). An error that is no refusal (a
// failure of the store, KindInternal) is returned: it ends the batch at once.
func (r *refusals) add(err error, p identifier.ID) error {
	e, ok := err.(*Error)
	if !ok || e.Kind == KindInternal {
		return err
	}
	r.refuse(e, p)
	return nil
}

// refuse records e as the refusal of the participant p (as the caller gave it).
func (r *refusals) refuse(e *Error, p identifier.ID) {
	if e.Participant == (identifier.ID{}) {
		e.Participant = p
	}
	*r = append(*r, e)
}

func (s *Service) addParticipant(t Tx, d *Domain, p Participant, smp SMP, ch *change) error {
	// Callers add only participants that are not registered (or were just removed): any entry at the name is
	// another participant (a case variant of a case-sensitive scheme) or an SMP's publisher name.
	n := d.indexName(p.ID)
	if _, taken := t.Name(d.Zone, n); taken {
		return errorf(KindBadRequest, "the DNS name %s of participant '%s' is taken by another entry (a participant differing only in case?)", n, p.ID)
	}
	if err := t.PutName(d.Zone, n, nameParticipant); err != nil {
		return err
	}
	if err := t.PutParticipant(p); err != nil {
		return err
	}
	ch.add = d.appendParticipantRecords(ch.add, p, smp)
	ch.participants++
	return nil
}

// DeleteParticipants removes 1..MaxBatch participants of the caller's SMP: all of them, or none when any is
// refused. A refused batch's *Error lists every refused participant (Error.Participants).
func (s *Service) DeleteParticipants(ctx context.Context, c Caller, smpID string, ids []identifier.ID) error {
	if err := checkBatch(len(ids)); err != nil {
		return s.reject("delete-participants", err)
	}
	return s.write(ctx, "delete-participants", func(t Tx, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, smpID)
		if err != nil {
			return err
		}
		ch.zone = d.Zone
		if err := prefetch(t, d, ids, true); err != nil {
			return err
		}
		seen := make(map[identifier.ID]bool, len(ids))
		deleted := make([]identifier.ID, 0, len(ids))
		var refused refusals
		for _, raw := range ids {
			id, err := d.canonical(raw, true)
			if err != nil {
				if err := refused.add(err, raw); err != nil {
					return err
				}
				continue
			}
			if seen[id] {
				refused.refuse(errorf(KindBadRequest, "the participant '%s' is listed twice; list each participant once", id), raw)
				continue
			}
			seen[id] = true
			p, ok, err := t.Participant(d.Zone, id)
			if err != nil {
				return err
			}
			if !ok || !strings.EqualFold(p.SMPID, smp.ID) {
				refused.refuse(errorf(KindNotFound, "the participant '%s' is not registered for the SMP '%s'", id, smp.ID), raw)
				continue
			}
			if err := s.removeParticipant(t, d, p, smp, ch); err != nil {
				return err
			}
			deleted = append(deleted, p.ID)
		}
		if len(refused) > 0 {
			return batchError(refused)
		}
		ch.audit = func() {
			for _, id := range deleted {
				s.audit("delete-participant", c, d, smp.ID, "participant", id.String())
			}
		}
		return nil
	})
}

// DefaultPageSize and MaxPageSize bound ListParticipants pages.
const (
	DefaultPageSize = 100
	MaxPageSize     = 10000
)

// ListParticipants returns one page of the caller's SMP's participants, in a stable order. next is "" on the
// last page; otherwise pass it as pageToken for the next page. The token is the last key seen, so paging stays
// correct while others write (pages are not one snapshot: a participant added behind the cursor appears later).
func (s *Service) ListParticipants(ctx context.Context, c Caller, smpID, pageToken string, pageSize int) (ids []identifier.ID, next string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, "", &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	if _, err := s.callerDomain(c); err != nil {
		return nil, "", err
	}
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	after := ""
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || len(b) == 0 {
			return nil, "", errorf(KindBadRequest, "the page token '%s' is not one this SML gave; start again without a token", shorten(pageToken))
		}
		after = string(b)
	}
	err = s.repo.View(func(t Tx) error {
		ids, next = nil, ""
		if _, _, err := s.ownedSMP(t, c, smpID); err != nil {
			return err
		}
		last := ""
		err := t.EachOfSMP(smpID, after, func(p Participant, cursor string) error {
			if len(ids) == pageSize {
				next = base64.RawURLEncoding.EncodeToString([]byte(last))
				return ErrStop
			}
			ids = append(ids, p.ID)
			last = cursor
			return nil
		})
		return err
	})
	if err != nil {
		return nil, "", s.fail("list-participants", err)
	}
	return ids, next, nil
}
