package sml

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store"
)

// The SML's persistence is this small repository: the service code below uses only repo and txn, never the
// store's (or bbolt's) types, so another backend (PostgreSQL) can implement the same two interfaces. storeRepo
// implements them on the embedded store; its key layout is documented in docs/sml.md.

// repo runs transactions.
type repo interface {
	// Update runs fn in one durable read-write transaction.
	Update(fn func(txn) error) error
	// Batch is Update that may share its commit with concurrent callers; fn may run more than once.
	Batch(fn func(txn) error) error
	// View runs fn in a read-only snapshot.
	View(fn func(txn) error) error
}

// zoneState is the per-zone state kept with every commit.
type zoneState struct {
	Serial uint32 `json:"serial"`
	// FirstSeq and NextSeq bound the journal: entries FirstSeq..NextSeq-1 exist.
	FirstSeq uint64 `json:"first_seq"`
	NextSeq  uint64 `json:"next_seq"`
	// Participants counts the zone's participants (for metrics, without a scan).
	Participants int64 `json:"participants"`
	// Settings is the fingerprint of the domain settings the zone's records were computed with.
	Settings string `json:"settings"`
}

// txn is one transaction of the repository.
type txn interface {
	smp(id string) (SMP, bool, error)
	putSMP(SMP) error
	deleteSMP(id string) error
	eachSMP(fn func(SMP) error) error

	participant(zone string, id identifier.ID) (Participant, bool, error)
	putParticipant(Participant) error
	deleteParticipant(Participant) error
	// eachParticipant calls fn for every participant of the zone, in key order.
	eachParticipant(zone string, fn func(Participant) error) error
	// eachOfSMP calls fn for the SMP's participants in key order, starting after the cursor `after` ("" = from the
	// first); fn returns errStop to end early. The cursor of a participant is cursorOf(p).
	eachOfSMP(smpID, after string, fn func(p Participant, cursor string) error) error
	countOfZone(zone string) int
	countOfSMP(smpID string) int

	// name index of each zone: owner name -> what lives there ("p" for a participant, or "s" + SMP ID).
	name(zone, owner string) (string, bool)
	putName(zone, owner, what string) error
	// putNames puts many names of the zone at once, in key order (a whole zone's index in one transaction).
	putNames(zone string, owners []string, what string) error
	deleteName(zone, owner string) error
	deleteNames(zone string) error

	zone(name string) (zoneState, bool, error)
	putZone(name string, z zoneState) error
	domainSettings(zone string) (string, bool)
	putDomainSettings(zone, settings string) error

	// pending migrations (migration.go), keyed by participant.
	migration(zone string, id identifier.ID) (migrationRecord, bool, error)
	putMigration(zone string, id identifier.ID, m migrationRecord) error
	deleteMigration(zone string, id identifier.ID) error
	eachMigration(fn func(zone string, id identifier.ID, m migrationRecord) error) error

	putJournal(zone string, seq uint64, c zone.Change) error
	journal(zone string, seq uint64) (zone.Change, bool, error)
	deleteJournal(zone string, seq uint64) error
	deleteJournals(zone string) error

	// certificate changes (certchange.go): old identity -> successor.
	certChange(old string) (CertChange, bool, error)
	putCertChange(CertChange) error
	eachCertChange(fn func(CertChange) error) error
}

var errStop = store.ErrStop

// storeRepo is the repository on the embedded store.
type storeRepo struct{ db *store.DB }

func (r storeRepo) Update(fn func(txn) error) error {
	return r.db.Update(func(tx *store.Tx) error { return fn(storeTx{tx}) })
}

func (r storeRepo) Batch(fn func(txn) error) error {
	return r.db.Batch(func(tx *store.Tx) error { return fn(storeTx{tx}) })
}

func (r storeRepo) View(fn func(txn) error) error {
	return r.db.View(func(tx *store.Tx) error { return fn(storeTx{tx}) })
}

type storeTx struct{ tx *store.Tx }

