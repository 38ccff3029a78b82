// Listings for the SML's operator (the admin API and the admin commands): unlike the SOAP use cases they are not
// limited to one caller's SMPs.

package sml

import (
	"context"
	"sort"
)

// ListSMPs returns every registered SMP of every domain, ordered by domain, then ID, each with the certificate
// that owns it now (after a PrepareChangeCertificate that took effect, the successor).
func (s *Service) ListSMPs(ctx context.Context) ([]SMP, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	var out []SMP
	err := s.repo.View(func(t Tx) error {
		now := s.now()
		return t.EachSMP(func(smp SMP) error {
			owner, err := ownerAt(t, smp.Owner, now) // the owner now: a scheduled certificate change may have taken effect
			smp.Owner = owner
			out = append(out, smp)
			return err
		})
	})
	if err != nil {
		return nil, s.fail("list-smps", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
