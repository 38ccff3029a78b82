// Participant migration between SMPs (PrepareToMigrate, Migrate of the SML interface) and the https rule of a
// domain's logical addresses.
//
// The current owner of a participant prepares its migration with a key it hands to the new SMP out of band; the
// new SMP completes it with the same key, and the participant's records move to the new SMP in one transaction.
// Only a hash of the key is stored, keyed by the participant: one pending migration per participant (a new
// PrepareToMigrate replaces the previous one). A key is used once and expires after Options.MigrationKeyTTL.

package sml

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/signpost-project/signpost/identifier"
)

// checkHTTPS refuses a logical address that is not https in a domain that requires it (conf
// domains[].require_https). The address was checked by checkAddresses.
func (d *Domain) checkHTTPS(smp SMP) error {
	if !d.RequireHTTPS {
		return nil
	}
	if u, err := url.Parse(smp.LogicalAddress); err != nil || !strings.EqualFold(u.Scheme, "https") {
		return smpError(KindBadRequest, smp.ID, "the logical address '%s' is not https and the domain %s requires https; publish the SMP at an https URL",
			shorten(smp.LogicalAddress), d.Zone)
	}
	return nil
}

// Migration key rules (BDMSL since 1.01, DIGEST 1.4): 8 to 24 characters, no white space, at least two upper-case
// letters, two lower-case letters, two digits and two of the special characters below.
const (
	MigrationKeyMinLength = 8
	MigrationKeyMaxLength = 24
	MigrationKeySpecials  = "@#$%()[]{}*^_-!~|+="
)

// checkMigrationKey returns a KindBadRequest error naming the first rule key breaks.
func checkMigrationKey(key string) error {
	n := utf8.RuneCountInString(key)
	if n < MigrationKeyMinLength || n > MigrationKeyMaxLength {
		return errorf(KindBadRequest, "the migration key has %d characters; it must have %d to %d", n, MigrationKeyMinLength, MigrationKeyMaxLength)
	}
	var upper, lower, digits, specials int
	for _, r := range key {
		switch {
		case unicode.IsSpace(r):
			return errorf(KindBadRequest, "the migration key contains white space; it must not")
		case r >= 'A' && r <= 'Z':
			upper++
		case r >= 'a' && r <= 'z':
			lower++
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(MigrationKeySpecials, r):
			specials++
		}
	}
	switch {
	case upper < 2:
		return errorf(KindBadRequest, "the migration key has %d upper-case letters; it must have at least 2", upper)
	case lower < 2:
		return errorf(KindBadRequest, "the migration key has %d lower-case letters; it must have at least 2", lower)
	case digits < 2:
		return errorf(KindBadRequest, "the migration key has %d digits; it must have at least 2", digits)
	case specials < 2:
		return errorf(KindBadRequest, "the migration key has %d special characters; it must have at least 2 of %s", specials, MigrationKeySpecials)
	}
	return nil
}

// migrationHash is the stored form of a key: SHA-256 of the zone, the canonical participant and the key.
func migrationHash(zone string, id identifier.ID, key string) []byte {
	h := sha256.New()
	h.Write(ParticipantKey(zone, id))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return h.Sum(nil)
}

// MigrationRecord is a pending migration as stored.
type MigrationRecord struct {
	SMPID    string `json:"smp"`      // the SMP that prepared it (the participant's owner then)
	Hash     []byte `json:"hash"`     // migrationHash
	Prepared int64  `json:"prepared"` // unix nanoseconds
	Expires  int64  `json:"expires"`  // unix nanoseconds
}

// Migration is a pending (prepared, not completed, not expired) migration.
type Migration struct {
	Domain      string
	Participant identifier.ID
	// SMPID is the SMP that prepared the migration, the participant's owner.
	SMPID    string
	Prepared time.Time
	Expires  time.Time
}

