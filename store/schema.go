package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout version this build reads and writes. Open upgrades an older store to it, step by
// step through [migrations], after backing the file up; it refuses a newer one.
//
// Changing the layout (a new bucket, a new key or value format) means: raise SchemaVersion, declare the change
// below, and append one step to migrations that turns a store of the previous version into the new one.
const SchemaVersion uint64 = 7

// Bucket names one top-level bucket. Every bucket is declared here, once; Open creates all of them.
type Bucket struct{ name []byte }

// Name returns the bucket's name.
func (b Bucket) Name() string { return string(b.name) }

func bucket(name string) Bucket { return Bucket{name: []byte(name)} }

// The buckets. Keys and values are owned by the package that uses the bucket, named in the comment.
var (
	// Meta holds the store's own keys (schema version, creation time).
	Meta = bucket("meta")

	// SMLDomains: zone name -> fingerprint of the domain's record settings (package sml). A zone without one gets
	// its name index rebuilt and its journal reset when the SML starts.
	SMLDomains = bucket("sml.domains")
	// SMLSMPs: SMP ID -> SMP record (package sml).
	SMLSMPs = bucket("sml.smps")
	// SMLParticipants: zone NUL scheme NUL value -> participant record (package sml).
	SMLParticipants = bucket("sml.participants")
	// SMLBySMP: SMP ID NUL zone NUL scheme NUL value -> empty; lists an SMP's participants (package sml).
	SMLBySMP = bucket("sml.bysmp")
	// SMLNames: zone NUL hash of a DNS owner name -> what lives there (package sml). The key holds the first 16
	// bytes of the SHA-256 of the owner name since schema 7 (the owner name itself before).
	SMLNames = bucket("sml.names")
	// SMLJournal: zone NUL serial -> one zone change, for IXFR (package sml).
	SMLJournal = bucket("sml.journal")
	// SMLZones: zone name -> zone state (serial) (package sml).
	SMLZones = bucket("sml.zones")
	// SMLMigrations: zone NUL scheme NUL value -> the participant's pending migration (hashed key, SMP, expiry)
	// (package sml). Since schema 3.
	SMLMigrations = bucket("sml.migrations")
	// SMLCertChanges: certificate identity -> its scheduled successor (BDMSL PrepareChangeCertificate) (package
	// sml). Since schema 4.
	SMLCertChanges = bucket("sml.certchanges")

	// SMPGroups: participant -> service group (package smp).
	SMPGroups = bucket("smp.groups")
	// SMPVersions: participant -> version of its service group, uint64 big-endian (package smp). A writer signs
	// outside the write transaction and the transaction checks that the version it read has not changed.
	// Since schema 2.
	SMPVersions = bucket("smp.versions")
	// SMPMetadata: participant NUL document type -> service metadata (package smp).
	SMPMetadata = bucket("smp.metadata")
	// SMPDocuments: flavour NUL path -> signed response bytes (package smp).
	SMPDocuments = bucket("smp.documents")
	// SMPUsers: user name -> user record (package smp).
	SMPUsers = bucket("smp.users")
	// SMPTokens: token hash -> token record (package smp).
	SMPTokens = bucket("smp.tokens")
	// SMPOutbox: the SML intents by state (package smp): "p" sequence (uint64 big-endian) -> participant for a
	// pending one, "f" participant -> empty for a failed one. Written since schema 5.
	SMPOutbox = bucket("smp.outbox")
	// SMPRegistrations: participant -> its SML registration (package smp). Since schema 5.
	SMPRegistrations = bucket("smp.registrations")
	// SMPState: key -> SMP instance state such as the signing key generation (package smp).
	SMPState = bucket("smp.state")

	// ConsoleSessions: SHA-256 of a web console session cookie (hex) -> the session (internal/console JSON),
	// kept by the SMP's (smp/boltrepo) or the SML's repository, whichever server owns the store. Since schema 6.
	ConsoleSessions = bucket("console.sessions")
	// SMLUsers: name -> the SML's console user (package sml). Since schema 6.
	SMLUsers = bucket("sml.users")
)

