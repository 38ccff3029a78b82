package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// migration is one upgrade step, from schema version from to from+1. The list lives in schema.go.
type migration struct {
	from        uint64
	description string
	apply       func(tx *bolt.Tx) error
}

// Migration describes one upgrade step for operators and documentation.
type Migration struct {
	From, To    uint64
	Description string
}

// Migrations lists the upgrade steps this build can run, oldest first.
func Migrations() []Migration {
	out := make([]Migration, len(migrations))
	for i, m := range migrations {
		out[i] = Migration{From: m.from, To: m.from + 1, Description: m.description}
	}
	return out
}

// upgradeHook, when set (by tests only), runs inside each step's transaction after the step and before the new
// version is written; an error rolls the step back as a failing step would.
var upgradeHook func(from uint64) error

// readVersion returns the schema version recorded in tx, and found=false when the file has none (a new or a
// foreign file).
func readVersion(tx *bolt.Tx, path string) (version uint64, found bool, err error) {
	m := tx.Bucket(Meta.name)
	if m == nil {
		return 0, false, nil
	}
	v := m.Get(keySchemaVersion)
	if v == nil {
		return 0, false, nil
	}
	if len(v) != 8 {
		return 0, true, fmt.Errorf("%w: store %s has a malformed schema version (%d bytes); restore a backup", ErrSchemaVersion, path, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func writeVersion(tx *bolt.Tx, version uint64) error {
	m, err := tx.CreateBucketIfNotExists(Meta.name)
	if err != nil {
		return err
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], version)
	return m.Put(keySchemaVersion, v[:])
}

func findMigration(from uint64) (migration, bool) {
	for _, m := range migrations {
		if m.from == from {
			return m, true
		}
	}
	return migration{}, false
}

// upgrade backs the store up beside itself and then migrates it in place from schema version from to
// SchemaVersion, one transaction per step. The caller holds the file lock (bbolt's exclusive flock), so no other
// process changes the store meanwhile. When it fails, the store is at the version of the last step that
// committed, and the next Open resumes from there.
func (db *DB) upgrade(from uint64) error {
	// Check that every step exists before touching anything.
	for v := from; v < SchemaVersion; v++ {
		if _, ok := findMigration(v); !ok {
			return fmt.Errorf("%w: store %s has schema version %d and this build has no upgrade step from version %d; restore a newer backup",
				ErrSchemaVersion, db.path, from, v)
		}
	}
	backup, err := db.backupPath(from, time.Now())
	if err != nil {
		return err
	}
	if err := db.BackupFile(backup); err != nil {
		return fmt.Errorf("%w: store %s: could not write the backup made before upgrading it from schema %d (free space or permissions in its directory?): %w",
			ErrUpgrade, db.path, from, err)
	}
	db.log.Info("store backed up before its schema upgrade", "path", db.path, "backup", backup, "schema", from, "target", SchemaVersion)
	for v := from; v < SchemaVersion; v++ {
		m, _ := findMigration(v)
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			cur, found, err := readVersion(tx, db.path)
			if err != nil {
				return err
			}
			if !found || cur != v {
				return fmt.Errorf("schema version is %d, expected %d", cur, v)
			}
			if err := m.apply(tx); err != nil {
				return err
			}
			if upgradeHook != nil {
				if err := upgradeHook(v); err != nil {
					return err
				}
			}
			return writeVersion(tx, v+1)
		})
		if err != nil {
			return fmt.Errorf("%w: store %s: step from schema %d to %d (%s) failed and was rolled back; the store is at schema %d and the next start tries again; the backup taken before the upgrade is %s: %w",
				ErrUpgrade, db.path, v, v+1, m.description, v, backup, err)
		}
		db.log.Info("store schema upgraded", "path", db.path, "from", v, "to", v+1, "step", m.description)
	}
	return nil
}

// backupPath names the pre-upgrade backup: <path>.schema-<from>.<UTC time>.bak, with a counter added when an
// earlier attempt in the same second left a file of that name.
func (db *DB) backupPath(from uint64, now time.Time) (string, error) {
	base := fmt.Sprintf("%s.schema-%d.%s", db.path, from, now.UTC().Format("20060102T150405Z"))
	for i := 1; i <= 100; i++ {
		p := base + ".bak"
		if i > 1 {
			p = fmt.Sprintf("%s-%d.bak", base, i)
		}
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		} else if err != nil {
			return "", fmt.Errorf("%w: store %s: check backup name %s: %w", ErrUpgrade, db.path, p, err)
		}
	}
	return "", fmt.Errorf("%w: store %s: 100 backups named %s*.bak exist already; move old ones away", ErrUpgrade, db.path, base)
}
