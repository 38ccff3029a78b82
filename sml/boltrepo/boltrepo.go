// Package boltrepo implements the SML's repository (sml.Repo) on the embedded bbolt store. The key layout lives
// here and nowhere else; docs/sml.md describes it.
package boltrepo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store"
)

// Repo is the SML's repository on the embedded store.
type Repo struct{ db *store.DB }

// New returns the repository on db.
func New(db *store.DB) Repo { return Repo{db} }

// DB is the store the repository is on.
func (r Repo) DB() *store.DB { return r.db }

// Update runs fn in one durable read-write transaction.
func (r Repo) Update(fn func(sml.Tx) error) error {
	return r.db.Update(func(t *store.Tx) error { return fn(tx{t}) })
}

// Batch is Update that may share its commit with concurrent callers; fn may run more than once.
func (r Repo) Batch(fn func(sml.Tx) error) error {
	return r.db.Batch(func(t *store.Tx) error { return fn(tx{t}) })
}

// View runs fn in a read-only snapshot.
func (r Repo) View(fn func(sml.Tx) error) error {
	return r.db.View(func(t *store.Tx) error { return fn(tx{t}) })
}

type tx struct{ tx *store.Tx }

// Keys. SMP IDs are case-insensitive (they become DNS labels): keys use the lower-cased ID.
func smpKey(id string) []byte { return []byte(strings.ToLower(id)) }

func participantKey(zone string, id identifier.ID) []byte { return sml.ParticipantKey(zone, id) }

func bySMPKey(smpID string, p sml.Participant) []byte {
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

func (t tx) SMP(id string) (sml.SMP, bool, error) {
	v := t.tx.Get(store.SMLSMPs, smpKey(id))
	if v == nil {
		return sml.SMP{}, false, nil
	}
	s, err := decodeSMP(v)
	return s, err == nil, err
}

func decodeSMP(v []byte) (sml.SMP, error) {
	var r smpRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return sml.SMP{}, fmt.Errorf("decode sml.SMP record: %w", err)
	}
	s := sml.SMP{ID: r.ID, LogicalAddress: r.Logical, PhysicalAddress: r.Physical, Owner: r.Owner, Domain: r.Domain,
		Created: time.Unix(0, r.Created).UTC(), Updated: time.Unix(0, r.Updated).UTC()}
	if r.CertNotAfter != 0 {
		s.CertNotAfter = time.Unix(0, r.CertNotAfter).UTC()
	}
	return s, nil
}

func (t tx) PutSMP(s sml.SMP) error {
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

func (t tx) DeleteSMP(id string) error { return t.tx.Delete(store.SMLSMPs, smpKey(id)) }

func (t tx) EachSMP(fn func(sml.SMP) error) error {
	return t.tx.Scan(store.SMLSMPs, nil, nil, func(_, v []byte) error {
		s, err := decodeSMP(v)
		if err != nil {
			return err
		}
		return stop(fn(s))
	})
}

// sml.Participant values: version 1, then uvarint-length-prefixed sml.SMP ID and service, then varint created and updated
// (unix nanoseconds). Compact, because there are millions.
func encodeParticipant(p sml.Participant) []byte {
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

func decodeParticipant(key, v []byte) (sml.Participant, error) {
	parts := bytes.SplitN(key, []byte{0}, 3)
	if len(parts) != 3 || len(v) < 1 || v[0] != 1 {
		return sml.Participant{}, errCorrupt
	}
	p := sml.Participant{Domain: string(parts[0]), ID: identifier.ID{Scheme: string(parts[1]), Value: string(parts[2])}}
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
		return sml.Participant{}, errCorrupt
	}
	p.Created, p.Updated = time.Unix(0, c).UTC(), time.Unix(0, u).UTC()
	return p, nil
}

func (t tx) Participant(zone string, id identifier.ID) (sml.Participant, bool, error) {
	k := participantKey(zone, id)
	v := t.tx.Get(store.SMLParticipants, k)
	if v == nil {
		return sml.Participant{}, false, nil
	}
	p, err := decodeParticipant(k, v)
	return p, err == nil, err
}

func (t tx) PutParticipant(p sml.Participant) error {
	if err := t.tx.Put(store.SMLParticipants, participantKey(p.Domain, p.ID), encodeParticipant(p)); err != nil {
		return err
	}
	return t.tx.Put(store.SMLBySMP, bySMPKey(p.SMPID, p), nil)
}

func (t tx) DeleteParticipant(p sml.Participant) error {
	if err := t.tx.Delete(store.SMLParticipants, participantKey(p.Domain, p.ID)); err != nil {
		return err
	}
	return t.tx.Delete(store.SMLBySMP, bySMPKey(p.SMPID, p))
}

func (t tx) EachParticipant(zone string, fn func(sml.Participant) error) error {
	prefix := append([]byte(zone), 0)
	return t.tx.Scan(store.SMLParticipants, prefix, nil, func(k, v []byte) error {
		p, err := decodeParticipant(k, v)
		if err != nil {
			return err
		}
		return stop(fn(p))
	})
}

func (t tx) EachOfSMP(smpID, after string, fn func(sml.Participant, string) error) error {
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
		return stop(fn(p, string(pk)))
	})
}

