// The configured domains: synchronising them into the store at start (a changed record setting rebuilds the
// zone's name index and resets its journal) and reading them.

package sml

import "fmt"

// settings is the fingerprint of what a domain's records depend on.
func (d *Domain) settings() string {
	glue := ""
	for _, r := range d.Glue {
		glue += " " + r.Name + "=" + r.Addr.String()
	}
	return fmt.Sprintf("v1 naptr=%t cname=%t hashing=%s ttl=%d glue=%s", d.NAPTR, d.CNAME, d.Hashing, d.TTL, glue)
}

func (s *Service) syncDomains() error {
	return s.repo.Update(func(t Tx) error {
		for _, z := range s.zones {
			d := s.domains[z]
			st, found, err := t.Zone(z)
			if err != nil {
				return err
			}
			old, _ := t.DomainSettings(z)
			if found && old == d.settings() {
				continue
			}
			if !found {
				st = ZoneState{FirstSeq: 1, NextSeq: 1}
				s.log.Info("sml: new zone", "zone", z)
			} else {
				s.log.Warn("sml: domain record settings changed; rebuilding the zone's name index and resetting its journal (secondaries will transfer the whole zone)",
					"zone", z, "was", old, "now", d.settings())
			}
			if err := s.rebuildNames(t, d); err != nil {
				return err
			}
			if err := t.DeleteJournals(z); err != nil {
				return err
			}
			st.FirstSeq = st.NextSeq
			st.Serial = nextSerial(st.Serial, s.now())
			st.Settings = d.settings()
			if err := t.PutZone(z, st); err != nil {
				return err
			}
			if err := t.PutDomainSettings(z, d.settings()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) rebuildNames(t Tx, d *Domain) error {
	if err := t.DeleteNames(d.Zone); err != nil {
		return err
	}
	if err := t.EachSMP(func(smp SMP) error {
		if smp.Domain != d.Zone || !d.CNAME {
			return nil
		}
		return t.PutName(d.Zone, PublisherName(smp.ID, d.Zone), "s"+smp.ID)
	}); err != nil {
		return err
	}
	var names []string
	if err := t.EachParticipant(d.Zone, func(p Participant) error {
		names = append(names, d.indexName(p.ID))
		return nil
	}); err != nil {
		return err
	}
	return t.PutNames(d.Zone, names, nameParticipant)
}

// Domains returns the configured domains, in configuration order.
func (s *Service) Domains() []Domain {
	out := make([]Domain, 0, len(s.zones))
	for _, z := range s.zones {
		out = append(out, *s.domains[z])
	}
	return out
}

// Domain returns the configured domain of zone (FQDN, any case, with or without the final dot).
func (s *Service) Domain(zoneName string) (Domain, bool) {
	d, ok := s.domains[fqdn(zoneName)]
	if !ok {
		return Domain{}, false
	}
	return *d, true
}

// Values of the name index: a participant ("p"), or "s" + the SMP ID of a publisher name.
const nameParticipant = "p"
