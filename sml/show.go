// What the operator sees of one participant: its record in every domain that has it, with the SMP it points to
// and the exact records the zone publishes for it.

package sml

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
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
	err := s.repo.View(func(t Tx) error {
		for _, z := range s.zones {
			d := s.domains[z]
			id, err := d.canonical(rawID, true)
			if err != nil {
				refused = err
				continue
			}
			p, found, err := t.Participant(d.Zone, id)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			smp, _, err := t.SMP(p.SMPID)
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
	err := s.repo.View(func(t Tx) error {
		return t.EachSMP(func(smp SMP) error {
			out[smp.ID] = t.CountOfSMP(smp.ID)
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("count-participants", err)
	}
	return out, nil
}

// CertificateStatus is an SMP's owner certificate as the expiry report shows it.
type CertificateStatus struct {
	SMP SMP
	// NotAfter is when the owner's certificate expires, as last seen (zero: not seen since the SML records it;
	// the owner's next CreateSMP or UpdateSMP records it).
	NotAfter time.Time
	// Change is the latest certificate change of the owner, when there is one (scheduled or done).
	Change *CertChange
}

// ExpiringCertificates returns the SMPs whose owner certificate expires before the given time, or whose expiry is
// not known yet, ordered by expiry (unknown last), each with the owner's latest certificate change.
func (s *Service) ExpiringCertificates(ctx context.Context, before time.Time) ([]CertificateStatus, error) {
	smps, err := s.ListSMPs(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := s.CertChanges(ctx)
	if err != nil {
		return nil, err
	}
	// The latest change of each identity, as the old certificate or as the new one (ListSMPs shows the owner in
	// effect: after a change, the new certificate).
	latest := map[string]*CertChange{}
	for i := range changes {
		c := &changes[i]
		for _, id := range []string{c.Old, c.New} {
			if l := latest[id]; l == nil || c.At.After(l.At) {
				latest[id] = c
			}
		}
	}
	now := s.now()
	var out []CertificateStatus
	for _, smp := range smps {
		notAfter, change := smp.CertNotAfter, latest[smp.Owner]
		if change != nil && !change.At.After(now) && smp.Updated.Before(change.At) {
			notAfter = time.Time{} // seen before the change took effect: that was the old certificate's
		}
		if !notAfter.IsZero() && !notAfter.Before(before) {
			continue
		}
		out = append(out, CertificateStatus{SMP: smp, NotAfter: notAfter, Change: change})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].NotAfter, out[j].NotAfter
		if a.IsZero() != b.IsZero() {
			return !a.IsZero()
		}
		return a.Before(b)
	})
	return out, nil
}