// Keys. SMP IDs are case-insensitive (they become DNS labels): keys use the lower-cased ID.
func smpKey(id string) []byte { return []byte(strings.ToLower(id)) }

func participantKey(zone string, id identifier.ID) []byte {
	b := make([]byte, 0, len(zone)+len(id.Scheme)+len(id.Value)+2)
	b = append(b, zone...)
	b = append(b, 0)
	b = append(b, id.Scheme...)
	b = append(b, 0)
	return append(b, id.Value...)
}

func bySMPKey(smpID string, p Participant) []byte {
	k := smpKey(smpID)
	k = append(k, 0)
	return append(k, participantKey(p.Domain, p.ID)...)
}

func journalKey(zone string, seq uint64) []byte {
	b := append([]byte(zone), 0)
	return binary.BigEndian.AppendUint64(b, seq)
}

// smpRecord is the stored form of an SMP.
type smpRecord struct {
	ID       string `json:"id"`
	Logical  string `json:"logical"`
	Physical string `json:"physical"`
	Owner    string `json:"owner"`
	Domain   string `json:"domain"`
	Created  int64  `json:"created"`
	Updated  int64  `json:"updated"`
	// CertNotAfter is the owner certificate's expiry in Unix nanoseconds (0: unknown).
	CertNotAfter int64 `json:"cert_not_after,omitempty"`
}

func (t storeTx) smp(id string) (SMP, bool, error) {
	v := t.tx.Get(store.SMLSMPs, smpKey(id))
	if v == nil {
		return SMP{}, false, nil
	}
	s, err := decodeSMP(v)
	return s, err == nil, err
}

func decodeSMP(v []byte) (SMP, error) {
	var r smpRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return SMP{}, fmt.Errorf("decode SMP record: %w", err)
	}
	s := SMP{ID: r.ID, LogicalAddress: r.Logical, PhysicalAddress: r.Physical, Owner: r.Owner, Domain: r.Domain,
		Created: time.Unix(0, r.Created).UTC(), Updated: time.Unix(0, r.Updated).UTC()}
	if r.CertNotAfter != 0 {
		s.CertNotAfter = time.Unix(0, r.CertNotAfter).UTC()
	}
	return s, nil
}

func (t storeTx) putSMP(s SMP) error {
	r := smpRecord{ID: s.ID, Logical: s.LogicalAddress, Physical: s.PhysicalAddress, Owner: s.Owner,
		Domain: s.Domain, Created: s.Created.UnixNano(), Updated: s.Updated.UnixNano()}
	if !s.CertNotAfter.IsZero() {
		r.CertNotAfter = s.CertNotAfter.UnixNano()
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLSMPs, smpKey(s.ID), v)
}

func (t storeTx) deleteSMP(id string) error { return t.tx.Delete(store.SMLSMPs, smpKey(id)) }

func (t storeTx) eachSMP(fn func(SMP) error) error {
	return t.tx.Scan(store.SMLSMPs, nil, nil, func(_, v []byte) error {
		s, err := decodeSMP(v)
		if err != nil {
			return err
		}
		return fn(s)
	})
}

// Participant values: version 1, then uvarint-length-prefixed SMP ID and service, then varint created and updated
// (unix nanoseconds). Compact, because there are millions.
func encodeParticipant(p Participant) []byte {
	b := make([]byte, 0, 1+len(p.SMPID)+len(p.Service)+2+20)
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(p.SMPID)))
	b = append(b, p.SMPID...)
	b = binary.AppendUvarint(b, uint64(len(p.Service)))
	b = append(b, p.Service...)
	b = binary.AppendVarint(b, p.Created.UnixNano())
	return binary.AppendVarint(b, p.Updated.UnixNano())
}

var errCorrupt = errors.New("malformed participant record")

