package sml

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/zone"
)

// The SML's persistence is this small repository: the service code uses only Repo and Tx, never a backend's
// types. sml/boltrepo implements them on the embedded bbolt store (its key layout is in docs/sml.md),
// sml/pgrepo on PostgreSQL; sml/repotest is the contract both pass.

// Repo runs transactions.
type Repo interface {
	// Update runs fn in one durable read-write transaction.
	Update(fn func(Tx) error) error
	// Batch is Update that may share its commit with concurrent callers; fn may run more than once.
	Batch(fn func(Tx) error) error
	// View runs fn in a read-only snapshot.
	View(fn func(Tx) error) error
}

// ZoneState is the per-zone state kept with every commit.
type ZoneState struct {
	Serial uint32 `json:"serial"`
	// FirstSeq and NextSeq bound the journal: entries FirstSeq..NextSeq-1 exist.
	FirstSeq uint64 `json:"first_seq"`
	NextSeq  uint64 `json:"next_seq"`
	// Participants counts the zone's participants (for metrics, without a scan).
	Participants int64 `json:"participants"`
	// Settings is the fingerprint of the domain settings the zone's records were computed with.
	Settings string `json:"settings"`
}

// Tx is one transaction of the repository. Methods that list call fn in a backend-independent order (bytewise
// by key: zone, scheme, value for participants; lower-cased ID for SMPs); fn returning ErrStop ends the listing
// early without error.
type Tx interface {
	SMP(id string) (SMP, bool, error)
	PutSMP(SMP) error
	DeleteSMP(id string) error
	EachSMP(fn func(SMP) error) error

	Participant(zone string, id identifier.ID) (Participant, bool, error)
	PutParticipant(Participant) error
	DeleteParticipant(Participant) error
	// EachParticipant calls fn for every participant of the zone, in key order.
	EachParticipant(zone string, fn func(Participant) error) error
	// EachOfSMP calls fn for the SMP's participants in key order, starting after the cursor `after` ("" = from the
	// first); fn returns ErrStop to end early. The cursor of a participant is ParticipantKey(p.Domain, p.ID).
	EachOfSMP(smpID, after string, fn func(p Participant, cursor string) error) error
	CountOfZone(zone string) int
	CountOfSMP(smpID string) int

	// name index of each zone: owner name -> what lives there ("p" for a participant, or "s" + SMP ID).
	Name(zone, owner string) (string, bool)
	PutName(zone, owner, what string) error
	// PutNames puts many names of the zone at once, in key order (a whole zone's index in one transaction).
	PutNames(zone string, owners []string, what string) error
	DeleteName(zone, owner string) error
	DeleteNames(zone string) error
	// EachName calls fn for every name of the zone's index, by its NameHash, in hash order (to copy a store).
	EachName(zone string, fn func(hash []byte, what string) error) error
	// PutNameHash puts a name of the zone's index by its NameHash (to copy a store).
	PutNameHash(zone string, hash []byte, what string) error

	Zone(name string) (ZoneState, bool, error)
	PutZone(name string, z ZoneState) error
	// EachZone calls fn for every zone that has a state, in name order.
	EachZone(fn func(name string, z ZoneState) error) error
	DomainSettings(zone string) (string, bool)
	PutDomainSettings(zone, settings string) error

	// pending migrations (migration.go), keyed by participant.
	Migration(zone string, id identifier.ID) (MigrationRecord, bool, error)
	PutMigration(zone string, id identifier.ID, m MigrationRecord) error
	DeleteMigration(zone string, id identifier.ID) error
	EachMigration(fn func(zone string, id identifier.ID, m MigrationRecord) error) error

	PutJournal(zone string, seq uint64, c zone.Change) error
	Journal(zone string, seq uint64) (zone.Change, bool, error)
	DeleteJournal(zone string, seq uint64) error
	DeleteJournals(zone string) error

	// certificate changes (certchange.go): old identity -> successor.
	CertChange(old string) (CertChange, bool, error)
	PutCertChange(CertChange) error
	EachCertChange(fn func(CertChange) error) error
}

