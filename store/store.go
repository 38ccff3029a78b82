package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options tune Open. The zero value is usable.
type Options struct {
	// LockTimeout is how long Open waits for the file lock held by another process. Default 2s.
	LockTimeout time.Duration
	// ReadOnly opens the file with a shared lock; write transactions fail.
	ReadOnly bool
	// Logger receives the store's few log lines. Default: discard.
	Logger *slog.Logger
}

// DefaultLockTimeout is the lock wait used when Options.LockTimeout is zero.
const DefaultLockTimeout = 2 * time.Second

// DB is an open store.
type DB struct {
	bolt  *bolt.DB
	path  string
	log   *slog.Logger
	group group // Batch's group commit (group.go)
}

// Open opens or creates the store file at path. It creates the parent directory, waits at most
// LockTimeout for the file lock, creates missing buckets and checks the schema version.
//
// A store of an older schema version is first copied to <path>.schema-<N>.<UTC time>.bak beside it (atomically,
// fsynced, logged with its path) and then upgraded in place, one transaction per step (see [Migrations]); an
// interrupted upgrade resumes at the next Open. Errors wrap [ErrUpgrade]. A read-only Open of an older store,
// and any Open of a newer one, fail with [ErrSchemaVersion] and a message that says what to do.
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (lock not released within %s; stop the other signpost process or choose another store path)",
				ErrLocked, path, opts.LockTimeout)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, log: opts.Logger}
	if err := db.prepare(opts.ReadOnly); err != nil {
		_ = b.Close()
		return nil, err
	}
	return db, nil
}

// prepare creates the buckets of a new store, upgrades an older one and checks the schema version.
func (db *DB) prepare(readOnly bool) error {
	var (
		version uint64
		found   bool
	)
	if err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		version, found, err = readVersion(tx, db.path)
		return err
	}); err != nil {
		return err
	}
	switch {
	case found && version > SchemaVersion:
		return fmt.Errorf("%w: store %s has schema version %d; this signpost build reads up to %d: upgrade signpost or restore a backup",
			ErrSchemaVersion, db.path, version, SchemaVersion)
	case found && version < SchemaVersion && readOnly:
		return fmt.Errorf("%w: store %s has schema version %d and this signpost build reads version %d; it was opened read-only, so it cannot be upgraded: open it read-write once with this build (any serve command does; the store is backed up beside itself first), or upgrade a copy that way",
			ErrSchemaVersion, db.path, version, SchemaVersion)
	case found && version < SchemaVersion:
		if err := db.upgrade(version); err != nil {
			return err
		}
	case readOnly && !found:
		return fmt.Errorf("store: %s is not a signpost store (no schema version)", db.path)
	}
	if readOnly {
		return nil
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		version, found, err := readVersion(tx, db.path)
		if err != nil {
			return err
		}
		if found && version != SchemaVersion {
			return fmt.Errorf("%w: store %s has schema version %d after its upgrade, want %d", ErrSchemaVersion, db.path, version, SchemaVersion)
		}
		if !found {
			// A new file, or one that holds something else: refuse anything that has foreign buckets.
			var foreign []string
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				foreign = append(foreign, string(name))
				return nil
			})
			if len(foreign) > 0 && !onlyKnown(foreign) {
				return fmt.Errorf("store: %s is not a signpost store (it has buckets %q)", db.path, foreign)
			}
		}
		for _, b := range Buckets {
			if _, err := tx.CreateBucketIfNotExists(b.name); err != nil {
				return fmt.Errorf("store: create bucket %s: %w", b.name, err)
			}
		}
		if !found {
			if err := writeVersion(tx, SchemaVersion); err != nil {
				return err
			}
			db.log.Info("store created", "path", db.path, "schema", SchemaVersion)
		}
		return nil
	})
}

func onlyKnown(names []string) bool {
	for _, n := range names {
		known := false
		for _, b := range Buckets {
			if n == string(b.name) {
				known = true
				break
			}
		}
		if !known {
			return false
		}
	}
	return true
}

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.path }

// Close closes the store, waiting for open transactions.
func (db *DB) Close() error { return db.bolt.Close() }

// Update runs fn in a read-write transaction. It commits, durably on disk, when fn returns nil and rolls back
// when fn returns an error or panics. Only one Update runs at a time.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.bolt.Update(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx}) })
}

// View runs fn in a read-only transaction that sees one consistent snapshot.
func (db *DB) View(fn func(*Tx) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx}) })
}

