// Certificate changes (BDMSL PrepareChangeCertificate and ChangeCertificate): an SMP certificate is replaced by a
// successor, which takes over every SMP of the old one at a moment. The schedule is stored (bucket
// sml.certchanges: old identity -> successor); ownership is resolved through it at each call, so the take-over
// happens at the moment without a background job: before it only the old certificate owns the SMPs, from it
// only the successor does.

package sml

import (
	"context"
	"time"
)

// CertChange is a scheduled change of certificate: from At, the SMPs of Old belong to New.
type CertChange struct {
	Old, New string // certificate identities
	Domain   string
	At       time.Time
	Created  time.Time
}

// Successor describes the certificate that takes over: its identity, the domain its chain verifies in (at At),
// and its validity.
type Successor struct {
	Identity            string
	Domain              string
	NotBefore, NotAfter time.Time
	// Dated is true when the request gave a migrationDate; without one the change takes effect at NotBefore,
	// which must then lie in the future (DIGEST 1.7).
	Dated bool
}

// maxChain bounds the successor chain followed when resolving an owner (a renewed certificate can be renewed again).
const maxChain = 16

// ownerAt returns the certificate identity that owns the SMPs created by owner at now: owner itself, or its
// successor (and the successor's successor...) once the change has taken effect.
func ownerAt(t Tx, owner string, now time.Time) (string, error) {
	for i := 0; i < maxChain; i++ {
		ch, ok, err := t.CertChange(owner)
		if err != nil || !ok || now.Before(ch.At) {
			return owner, err
		}
		owner = ch.New
	}
	return owner, nil
}

// replacedBy returns the change that replaced identity at now, if any.
func replacedBy(t Tx, identity string, now time.Time) (CertChange, bool, error) {
	ch, ok, err := t.CertChange(identity)
	if err != nil || !ok || now.Before(ch.At) {
		return CertChange{}, false, err
	}
	return ch, true, nil
}

func replacedError(ch CertChange) error {
	return errorf(KindUnauthorized, "the certificate %s was replaced by %s at %s (PrepareChangeCertificate); call with the new certificate",
		ch.Old, ch.New, ch.At.UTC().Format(time.RFC3339))
}

// PrepareChangeCertificate schedules the take-over of every SMP of the caller's certificate by the successor at
// `at` (00:00 UTC of the migration date, or the successor's NotBefore when the request has no date). The
// successor's chain must verify in the caller's domain at `at` (possibly under another trusted issuer); `at` must
// not lie before today (UTC) and must be within the successor's validity. A new call replaces a pending schedule.
func (s *Service) PrepareChangeCertificate(ctx context.Context, c Caller, nu Successor, at time.Time) error {
	return s.write(ctx, "prepare-change-certificate", func(t Tx, ch *change) error {
		d, err := s.callerDomain(c)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if old, ok, err := replacedBy(t, c.Identity, now); err != nil || ok {
			if err != nil {
				return err
			}
			return replacedError(old)
		}
		if nu.Identity == "" || nu.Identity == c.Identity {
			return errorf(KindBadRequest, "the new certificate is the one you call with; send the successor certificate")
		}
		if fqdn(nu.Domain) != d.Zone {
			return errorf(KindBadRequest, "the new certificate %s is not issued by a trusted SMP certificate issuer of the domain %s", nu.Identity, d.Zone)
		}
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		if at.Before(today) {
			return errorf(KindBadRequest, "the migrationDate %s is in the past; give today or a later date", at.UTC().Format(time.DateOnly))
		}
		if !nu.Dated && !at.After(now) {
			return errorf(KindBadRequest, "the new certificate is valid since %s; without a migrationDate its NotBefore must lie in the future, so give a migrationDate",
				nu.NotBefore.UTC().Format(time.RFC3339))
		}
		if at.Before(nu.NotBefore) || at.After(nu.NotAfter) {
			return errorf(KindBadRequest, "the migrationDate %s is outside the validity of the new certificate (%s to %s)",
				at.UTC().Format(time.RFC3339), nu.NotBefore.UTC().Format(time.RFC3339), nu.NotAfter.UTC().Format(time.RFC3339))
		}
		if s, ok, err := replacedBy(t, nu.Identity, at); err != nil || ok {
			if err != nil {
				return err
			}
			return errorf(KindBadRequest, "the new certificate %s is itself replaced by %s; send a current certificate", nu.Identity, s.New)
		}
		next := nu.Identity // the successor's own successors must not lead back to the caller
		for i := 0; i < maxChain; i++ {
			ch, ok, err := t.CertChange(next)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if next = ch.New; next == c.Identity {
				return errorf(KindBadRequest, "the new certificate %s is scheduled to be replaced by your certificate; a change must not go in a circle", nu.Identity)
			}
		}
		rec := CertChange{Old: c.Identity, New: nu.Identity, Domain: d.Zone, At: at.UTC(), Created: now}
		if err := t.PutCertChange(rec); err != nil {
			return err
		}
		ch.audit = func() {
			s.audit("prepare-change-certificate", c, d, "", "new_certificate", nu.Identity, "at", rec.At.Format(time.RFC3339))
		}
		return nil
	})
}

// ChangeCertificate gives the SMP to the certificate nu at once (BDMSL ChangeCertificate). Only a certificate
// identity of the domain's authority (domains[].authority) may call it; nu must verify in the SMP's domain.
func (s *Service) ChangeCertificate(ctx context.Context, c Caller, smpID string, nu Successor) error {
	return s.write(ctx, "change-certificate", func(t Tx, ch *change) error {
		d, err := s.callerDomain(c)
		if err != nil {
			return err
		}
		if !d.authority(c.Identity) {
			return errorf(KindUnauthorized, "only the SML authority of domain %s may call ChangeCertificate; SMPs use PrepareChangeCertificate", d.Zone)
		}
		if err := checkSMPID(smpID); err != nil {
			return err
		}
		smp, ok, err := t.SMP(smpID)
		if err != nil {
			return err
		}
		if !ok || smp.Domain != d.Zone {
			return smpError(KindNotFound, smpID, "the SMP '%s' does not exist in domain %s", smpID, d.Zone)
		}
		if nu.Identity == "" || fqdn(nu.Domain) != d.Zone {
			return errorf(KindBadRequest, "the new certificate %s is not issued by a trusted SMP certificate issuer of the domain %s", nu.Identity, d.Zone)
		}
		old, err := ownerAt(t, smp.Owner, s.now()) // the owner in effect: a scheduled change may have taken effect
		if err != nil {
			return err
		}
		smp.Owner, smp.Updated, smp.CertNotAfter = nu.Identity, s.now().UTC(), nu.NotAfter.UTC() // the owner's expiry goes with the owner
		if err := t.PutSMP(smp); err != nil {
			return err
		}
		ch.audit = func() {
			s.audit("change-certificate", c, d, smp.ID, "old_owner", old, "new_owner", nu.Identity)
		}
		return nil
	})
}

// CertChanges returns the stored certificate changes (pending and done).
func (s *Service) CertChanges(ctx context.Context) ([]CertChange, error) {
	var out []CertChange
	err := s.repo.View(func(t Tx) error {
		return t.EachCertChange(func(c CertChange) error {
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("list-cert-changes", err)
	}
	return out, nil
}

// authority reports whether identity is one of the domain authority's certificate identities.
func (d *Domain) authority(identity string) bool {
	for _, a := range d.Authority {
		if a == identity {
			return true
		}
	}
	return false
}

func (dryTxn) PutCertChange(CertChange) error { return nil }
