// BDMSL ListParticipants: every participant of the caller's SMPs, in one answer.

package sml

import (
	"context"
	"sort"

	"github.com/signpost-project/signpost/identifier"
)

// DefaultListParticipantsMax is the largest answer of ListParticipants when none is configured.
const DefaultListParticipantsMax = 100000

// EachOwnParticipant calls fn for every participant of the SMPs the caller owns (by SMP ID, then key order), all
// from one snapshot. When they are more than max (0: DefaultListParticipantsMax) it calls fn for none and
// returns a KindBadRequest error that points to the paged List. fn is called only after the count is known, so
// a caller can start its answer in fn.
func (s *Service) EachOwnParticipant(ctx context.Context, c Caller, max int, fn func(smpID string, id identifier.ID) error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	if _, err := s.callerDomain(c); err != nil {
		return err
	}
	if max <= 0 {
		max = DefaultListParticipantsMax
	}
	err := s.repo.View(func(t Tx) error {
		now := s.now()
		var ids []string
		err := t.EachSMP(func(smp SMP) error {
			owner, err := ownerAt(t, smp.Owner, now)
			if err == nil && owner == c.Identity && smp.Domain == fqdn(c.Domain) {
				ids = append(ids, smp.ID)
			}
			return err
		})
		if err != nil {
			return err
		}
		sort.Strings(ids)
		n := 0
		for _, id := range ids {
			err := t.EachOfSMP(id, "", func(Participant, string) error {
				if n++; n > max {
					return ErrStop
				}
				return nil
			})
			if err != nil && err != ErrStop {
				return err
			}
			if n > max {
				return errorf(KindBadRequest, "your SMPs have more than %d participants, the most ListParticipants answers; "+
					"list them per SMP with the paged List operation of ManageBusinessIdentifierService", max)
			}
		}
		for _, id := range ids {
			if err := t.EachOfSMP(id, "", func(p Participant, _ string) error { return fn(id, p.ID) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("list-own-participants", err)
	}
	return nil
}