// PrepareToMigrate records a migration key for a participant of the caller's SMP smpID. The key must meet the
// rules of checkMigrationKey; it replaces a key prepared earlier for the participant.
func (s *Service) PrepareToMigrate(ctx context.Context, c Caller, smpID string, raw identifier.ID, key string) error {
	if err := checkMigrationKey(key); err != nil {
		return s.reject("prepare-migrate", err)
	}
	return s.write(ctx, "prepare-migrate", func(t Tx, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, smpID)
		if err != nil {
			return err
		}
		id, err := d.canonical(raw, true)
		if err != nil {
			return err
		}
		p, ok, err := t.Participant(d.Zone, id)
		if err != nil {
			return err
		}
		if !ok || !strings.EqualFold(p.SMPID, smp.ID) {
			return participantError(KindNotFound, raw, "the participant '%s' is not registered for the SMP '%s'", id, smp.ID)
		}
		now := s.now().UTC()
		m := MigrationRecord{SMPID: smp.ID, Hash: migrationHash(d.Zone, id, key), Prepared: now.UnixNano(), Expires: now.Add(s.keyTTL).UnixNano()}
		if err := t.PutMigration(d.Zone, id, m); err != nil {
			return err
		}
		ch.audit = func() {
			s.audit("prepare-migrate", c, d, smp.ID, "participant", id.String(), "expires", time.Unix(0, m.Expires).UTC())
		}
		return nil
	})
}

// Migrate moves a participant to the caller's SMP smpID with the key its previous SMP prepared: the participant
// record, its index entries and its DNS records change in one transaction, and the key is used up. A wrong,
// used or expired key is KindNotFound (the same answer for each, so that keys cannot be probed).
func (s *Service) Migrate(ctx context.Context, c Caller, smpID string, raw identifier.ID, key string) error {
	return s.write(ctx, "migrate", func(t Tx, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		nu, d, err := s.ownedSMP(t, c, smpID)
		if err != nil {
			return err
		}
		id, err := d.canonical(raw, c.Wildcard || d.wildcardOwner(c.Identity)) // '*' goes only to a wildcard owner
		if err != nil {
			return err
		}
		noKey := func() error {
			return participantError(KindNotFound, raw, "no migration of the participant '%s' was prepared with this key, or it was used or has expired; ask its current SMP to call PrepareToMigrate", id)
		}
		m, ok, err := t.Migration(d.Zone, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if !ok || subtle.ConstantTimeCompare(m.Hash, migrationHash(d.Zone, id, key)) != 1 || now.UnixNano() >= m.Expires {
			return noKey()
		}
		p, ok, err := t.Participant(d.Zone, id)
		if err != nil {
			return err
		}
		if !ok || !strings.EqualFold(p.SMPID, m.SMPID) { // gone or moved since: the key is stale
			return noKey()
		}
		if strings.EqualFold(p.SMPID, nu.ID) {
			return participantError(KindBadRequest, raw, "the participant '%s' is registered for the SMP '%s' already; migrate it to another SMP", id, nu.ID)
		}
		old, ok, err := t.SMP(p.SMPID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("participant %s names the SMP %s, which does not exist", id, p.SMPID)
		}
		moved := p
		moved.SMPID, moved.Updated = nu.ID, now
		if err := t.DeleteParticipant(p); err != nil {
			return err
		}
		if err := t.PutParticipant(moved); err != nil {
			return err
		}
		if err := t.DeleteMigration(d.Zone, id); err != nil {
			return err
		}
		ch.zone = d.Zone
		ch.del, ch.add = diff(d.participantRecords(p, old), d.participantRecords(moved, nu))
		ch.audit = func() {
			s.audit("migrate", c, d, nu.ID, "participant", id.String(), "from_smp", old.ID)
		}
		return nil
	})
}

// Migrations returns the pending migrations (prepared, not used, not expired), by domain and participant.
func (s *Service) Migrations(ctx context.Context) ([]Migration, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	now := s.now().UnixNano()
	var out []Migration
	err := s.repo.View(func(t Tx) error {
		out = nil
		return t.EachMigration(func(z string, id identifier.ID, m MigrationRecord) error {
			if now < m.Expires {
				out = append(out, Migration{Domain: z, Participant: id, SMPID: m.SMPID,
					Prepared: time.Unix(0, m.Prepared).UTC(), Expires: time.Unix(0, m.Expires).UTC()})
			}
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("migrations", err)
	}
	return out, nil
}

func (dryTxn) PutMigration(string, identifier.ID, MigrationRecord) error { return nil }
func (dryTxn) DeleteMigration(string, identifier.ID) error               { return nil }
