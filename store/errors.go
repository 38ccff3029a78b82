package store

import "errors"

// Sentinel errors of the store. Repositories built on the store translate them into their own domain errors.
var (
	// ErrNotFound reports a key or record that does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrLocked reports that another process holds the store file.
	ErrLocked = errors.New("store: file is in use by another process")
	// ErrSchemaVersion reports a store written by a different, incompatible version of Signpost.
	ErrSchemaVersion = errors.New("store: incompatible schema version")
	// ErrUpgrade reports that Open could not back up or upgrade a store of an older schema version. The store is
	// left at the version of the last step that completed; the next Open tries again.
	ErrUpgrade = errors.New("store: schema upgrade failed")
	// ErrStop ends a [Tx.Scan] early without an error.
	ErrStop = errors.New("store: stop scan")
	// ErrReadOnly reports a write attempted in a read-only transaction or store.
	ErrReadOnly = errors.New("store: read-only")
)
