package smp

import (
	"context"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// Repository is what the SMP keeps: service groups with their service metadata, the signed documents served for
// them, users and tokens, and a few instance settings. It speaks in domain operations only, so that a backend
// (bbolt in smp/boltrepo, PostgreSQL later) decides its own layout; nothing here assumes key order, prefix scans
// or buckets. Update commits durably or not at all; fn may run more than once only if it says so by returning an
// error wrapping ErrRetry (the repository itself never retries).
type Repository interface {
	View(ctx context.Context, fn func(ReadTx) error) error
	Update(ctx context.Context, fn func(WriteTx) error) error
}

// ReadTx reads a consistent snapshot. Values returned are the caller's.
type ReadTx interface {
	// Group returns a service group and its version (0: never written). ok is false when the group does not
	// exist; its version may still be non-zero (it existed and was deleted).
	Group(p identifier.ID) (sg ServiceGroup, version uint64, ok bool, err error)
	// Metadata returns one service metadata of a participant.
	Metadata(p, d identifier.ID) (sm ServiceMetadata, ok bool, err error)
	// MetadataOf lists a participant's service metadata, ordered by the canonical document type string.
	MetadataOf(p identifier.ID) ([]ServiceMetadata, error)
	// Groups pages through the service groups ordered by the canonical participant string: up to limit groups
	// after the participant after ("" for the first page), each with its number of service metadata.
	Groups(after string, limit int) ([]GroupInfo, error)
	// Counts returns how many service groups and service metadata there are.
	Counts() (groups, metadata int, err error)
	// Document returns the stored form of a served document (see Doc), nil when there is none.
	Document(k DocKey) ([]byte, error)
	// Setting returns an instance setting (nil: unset).
	Setting(name string) ([]byte, error)

	// User returns a user, nil when unknown.
	User(name string) (*User, error)
	// Users lists the users ordered by name.
	Users() ([]User, error)
	// Token returns the token whose SHA-256 is hash, nil when unknown.
	Token(hash []byte) (*TokenInfo, error)
	// Tokens lists the tokens ordered by ID.
	Tokens() ([]TokenInfo, error)

	// Registration returns a participant's SML registration; ok is false when it has none.
	Registration(p identifier.ID) (r Registration, ok bool, err error)
	// Registrations pages through the registrations in state ("" for all) ordered by the canonical participant
	// string: up to limit after the participant after.
	Registrations(state RegState, after string, limit int) ([]Registration, error)
	// RegistrationCounts counts the registrations by state.
	RegistrationCounts() (RegistrationCounts, error)
	// Outbox returns up to limit pending registrations due at now (Next not after it), by Seq.
	Outbox(now time.Time, limit int) ([]Registration, error)
}

// WriteTx is a write transaction.
type WriteTx interface {
	ReadTx
	// PutGroup stores a service group with its new version.
	PutGroup(sg ServiceGroup, version uint64) error
	// DeleteGroup deletes a service group record, keeping version as its last version (so that a writer that read
	// an older one notices).
	DeleteGroup(p identifier.ID, version uint64) error
	// SetVersion records a new version of a group without changing its record (its documents changed).
	SetVersion(p identifier.ID, version uint64) error
	PutMetadata(sm ServiceMetadata) error
	DeleteMetadata(p, d identifier.ID) error
	PutDocument(k DocKey, stored []byte) error
	DeleteDocument(k DocKey) error
	PutSetting(name string, value []byte) error

	PutUser(u User) error
	// DeleteUser deletes a user and every token of that user.
	DeleteUser(name string) error
	PutToken(t TokenInfo) error
	// DeleteToken deletes the tokens whose ID is id; it returns how many there were.
	DeleteToken(id string) (int, error)

	// PutRegistration stores a participant's registration (pending ones are in the outbox, by Seq).
	PutRegistration(r Registration) error
	DeleteRegistration(p identifier.ID) error
	// DeleteRegistrations deletes every registration; it returns how many there were.
	DeleteRegistrations() (int, error)
	// NextRegistrationSeq returns a Seq higher than any returned before in a committed transaction (the numbers of a
	// rolled-back one may come again or never).
	NextRegistrationSeq() (uint64, error)
}

// DocKey names one served document: a flavour's service group (DocType zero) or service metadata.
type DocKey struct {
	Flavour     Flavour
	Participant identifier.ID
	DocType     identifier.ID
}

// GroupInfo is one service group as a page of Groups lists it.
type GroupInfo struct {
	Group           ServiceGroup
	ServiceMetadata int
}

// User is a user of the management API.
type User struct {
	Name     string    `json:"name"`
	Admin    bool      `json:"admin,omitempty"`
	Password string    `json:"password,omitempty"` // PBKDF2 hash, "pbkdf2-sha256$iterations$salt$key" (base64)
	Created  time.Time `json:"created"`
}

// HasPassword reports whether the user can log in with HTTP Basic.
func (u *User) HasPassword() bool { return u.Password != "" }

// TokenInfo describes a bearer token (never the token itself).
type TokenInfo struct {
	// ID names the token for listing and revoking: the first 16 hex digits of its SHA-256.
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
	// Hash is the token's SHA-256 (hex), stored to compare in constant time.
	Hash string `json:"sha256"`
}

// Principal is who acts: an authenticated user of the management API, or the system itself (imports, seeding).
type Principal struct {
	User  string
	Admin bool
}

// System is the principal of the SMP's own work and of the operator's commands: an administrator.
var System = Principal{User: "system", Admin: true}

// may reports whether the principal may change a service group owned by owner.
func (a Principal) may(owner string) bool { return a.Admin || (a.User != "" && a.User == owner) }
