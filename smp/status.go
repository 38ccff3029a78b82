package smp

import (
	"context"
	"time"
)

// Status is what the SMP holds and how it signs, for operators (`signpost smp status`, the admin API).
type Status struct {
	PublicURL       string    `json:"public_url"`
	Flavours        []string  `json:"flavours"`
	ServiceGroups   int       `json:"service_groups"`
	ServiceMetadata int       `json:"service_metadata"`
	Generation      uint32    `json:"signing_generation"`
	Subject         string    `json:"signing_subject"`
	NotAfter        time.Time `json:"signing_not_after"`
	// Stale is true while documents signed by an older key, or rendered for another layout, may remain.
	Stale bool `json:"resign_pending"`
	// SML is the SMP's registration in its SML; nil when it registers in none.
	SML *SMLSummary `json:"sml,omitempty"`
	// KeySwitch is the scheduled signing key switch still to happen (`signpost smp rekey --at`), if any.
	KeySwitch *KeySchedule `json:"key_switch,omitempty"`
}

// SMLSummary is the SMP's own registration and its participants' by state.
type SMLSummary struct {
	Self         SMLSelf            `json:"self"`
	Participants RegistrationCounts `json:"participants"`
}

// Status reports the SMP's status.
func (s *Service) Status(ctx context.Context) (Status, error) {
	g, m, err := s.Counts(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{PublicURL: s.base, ServiceGroups: g, ServiceMetadata: m, Generation: s.Generation(), Stale: s.Stale()}
	for _, f := range s.flavours {
		st.Flavours = append(st.Flavours, f.String())
	}
	c := s.Certificate()
	st.Subject, st.NotAfter = c.Subject.String(), c.NotAfter.UTC()
	if s.smlOn {
		sum := &SMLSummary{}
		if sum.Self, err = s.SMLSelf(ctx); err != nil {
			return Status{}, err
		}
		if sum.Participants, err = s.RegistrationCounts(ctx); err != nil {
			return Status{}, err
		}
		st.SML = sum
	}
	if ks, ok, err := s.KeySchedule(ctx); err != nil {
		return Status{}, err
	} else if ok && ks.Pending() {
		st.KeySwitch = &ks
	}
	return st, nil
}
