package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signpost-project/signpost/store"
)

// TestRestoreRefusesWhatIsNoStore: a file that is not a store, and a missing file, are refused and leave the
// store untouched.
func TestRestoreRefusesWhatIsNoStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a store at all, and far too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{junk, filepath.Join(dir, "missing.db")} {
		if _, err := store.Restore(from, path); err == nil {
			t.Errorf("restored from %s", from)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a refused restore changed the store")
	}
	if ms, _ := filepath.Glob(path + ".pre-restore.*"); len(ms) != 0 {
		t.Fatalf("a refused restore kept %v", ms)
	}
}

// TestRestoreOlderSchema: a backup of an older schema (the committed schema-1 store) is accepted; the store
// opens upgraded afterwards.
func TestRestoreOlderSchema(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "smp.db")
	kept, err := store.Restore("../testdata/store/schema-1/smp.db", path)
	if err != nil {
		t.Fatal(err)
	}
	if kept != "" {
		t.Fatalf("kept %q although there was no store", kept)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("../testdata/store/schema-1/smp.db"); errors.Is(err, os.ErrNotExist) {
		t.Fatal("the backup itself was moved")
	}
}