// Prefetcher is implemented by the Tx of a repository whose reads each cost a round trip to a server (sml/pgrepo):
// a use case that reads many participants of a zone says first which ones, with their owner names, and the
// repository loads them in one round trip; the reads that follow (Participant, Name) answer from what it loaded,
// and from the transaction's own writes since. It changes no answer, only the cost of reading.
type Prefetcher interface {
	Prefetch(zone string, ids []identifier.ID, owners []string) error
}

// prefetch tells t, when it is a Prefetcher, the participants (as the caller gave them) that a use case of
// domain d is about to read.
func prefetch(t Tx, d *Domain, raw []identifier.ID, wildcard bool) error {
	p, ok := t.(Prefetcher)
	if !ok {
		return nil
	}
	ids := make([]identifier.ID, 0, len(raw))
	owners := make([]string, 0, len(raw))
	for _, r := range raw {
		id, err := d.canonical(r, wildcard)
		if err != nil {
			continue // refused in the use case itself
		}
		ids = append(ids, id)
		owners = append(owners, d.indexName(id))
	}
	return p.Prefetch(d.Zone, ids, owners)
}

// dryTxn runs a write use case on a read-only snapshot to find refusals without writing: writes are dropped.
type dryTxn struct{ Tx }

func (dryTxn) PutSMP(SMP) error                             { return nil }
func (dryTxn) DeleteSMP(string) error                       { return nil }
func (dryTxn) PutParticipant(Participant) error             { return nil }
func (dryTxn) DeleteParticipant(Participant) error          { return nil }
func (dryTxn) PutName(string, string, string) error         { return nil }
func (dryTxn) PutNames(string, []string, string) error      { return nil }
func (dryTxn) DeleteName(string, string) error              { return nil }
func (dryTxn) DeleteNames(string) error                     { return nil }
func (dryTxn) PutZone(string, ZoneState) error              { return nil }
func (dryTxn) PutDomainSettings(string, string) error       { return nil }
func (dryTxn) PutNameHash(string, []byte, string) error     { return nil }
func (dryTxn) PutJournal(string, uint64, zone.Change) error { return nil }
func (dryTxn) DeleteJournal(string, uint64) error           { return nil }
func (dryTxn) DeleteJournals(string) error                  { return nil }

// ChangeFeed tells a node of the zone changes that other nodes commit to a shared repository (sml/pgrepo, with
// PostgreSQL's LISTEN/NOTIFY). Watch calls changed(zone, serial) after each commit that moved zone to serial, and
// reconnected() each time it (re)starts watching: changes may have been missed meanwhile, so the node looks at
// every zone. Both are called from Watch's goroutine, one at a time. Watch returns when ctx ends.
type ChangeFeed interface {
	Watch(ctx context.Context, changed func(zone string, serial uint32), reconnected func())
}

// ErrStop, returned by the fn of a listing, ends it early without error.
var ErrStop = errors.New("sml: stop listing")

// ParticipantKey is the byte form of a participant of a zone: zone, NUL, scheme, NUL, value. It orders listings,
// is the cursor of EachOfSMP and is hashed into migration keys.
func ParticipantKey(zone string, id identifier.ID) []byte {
	b := make([]byte, 0, len(zone)+len(id.Scheme)+len(id.Value)+2)
	b = append(b, zone...)
	b = append(b, 0)
	b = append(b, id.Scheme...)
	b = append(b, 0)
	return append(b, id.Value...)
}

// NameHashLen is the length of a NameHash.
const NameHashLen = 16

// NameHash is the key of an owner name in a zone's name index: the first 16 bytes of the SHA-256 of the
// lower-cased name (since store schema 7; the name itself took about 80 bytes). The index only answers "is this
// name taken, and by what": a collision of 128-bit hashes among ten million names has a probability of about
// 1e-25. Every backend keys its index so, so that a store can be copied between backends as it is.
func NameHash(owner string) []byte {
	h := sha256.Sum256([]byte(strings.ToLower(owner)))
	return h[:NameHashLen]
}