func (t tx) CountOfZone(zone string) int {
	return t.tx.Count(store.SMLParticipants, append([]byte(zone), 0))
}

// nameKey is the name index's key of an owner name of the zone: the zone, NUL, and its sml.NameHash.
func nameKey(zone, owner string) []byte { return nameHashKey(zone, sml.NameHash(owner)) }

func nameHashKey(zone string, hash []byte) []byte {
	k := make([]byte, 0, len(zone)+1+len(hash))
	k = append(k, zone...)
	k = append(k, 0)
	return append(k, hash...)
}

func (t tx) EachName(zone string, fn func(hash []byte, what string) error) error {
	prefix := append([]byte(zone), 0)
	return t.tx.Scan(store.SMLNames, prefix, nil, func(k, v []byte) error {
		return stop(fn(bytes.Clone(k[len(prefix):]), string(v)))
	})
}

func (t tx) PutNameHash(zone string, hash []byte, what string) error {
	if len(hash) != sml.NameHashLen {
		return fmt.Errorf("name hash of %d bytes, want %d", len(hash), sml.NameHashLen)
	}
	return t.tx.Put(store.SMLNames, nameHashKey(zone, hash), []byte(what))
}

func (t tx) EachZone(fn func(string, sml.ZoneState) error) error {
	return t.tx.Scan(store.SMLZones, nil, nil, func(k, v []byte) error {
		var z sml.ZoneState
		if err := json.Unmarshal(v, &z); err != nil {
			return fmt.Errorf("decode zone state of %s: %w", k, err)
		}
		return stop(fn(string(k), z))
	})
}

func (t tx) Name(zone, owner string) (string, bool) {
	v := t.tx.Get(store.SMLNames, nameKey(zone, owner))
	return string(v), v != nil
}

func (t tx) PutName(zone, owner, what string) error {
	return t.tx.Put(store.SMLNames, nameKey(zone, owner), []byte(what))
}

func (t tx) PutNames(zone string, owners []string, what string) error {
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

func (t tx) DeleteName(zone, owner string) error {
	return t.tx.Delete(store.SMLNames, nameKey(zone, owner))
}

// deleteNames removes the zone's whole name index.
func (t tx) DeleteNames(z string) error {
	_, err := t.tx.DeletePrefix(store.SMLNames, append([]byte(z), 0))
	return err
}

func (t tx) Zone(name string) (sml.ZoneState, bool, error) {
	v := t.tx.Get(store.SMLZones, []byte(name))
	if v == nil {
		return sml.ZoneState{}, false, nil
	}
	var z sml.ZoneState
	if err := json.Unmarshal(v, &z); err != nil {
		return sml.ZoneState{}, false, fmt.Errorf("decode zone state of %s: %w", name, err)
	}
	return z, true, nil
}

func (t tx) PutZone(name string, z sml.ZoneState) error {
	v, err := json.Marshal(z)
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLZones, []byte(name), v)
}