// Backup writes a consistent copy of the whole store, taken while writers go on, to w.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a consistent copy of the store to path, atomically: the file appears complete or not at all.
func (db *DB) BackupFile(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".backup-*")
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := db.Backup(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// Make the rename itself durable: without this a crash can leave the directory without the new name.
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Check verifies the integrity of the whole file (page structure, free list, bucket layout) and that every
// declared bucket exists. It returns all problems found, joined.
func (db *DB) Check() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		for _, b := range Buckets {
			if tx.Bucket(b.name) == nil {
				errs = append(errs, fmt.Errorf("bucket %s is missing", b.name))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("store: integrity check of %s failed: %w", db.path, errors.Join(errs...))
		}
		return nil
	})
}

// Stats reports the number of keys in each bucket, for operators and metrics.
func (db *DB) Stats() (map[string]int, error) {
	out := make(map[string]int, len(Buckets))
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, b := range Buckets {
			out[b.Name()] = tx.Bucket(b.name).Stats().KeyN
		}
		return nil
	})
	return out, err
}

// Tx is a transaction. It is valid only inside the Update, Batch or View callback that received it.
type Tx struct{ btx *bolt.Tx }

func (tx *Tx) bucket(b Bucket) *bolt.Bucket {
	bk := tx.btx.Bucket(b.name)
	if bk == nil {
		// Open creates every declared bucket; a missing one is a programming error, not a runtime condition.
		panic("store: undeclared bucket " + string(b.name))
	}
	return bk
}

// Pack makes the pages that this write transaction splits in b fuller: fill is the fraction of a page (0.1 to 1)
// filled before a split, 0.5 by default. For bulk loads: a page written 90% full holds nearly twice the keys of a
// half-full one, while a later insert into a full page splits it (one page more to write). No effect on a
// read-only transaction.
func (tx *Tx) Pack(b Bucket, fill float64) {
	if tx.btx.Writable() {
		tx.bucket(b).FillPercent = min(max(fill, 0.1), 1)
	}
}

// Writable reports whether tx may write.
func (tx *Tx) Writable() bool { return tx.btx.Writable() }

// Get returns a copy of the value at key, or nil when there is none.
func (tx *Tx) Get(b Bucket, key []byte) []byte {
	v := tx.bucket(b).Get(key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// Has reports whether key exists in b.
func (tx *Tx) Has(b Bucket, key []byte) bool { return tx.bucket(b).Get(key) != nil }

// Put stores value at key.
func (tx *Tx) Put(b Bucket, key, value []byte) error {
	if !tx.btx.Writable() {
		return ErrReadOnly
	}
	if err := tx.bucket(b).Put(key, value); err != nil {
		return fmt.Errorf("store: put %s: %w", b.name, err)
	}
	return nil
}

// Delete removes key from b; a missing key is not an error.
func (tx *Tx) Delete(b Bucket, key []byte) error {
	if !tx.btx.Writable() {
		return ErrReadOnly
	}
	if err := tx.bucket(b).Delete(key); err != nil {
		return fmt.Errorf("store: delete %s: %w", b.name, err)
	}
	return nil
}

// NextSequence returns the next value of b's monotonic sequence.
func (tx *Tx) NextSequence(b Bucket) (uint64, error) {
	if !tx.btx.Writable() {
		return 0, ErrReadOnly
	}
	return tx.bucket(b).NextSequence()
}

// Scan calls fn for every key in b that starts with prefix, in key order, beginning at the first key >= start
// (start may be nil). k and v are valid only during fn. fn returns ErrStop to end the scan early; Scan then
// returns nil. fn must not change b (collect keys and delete them afterwards, or use DeletePrefix).
func (tx *Tx) Scan(b Bucket, prefix, start []byte, fn func(k, v []byte) error) error {
	c := tx.bucket(b).Cursor()
	seek := prefix
	if bytes.Compare(start, prefix) > 0 {
		seek = start
	}
	for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Count returns how many keys in b start with prefix.
func (tx *Tx) Count(b Bucket, prefix []byte) int {
	if len(prefix) == 0 {
		return tx.bucket(b).Stats().KeyN
	}
	n := 0
	c := tx.bucket(b).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// DeletePrefix removes every key in b that starts with prefix and returns how many it removed.
func (tx *Tx) DeletePrefix(b Bucket, prefix []byte) (int, error) {
	if !tx.btx.Writable() {
		return 0, ErrReadOnly
	}
	n := 0
	c := tx.bucket(b).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return n, fmt.Errorf("store: delete %s: %w", b.name, err)
		}
		n++
	}
	return n, nil
}
