package smp

import "errors"

// Table names one of the SMP's key spaces in the store.
type Table int

// The tables the SMP uses.
const (
	// TableGroups: participant -> service group record (JSON).
	TableGroups Table = iota
	// TableMetadata: participant NUL document type -> service metadata record (JSON).
	TableMetadata
	// TableDocuments: flavour byte, participant NUL document type ("" for the group) -> stored response.
	TableDocuments
	// TableState: key -> instance state (signing key generation, served layout).
	TableState
	// TableUsers: user name -> user record (JSON; users.go).
	TableUsers
	// TableTokens: SHA-256 of a bearer token -> token record (JSON; users.go).
	TableTokens
)

// ErrStop ends a Tx.Scan early without an error.
var ErrStop = errors.New("smp: stop scan")

// Tx is a store transaction as the SMP needs it. Values returned by Get are the caller's; k and v in Scan are
// valid only during fn.
type Tx interface {
	Get(t Table, key []byte) []byte
	Put(t Table, key, value []byte) error
	Delete(t Table, key []byte) error
	Scan(t Table, prefix, start []byte, fn func(k, v []byte) error) error
	DeletePrefix(t Table, prefix []byte) (int, error)
}

// Repository runs transactions; Update commits durably or not at all.
type Repository interface {
	Update(fn func(Tx) error) error
	View(fn func(Tx) error) error
}