func (t tx) DomainSettings(z string) (string, bool) {
	v := t.tx.Get(store.SMLDomains, []byte(z))
	return string(v), v != nil
}

func (t tx) PutDomainSettings(z, settings string) error {
	return t.tx.Put(store.SMLDomains, []byte(z), []byte(settings))
}

func (t tx) PutJournal(z string, seq uint64, c zone.Change) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLJournal, journalKey(z, seq), v)
}

func (t tx) Journal(z string, seq uint64) (zone.Change, bool, error) {
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

func (t tx) DeleteJournal(z string, seq uint64) error {
	return t.tx.Delete(store.SMLJournal, journalKey(z, seq))
}

func (t tx) DeleteJournals(z string) error {
	_, err := t.tx.DeletePrefix(store.SMLJournal, append([]byte(z), 0))
	return err
}

// certChangeRecord is the stored form of a CertChange.
type certChangeRecord struct {
	New     string `json:"new"`
	Domain  string `json:"domain"`
	At      int64  `json:"at"` // unix nanoseconds
	Created int64  `json:"created"`
}

func (t tx) CertChange(old string) (sml.CertChange, bool, error) {
	v := t.tx.Get(store.SMLCertChanges, []byte(old))
	if v == nil {
		return sml.CertChange{}, false, nil
	}
	c, err := decodeCertChange([]byte(old), v)
	return c, err == nil, err
}

func decodeCertChange(k, v []byte) (sml.CertChange, error) {
	var r certChangeRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return sml.CertChange{}, fmt.Errorf("decode certificate change record: %w", err)
	}
	return sml.CertChange{Old: string(k), New: r.New, Domain: r.Domain, At: time.Unix(0, r.At).UTC(),
		Created: time.Unix(0, r.Created).UTC()}, nil
}

func (t tx) PutCertChange(c sml.CertChange) error {
	v, err := json.Marshal(certChangeRecord{New: c.New, Domain: c.Domain, At: c.At.UnixNano(), Created: c.Created.UnixNano()})
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLCertChanges, []byte(c.Old), v)
}

func (t tx) EachCertChange(fn func(sml.CertChange) error) error {
	return t.tx.Scan(store.SMLCertChanges, nil, nil, func(k, v []byte) error {
		c, err := decodeCertChange(k, v)
		if err != nil {
			return err
		}
		return stop(fn(c))
	})
}

func (t tx) Migration(z string, id identifier.ID) (sml.MigrationRecord, bool, error) {
	v := t.tx.Get(store.SMLMigrations, participantKey(z, id))
	if v == nil {
		return sml.MigrationRecord{}, false, nil
	}
	var m sml.MigrationRecord
	if err := json.Unmarshal(v, &m); err != nil {
		return sml.MigrationRecord{}, false, fmt.Errorf("decode migration of %s: %w", id, err)
	}
	return m, true, nil
}

func (t tx) PutMigration(z string, id identifier.ID, m sml.MigrationRecord) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return t.tx.Put(store.SMLMigrations, participantKey(z, id), v)
}

func (t tx) DeleteMigration(z string, id identifier.ID) error {
	return t.tx.Delete(store.SMLMigrations, participantKey(z, id))
}

func (t tx) EachMigration(fn func(string, identifier.ID, sml.MigrationRecord) error) error {
	return t.tx.Scan(store.SMLMigrations, nil, nil, func(k, v []byte) error {
		parts := bytes.SplitN(k, []byte{0}, 3)
		if len(parts) != 3 {
			return fmt.Errorf("malformed migration key %q", k)
		}
		var m sml.MigrationRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode migration %q: %w", k, err)
		}
		return stop(fn(string(parts[0]), identifier.ID{Scheme: string(parts[1]), Value: string(parts[2])}, m))
	})
}

func (t tx) CountOfSMP(smpID string) int {
	return t.tx.Count(store.SMLBySMP, append(smpKey(smpID), 0))
}

// stop translates the end of a listing asked for by the caller (sml.ErrStop) into the store's.
func stop(err error) error {
	if errors.Is(err, sml.ErrStop) {
		return store.ErrStop
	}
	return err
}
