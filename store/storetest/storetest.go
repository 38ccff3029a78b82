// Package storetest opens throwaway stores for tests.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/signpost-project/signpost/store"
)

// Open opens a new store in a temporary directory. When the test ends it checks the store's integrity, failing
// the test on any problem, and closes it.
func Open(t testing.TB) *store.DB {
	t.Helper()
	return OpenPath(t, filepath.Join(t.TempDir(), "store.db"))
}

// OpenPath opens (or creates) the store at path with the same cleanup as Open.
func OpenPath(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("storetest: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("storetest: close: %v", err)
		}
	})
	return db
}
