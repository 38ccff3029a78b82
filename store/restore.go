package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Restore replaces the store file at path with the backup at from, for a server that is stopped. The backup must
// open as a store this build reads (an older schema is upgraded when the server next opens it) and pass the
// integrity check; the store at path must not be held by a running server. The current file, when there is one,
// is kept beside it as path.pre-restore.<UTC time>. The replacement is atomic: path holds the old store or the
// restored one, never a mixture. It returns the name of the kept file ("" when there was none).
func Restore(from, path string) (kept string, err error) {
	if err := checkBackup(from); err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err == nil {
		// Take the lock for a moment: a running server holds it.
		db, err := Open(path, Options{LockTimeout: 500 * time.Millisecond, ReadOnly: true})
		if errors.Is(err, ErrLocked) {
			return "", fmt.Errorf("%w: stop the server before restoring", err)
		}
		if err == nil {
			_ = db.Close()
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	tmp, err := copyToTemp(from, dir)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp) // no-op after the rename
	if _, err := os.Stat(path); err == nil {
		kept = path + ".pre-restore." + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(path, kept); err != nil {
			return "", fmt.Errorf("store: restore: keep the current store: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return kept, fmt.Errorf("store: restore: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return kept, nil
}

// checkBackup opens a backup read-only and checks it.
func checkBackup(from string) error {
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	db, err := Open(from, Options{ReadOnly: true})
	if errors.Is(err, ErrSchemaVersion) && !errors.Is(err, ErrUpgrade) {
		// An older schema cannot be opened read-only; the server upgrades it when it opens the restored file.
		// Check it in a temporary copy instead.
		tmp, cerr := copyToTemp(from, os.TempDir())
		if cerr != nil {
			return cerr
		}
		defer os.Remove(tmp)
		defer removeBackups(tmp)
		db, err = Open(tmp, Options{})
	}
	if err != nil {
		return fmt.Errorf("store: restore: %s is not a usable store: %w", from, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return fmt.Errorf("store: restore: %s: %w", from, err)
	}
	return nil
}

// removeBackups removes the upgrade backups Open made beside a temporary copy.
func removeBackups(path string) {
	ms, _ := filepath.Glob(path + ".schema-*.bak")
	for _, m := range ms {
		_ = os.Remove(m)
	}
}

// copyToTemp copies a file into dir under a temporary name, fsynced, mode 0600.
func copyToTemp(from, dir string) (string, error) {
	src, err := os.Open(from)
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	defer src.Close()
	f, err := os.CreateTemp(dir, ".restore-*")
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("store: restore: %w", err)
	}
	if err := f.Chmod(0o600); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("store: restore: %w", err)
	}
	return f.Name(), nil
}