func decodeParticipant(key, v []byte) (Participant, error) {
	parts := bytes.SplitN(key, []byte{0}, 3)
	if len(parts) != 3 || len(v) < 1 || v[0] != 1 {
		return Participant{}, errCorrupt
	}
	p := Participant{Domain: string(parts[0]), ID: identifier.ID{Scheme: string(parts[1]), Value: string(parts[2])}}
	v = v[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return "", false
		}
		s := string(v[k : k+int(n)])
		v = v[k+int(n):]
		return s, true
	}
	num := func() (int64, bool) {
		n, k := binary.Varint(v)
		if k <= 0 {
			return 0, false
		}
		v = v[k:]
		return n, true
	}
	var ok1, ok2, ok3, ok4 bool
	var c, u int64
	p.SMPID, ok1 = str()
	p.Service, ok2 = str()
	c, ok3 = num()
	u, ok4 = num()
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return Participant{}, errCorrupt
	}
	p.Created, p.Updated = time.Unix(0, c).UTC(), time.Unix(0, u).UTC()
	return p, nil
}

func (t storeTx) participant(zone string, id identifier.ID) (Participant, bool, error) {
	k := participantKey(zone, id)
	v := t.tx.Get(store.SMLParticipants, k)
	if v == nil {
		return Participant{}, false, nil
	}
	p, err := decodeParticipant(k, v)
	return p, err == nil, err
}

func (t storeTx) putParticipant(p Participant) error {
	if err := t.tx.Put(store.SMLParticipants, participantKey(p.Domain, p.ID), encodeParticipant(p)); err != nil {
		return err
	}
	return t.tx.Put(store.SMLBySMP, bySMPKey(p.SMPID, p), nil)
}

func (t storeTx) deleteParticipant(p Participant) error {
	if err := t.tx.Delete(store.SMLParticipants, participantKey(p.Domain, p.ID)); err != nil {
		return err
	}
	return t.tx.Delete(store.SMLBySMP, bySMPKey(p.SMPID, p))
}

