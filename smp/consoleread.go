package smp

import (
	"context"
	"crypto/x509"
	"sort"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// GroupMetadata returns a participant's service metadata, ordered by document type (the console's group page).
func (s *Service) GroupMetadata(ctx context.Context, p identifier.ID) ([]ServiceMetadata, error) {
	var out []ServiceMetadata
	err := s.repo.View(ctx, func(tx ReadTx) error {
		var err error
		out, err = tx.MetadataOf(p)
		return err
	})
	return out, asError("read service metadata", err)
}

// FindServiceGroups lists up to limit service groups whose canonical participant starts with prefix ("" for
// all), after the participant after, in participant order, keeping only those keep accepts (nil: all). It reads
// at most scan groups per call (an owner's page over a large SMP): next is the cursor to go on from ("" when the
// prefix's range is exhausted), whether or not the page is full.
func (s *Service) FindServiceGroups(ctx context.Context, prefix, after string, limit, scan int, keep func(GroupSummary) bool) (groups []GroupSummary, next string, err error) {
	if limit < 1 || scan < limit {
		return nil, "", Invalidf("limit", "%d of %d: list at least 1 service group per page, scanning at least as many", limit, scan)
	}
	groups = []GroupSummary{}
	cur := after
	if cur < prefix {
		cur = prefix
		// after is exclusive: the group named exactly prefix comes first, if it exists.
		if p, err := s.policy.Parse(identifier.Participant, prefix); err == nil && p.String() == prefix {
			var sg ServiceGroup
			var n int
			var ok bool
			err := s.repo.View(ctx, func(tx ReadTx) error {
				var err error
				if sg, _, ok, err = tx.Group(p); err != nil || !ok {
					return err
				}
				ms, err := tx.MetadataOf(p)
				n = len(ms)
				return err
			})
			if err != nil {
				return nil, "", asError("list service groups", err)
			}
			if ok {
				g := GroupSummary{Participant: prefix, Owner: sg.Owner, InSML: sg.InSML, ServiceMetadata: n}
				if keep == nil || keep(g) {
					groups = append(groups, g)
				}
			}
		}
	}
	const page = 500
	scanned := 0
	for scanned < scan && len(groups) < limit {
		var infos []GroupInfo
		n := min(page, scan-scanned)
		err := s.repo.View(ctx, func(tx ReadTx) error {
			var err error
			infos, err = tx.Groups(cur, n)
			return err
		})
		if err != nil {
			return nil, "", asError("list service groups", err)
		}
		for _, gi := range infos {
			scanned++
			name := gi.Group.Participant.String()
			if !strings.HasPrefix(name, prefix) {
				return groups, "", nil
			}
			cur = name
			g := GroupSummary{Participant: name, Owner: gi.Group.Owner, InSML: gi.Group.InSML, ServiceMetadata: gi.ServiceMetadata}
			if keep == nil || keep(g) {
				groups = append(groups, g)
				if len(groups) == limit {
					return groups, cur, nil
				}
			}
		}
		if len(infos) < n {
			return groups, "", nil // the end of the groups
		}
	}
	return groups, cur, nil
}

// ExpiringCertificate is an endpoint certificate that expires soon (the console's dashboard).
type ExpiringCertificate struct {
	Participant  string
	Owner        string
	DocumentType string
	Address      string
	Subject      string
	NotAfter     time.Time
}

// ExpiringEndpoints lists the endpoint certificates that expire before the time before (expired ones too), soonest
// first, at most limit, over the groups keep accepts (nil: all). It reads every service metadata, 1,000 groups
// per read transaction.
func (s *Service) ExpiringEndpoints(ctx context.Context, before time.Time, limit int, keep func(owner string) bool) ([]ExpiringCertificate, error) {
	var out []ExpiringCertificate
	after := ""
	for {
		var infos []GroupInfo
		err := s.repo.View(ctx, func(tx ReadTx) error {
			var err error
			if infos, err = tx.Groups(after, 1000); err != nil {
				return err
			}
			for _, gi := range infos {
				if keep != nil && !keep(gi.Group.Owner) || gi.ServiceMetadata == 0 {
					continue
				}
				ms, err := tx.MetadataOf(gi.Group.Participant)
				if err != nil {
					return err
				}
				for _, sm := range ms {
					for _, pr := range sm.Processes {
						for _, e := range pr.Endpoints {
							if len(e.Certificate) == 0 {
								continue
							}
							c, err := x509.ParseCertificate(e.Certificate)
							if err != nil || !c.NotAfter.Before(before) {
								continue
							}
							out = append(out, ExpiringCertificate{Participant: gi.Group.Participant.String(), Owner: gi.Group.Owner,
								DocumentType: sm.DocumentType.String(), Address: e.Address, Subject: c.Subject.String(), NotAfter: c.NotAfter})
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, asError("list expiring certificates", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(infos) < 1000 {
			break
		}
		after = infos[len(infos)-1].Group.Participant.String()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
