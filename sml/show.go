// What the operator sees of one participant: its record in every domain that has it, with the SMP it points to
// and the exact records the zone publishes for it.

package sml

import (
	"context"
	"strings"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/store"
)

// ParticipantInfo is one domain's registration of a participant.
type ParticipantInfo struct {
	Participant Participant
	SMP         SMP
	// Records are the zone's records of the participant, in master-file form ("name ttl IN TYPE data").
	Records []string
}

// ShowParticipant returns the participant raw ("scheme::value") in every configured domain that has it; a
// participant no domain has is KindNotFound. Each domain reads the identifier with its own policy.
func (s *Service) ShowParticipant(ctx context.Context, raw string) ([]ParticipantInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	scheme, value, ok := strings.Cut(raw, identifier.Separator)
	if !ok {
		return nil, &Error{Kind: KindBadRequest, Msg: "give the participant as scheme::value, e.g. iso6523-actorid-upis::0088:5798000000001"}
	}
	rawID := identifier.ID{Scheme: scheme, Value: value}
	var out []ParticipantInfo
	var refused error
	err := s.repo.View(func(t txn) error {
		for _, z := range s.zones {
			d := s.domains[z]
			id, err := d.canonical(rawID, true)
			if err != nil {
				refused = err
				continue
			}
			p, found, err := t.participant(d.Zone, id)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			smp, _, err := t.smp(p.SMPID)
			if err != nil {
				return err
			}
			info := ParticipantInfo{Participant: p, SMP: smp}
			for _, r := range d.participantRecords(p, smp) {
				info.Records = append(info.Records, strings.TrimSuffix(string(AppendRecord(nil, r)), "\n"))
			}
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("show-participant", err)
	}
	if len(out) == 0 {
		if refused != nil && len(s.zones) == 1 {
			return nil, refused
		}
		return nil, &Error{Kind: KindNotFound, Participant: rawID, Msg: "no domain has the participant " + raw}
	}
	return out, nil
}

// ParticipantCounts returns how many participants each SMP has (by SMP ID), for the operator's listing.
func (s *Service) ParticipantCounts(ctx context.Context) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	out := map[string]int{}
	err := s.repo.View(func(t txn) error {
		return t.eachSMP(func(smp SMP) error {
			out[smp.ID] = t.countOfSMP(smp.ID)
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("count-participants", err)
	}
	return out, nil
}

func (t storeTx) countOfSMP(smpID string) int {
	return t.tx.Count(store.SMLBySMP, append(smpKey(smpID), 0))
}