func (t storeTx) eachParticipant(zone string, fn func(Participant) error) error {
	prefix := append([]byte(zone), 0)
	return t.tx.Scan(store.SMLParticipants, prefix, nil, func(k, v []byte) error {
		p, err := decodeParticipant(k, v)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

func (t storeTx) eachOfSMP(smpID, after string, fn func(Participant, string) error) error {
	prefix := append(smpKey(smpID), 0)
	var start []byte
	if after != "" {
		start = append(bytes.Clone(prefix), after...)
	}
	return t.tx.Scan(store.SMLBySMP, prefix, start, func(k, _ []byte) error {
		pk := k[len(prefix):]
		if after != "" && string(pk) == after {
			return nil
		}
		v := t.tx.Get(store.SMLParticipants, pk)
		if v == nil {
			return fmt.Errorf("index entry %q has no participant", pk)
		}
		p, err := decodeParticipant(pk, v)
		if err != nil {
			return err
		}
		return fn(p, string(pk))
	})
}

func (t storeTx) countOfZone(zone string) int {
	return t.tx.Count(store.SMLParticipants, append([]byte(zone), 0))
}

// nameKey is the name index's key of an owner name of the zone: the zone, NUL, and the first 16 bytes of the
// SHA-256 of the lower-cased owner name (since schema 7; the name itself took about 80 bytes). The index only
// answers "is this name taken, and by what": a collision of 128-bit hashes among ten million names has a
// probability of about 1e-25.
func nameKey(zone, owner string) []byte {
	h := sha256.Sum256([]byte(strings.ToLower(owner)))
	k := make([]byte, 0, len(zone)+1+nameHashLen)
	k = append(k, zone...)
	k = append(k, 0)
	return append(k, h[:nameHashLen]...)
}

const nameHashLen = 16

func (t storeTx) name(zone, owner string) (string, bool) {
	v := t.tx.Get(store.SMLNames, nameKey(zone, owner))
	return string(v), v != nil
}

func (t storeTx) putName(zone, owner, what string) error {
	return t.tx.Put(store.SMLNames, nameKey(zone, owner), []byte(what))
}

func (t storeTx) putNames(zone string, owners []string, what string) error {
	// bbolt splits pages only at commit: keys put in random order into one node cost a memmove each, which is
	// quadratic for a million names; in key order each is an append.
	keys := make([][]byte, len(owners))
	for i, o := range owners {
		keys[i] = nameKey(zone, o)
	}
	slices.SortFunc(keys, bytes.Compare)
	// In key order the pages can be written nearly full (bbolt's default splits at half a page): the rebuilt index
	// of an upgraded store takes about half the space. (Not for loads in random order: inserts into full pages
	// split them into a full and a nearly empty one.)
	t.tx.Pack(store.SMLNames, 0.9)
	for _, k := range keys {
		if err := t.tx.Put(store.SMLNames, k, []byte(what)); err != nil {
			return err
		}
	}
	return nil
}

func (t storeTx) deleteName(zone, owner string) error {
	return t.tx.Delete(store.SMLNames, nameKey(zone, owner))
}

// deleteNames removes the zone's whole name index.
func (t storeTx) deleteNames(z string) error {
	_, err := t.tx.DeletePrefix(store.SMLNames, append([]byte(z), 0))
	return err
}

func (t storeTx) zone(name string) (zoneState, bool, error) {
	v := t.tx.Get(store.SMLZones, []byte(name))
	if v == nil {
		return zoneState{}, false, nil
	}
	var z zoneState
	if err := json.Unmarshal(v, &z); err != nil {
		return zoneState{}, false, fmt.Errorf("decode zone state of %s: %w", name, err)
	}
	return z, true, nil
}

func (t storeTx) putZone(name string, z zoneState) error {
	v, err := json.Marshal(z)
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLZones, []byte(name), v)
}

func (t storeTx) domainSettings(z string) (string, bool) {
	v := t.tx.Get(store.SMLDomains, []byte(z))
	return string(v), v != nil
}

func (t storeTx) putDomainSettings(z, settings string) error {
	return t.tx.Put(store.SMLDomains, []byte(z), []byte(settings))
}

func (t storeTx) putJournal(z string, seq uint64, c zone.Change) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLJournal, journalKey(z, seq), v)
}

func (t storeTx) journal(z string, seq uint64) (zone.Change, bool, error) {
	v := t.tx.Get(store.SMLJournal, journalKey(z, seq))
	if v == nil {
		return zone.Change{}, false, nil
	}
	var c zone.Change
	if err := json.Unmarshal(v, &c); err != nil {
		return zone.Change{}, false, fmt.Errorf("decode journal entry %d of %s: %w", seq, z, err)
	}
	return c, true, nil
}

func (t storeTx) deleteJournal(z string, seq uint64) error {
	return t.tx.Delete(store.SMLJournal, journalKey(z, seq))
}

func (t storeTx) deleteJournals(z string) error {
	_, err := t.tx.DeletePrefix(store.SMLJournal, append([]byte(z), 0))
	return err
}

// dryTxn runs a write use case on a read-only snapshot to find refusals without writing: writes are dropped.
type dryTxn struct{ txn }

func (dryTxn) putSMP(SMP) error                             { return nil }
func (dryTxn) deleteSMP(string) error                       { return nil }
func (dryTxn) putParticipant(Participant) error             { return nil }
func (dryTxn) deleteParticipant(Participant) error          { return nil }
func (dryTxn) putName(string, string, string) error         { return nil }
func (dryTxn) putNames(string, []string, string) error      { return nil }
func (dryTxn) deleteName(string, string) error              { return nil }
func (dryTxn) deleteNames(string) error                     { return nil }
func (dryTxn) putZone(string, zoneState) error              { return nil }
func (dryTxn) putDomainSettings(string, string) error       { return nil }
func (dryTxn) putJournal(string, uint64, zone.Change) error { return nil }
func (dryTxn) deleteJournal(string, uint64) error           { return nil }
func (dryTxn) deleteJournals(string) error                  { return nil }
