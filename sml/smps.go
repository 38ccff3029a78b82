// SMP use cases: create, read, update (a new logical address rewrites its participants' records) and delete
// (with all its participants).

package sml

import (
	"context"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/zone"
)

// CreateSMP registers a new SMP in the caller's domain, owned by the caller's certificate.
func (s *Service) CreateSMP(ctx context.Context, c Caller, smp SMP) error {
	return s.write(ctx, "create-smp", func(t Tx, ch *change) error {
		d, err := s.callerDomain(c)
		if err != nil {
			return err
		}
		if ch, replaced, err := replacedBy(t, c.Identity, s.now()); err != nil || replaced {
			if err != nil {
				return err
			}
			return replacedError(ch) // its SMPs now belong to the successor: so would a new one
		}
		if smp.Domain != "" && fqdn(smp.Domain) != d.Zone {
			return smpError(KindUnauthorized, smp.ID, "the SMP '%s' would be in domain %s but your certificate belongs to %s", smp.ID, fqdn(smp.Domain), d.Zone)
		}
		if err := checkSMPID(smp.ID); err != nil {
			return err
		}
		if err := checkAddresses(&smp); err != nil {
			return err
		}
		if err := d.checkHTTPS(smp); err != nil {
			return err
		}
		if _, exists, err := t.SMP(smp.ID); err != nil {
			return err
		} else if exists {
			return smpError(KindAlreadyExists, smp.ID, "the SMP '%s' already exists", smp.ID)
		}
		now := s.now().UTC()
		smp.Owner, smp.Domain, smp.Created, smp.Updated, smp.CertNotAfter = c.Identity, d.Zone, now, now, c.NotAfter.UTC()
		if err := s.putPublisher(t, d, smp); err != nil {
			return err
		}
		if err := t.PutSMP(smp); err != nil {
			return err
		}
		ch.zone, ch.add = d.Zone, d.smpRecords(smp)
		ch.audit = func() {
			s.audit("create-smp", c, d, smp.ID, "logical_address", smp.LogicalAddress, "physical_address", smp.PhysicalAddress)
		}
		return nil
	})
}

func (s *Service) putPublisher(t Tx, d *Domain, smp SMP) error {
	if !d.CNAME {
		return nil
	}
	name := PublisherName(smp.ID, d.Zone)
	if what, ok := t.Name(d.Zone, name); ok && what != "s"+smp.ID {
		return smpError(KindBadRequest, smp.ID, "the DNS name %s is taken; choose another SMP ID", name)
	}
	return t.PutName(d.Zone, name, "s"+smp.ID)
}

// ReadSMP returns the caller's SMP.
func (s *Service) ReadSMP(ctx context.Context, c Caller, id string) (SMP, error) {
	if err := ctx.Err(); err != nil {
		return SMP{}, &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	if _, err := s.callerDomain(c); err != nil {
		return SMP{}, err
	}
	var out SMP
	err := s.repo.View(func(t Tx) error {
		smp, _, err := s.ownedSMP(t, c, id)
		out = smp
		return err
	})
	if err != nil {
		return SMP{}, s.fail("read-smp", err)
	}
	return out, nil
}

// UpdateSMP changes the addresses of the caller's SMP. A new logical address changes the NAPTR records of all
// its participants, and the publisher record, in the same transaction.
func (s *Service) UpdateSMP(ctx context.Context, c Caller, smp SMP) error {
	return s.writeTx(ctx, "update-smp", true, func(t Tx, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		old, d, err := s.ownedSMP(t, c, smp.ID)
		if err != nil {
			return err
		}
		if err := checkAddresses(&smp); err != nil {
			return err
		}
		if err := d.checkHTTPS(smp); err != nil {
			return err
		}
		nu := old
		nu.LogicalAddress, nu.PhysicalAddress, nu.Updated = smp.LogicalAddress, smp.PhysicalAddress, s.now().UTC()
		if !c.NotAfter.IsZero() { // the caller is the owner (or its successor after a certificate change)
			nu.CertNotAfter = c.NotAfter.UTC()
		}
		if err := t.PutSMP(nu); err != nil {
			return err
		}
		ch.zone = d.Zone
		if err := d.addressChange(t, old, nu, ch); err != nil {
			return err
		}
		ch.audit = func() {
			s.audit("update-smp", c, d, nu.ID, "logical_address", nu.LogicalAddress, "physical_address", nu.PhysicalAddress,
				"records_changed", len(ch.add))
		}
		return nil
	})
}

// addressChange adds to ch the records that change when an SMP's addresses change from old to nu: its publisher
// record and, for a new logical address, the NAPTR records of all its participants.
func (d *Domain) addressChange(t Tx, old, nu SMP, ch *change) error {
	od, na := diff(d.smpRecords(old), d.smpRecords(nu))
	ch.del, ch.add = append(ch.del, od...), append(ch.add, na...)
	if old.LogicalAddress == nu.LogicalAddress || !d.NAPTR {
		return nil
	}
	return t.EachOfSMP(old.ID, "", func(p Participant, _ string) error {
		od, na := diff(d.participantRecords(p, old), d.participantRecords(p, nu))
		ch.del, ch.add = append(ch.del, od...), append(ch.add, na...)
		return nil
	})
}

// diff returns the records of a not in b and of b not in a.
func diff(a, b []zone.Record) (del, add []zone.Record) {
	eq := func(x, y zone.Record) bool {
		if x.Name != y.Name || x.Type != y.Type || x.TTL != y.TTL || x.Target != y.Target || x.Addr != y.Addr {
			return false
		}
		if (x.NAPTR == nil) != (y.NAPTR == nil) {
			return false
		}
		return x.NAPTR == nil || *x.NAPTR == *y.NAPTR
	}
	in := func(r zone.Record, set []zone.Record) bool {
		for _, o := range set {
			if eq(r, o) {
				return true
			}
		}
		return false
	}
	for _, r := range a {
		if !in(r, b) {
			del = append(del, r)
		}
	}
	for _, r := range b {
		if !in(r, a) {
			add = append(add, r)
		}
	}
	return del, add
}

// DeleteSMP removes the caller's SMP and, in the same transaction, all its participants. It returns the
// identifiers removed.
func (s *Service) DeleteSMP(ctx context.Context, c Caller, id string) (removed []identifier.ID, err error) {
	err = s.writeTx(ctx, "delete-smp", true, func(t Tx, ch *change) error {
		removed = nil
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, id)
		if err != nil {
			return err
		}
		var ps []Participant
		if err := t.EachOfSMP(smp.ID, "", func(p Participant, _ string) error {
			ps = append(ps, p)
			return nil
		}); err != nil {
			return err
		}
		ch.zone = d.Zone
		for _, p := range ps {
			if err := s.removeParticipant(t, d, p, smp, ch); err != nil {
				return err
			}
			removed = append(removed, p.ID)
		}
		if d.CNAME {
			if err := t.DeleteName(d.Zone, PublisherName(smp.ID, d.Zone)); err != nil {
				return err
			}
		}
		ch.del = append(ch.del, d.smpRecords(smp)...)
		if err := t.DeleteSMP(smp.ID); err != nil {
			return err
		}
		ch.audit = func() {
			for _, p := range ps {
				s.audit("delete-participant", c, d, smp.ID, "participant", p.ID.String(), "cause", "delete-smp")
			}
			s.audit("delete-smp", c, d, smp.ID, "participants_removed", len(ps))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}