// Buckets lists every bucket the schema has.
var Buckets = []Bucket{
	Meta,
	SMLDomains, SMLSMPs, SMLParticipants, SMLBySMP, SMLNames, SMLJournal, SMLZones, SMLMigrations, SMLCertChanges,
	SMPGroups, SMPVersions, SMPMetadata, SMPDocuments, SMPUsers, SMPTokens, SMPOutbox, SMPRegistrations,
	SMPState, ConsoleSessions, SMLUsers,
}

var keySchemaVersion = []byte("schema-version")

// migrations lists every upgrade step, oldest first: step i turns schema i+1 into schema i+2. Open runs each in
// its own write transaction that also writes the new schema version, so a step is applied whole or not at all.
// A step must only change the store (no files, no network): an interrupted upgrade runs it again from the start.
var migrations = []migration{
	{
		from:        1,
		description: "add smp.versions; give every service group version 1",
		apply: func(tx *bolt.Tx) error {
			versions, err := tx.CreateBucketIfNotExists(SMPVersions.name)
			if err != nil {
				return err
			}
			groups := tx.Bucket(SMPGroups.name)
			if groups == nil {
				return fmt.Errorf("bucket %s is missing", SMPGroups.name)
			}
			var one [8]byte
			binary.BigEndian.PutUint64(one[:], 1)
			return groups.ForEach(func(participant, _ []byte) error {
				if versions.Get(participant) != nil {
					return nil // written by a build that already kept versions: keep it
				}
				return versions.Put(participant, one[:])
			})
		},
	},
	{
		from:        2,
		description: "add sml.migrations (pending participant migrations)",
		apply: func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(SMLMigrations.name)
			return err
		},
	},
	// Step 3 -> 4 (issue 11, BDMSL PrepareChangeCertificate): add the empty bucket sml.certchanges. Self-contained:
	// it only creates its bucket.
	{
		from:        3,
		description: "add sml.certchanges (scheduled certificate changes)",
		apply: func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(SMLCertChanges.name)
			return err
		},
	},
	// Step 4 -> 5 (issue 12, the SMP's SML outbox): add the empty bucket smp.registrations. smp.outbox existed
	// unused and empty before; an older build would ignore the intents, which is why the version rises.
	{
		from:        4,
		description: "add smp.registrations (SML registration of each participant; intents in smp.outbox)",
		apply: func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(SMPRegistrations.name)
			return err
		},
	},
	// Step 5 -> 6 (issue 16, the web consoles): add the empty buckets console.sessions and sml.users.
	// Self-contained: it only creates its buckets.
	{
		from:        5,
		description: "add console.sessions and sml.users (web console sessions, the SML's console users)",
		apply: func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(ConsoleSessions.name); err != nil {
				return err
			}
			_, err := tx.CreateBucketIfNotExists(SMLUsers.name)
			return err
		},
	},
	// Step 6 -> 7 (issue 14, a smaller store): the name index sml.names is keyed by zone and a 16-byte hash of the
	// owner name instead of the name (about 80 bytes): 50 bytes less per participant before the B+tree's overhead.
	// The step empties the index and forgets the domains' settings fingerprints (sml.domains); the SML then
	// rebuilds each configured zone's index in the new form when it starts, as it does after a change of a
	// domain's record settings (and resets the zone's journal: secondaries transfer the whole zone once).
	{
		from:        6,
		description: "key sml.names by zone and name hash (emptied; the SML rebuilds it at start)",
		apply: func(tx *bolt.Tx) error {
			for _, b := range []Bucket{SMLNames, SMLDomains} {
				if tx.Bucket(b.name) != nil {
					if err := tx.DeleteBucket(b.name); err != nil {
						return err
					}
				}
				if _, err := tx.CreateBucket(b.name); err != nil {
					return err
				}
			}
			return nil
		},
	},
}
