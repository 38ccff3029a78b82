package store_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/signpost-project/signpost/internal/testproc"
	"github.com/signpost-project/signpost/store"
	"github.com/signpost-project/signpost/store/storetest"
)

func TestPutGetScanDelete(t *testing.T) {
	db := storetest.Open(t)
	err := db.Update(func(tx *store.Tx) error {
		for _, k := range []string{"a/1", "a/2", "a/3", "b/1"} {
			if err := tx.Put(store.SMLSMPs, []byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	err = db.View(func(tx *store.Tx) error {
		got = tx.Get(store.SMLSMPs, []byte("a/2"))
		if tx.Get(store.SMLSMPs, []byte("zz")) != nil {
			t.Error("Get of a missing key returned a value")
		}
		if n := tx.Count(store.SMLSMPs, []byte("a/")); n != 3 {
			t.Errorf("Count(a/) = %d, want 3", n)
		}
		var keys []string
		if err := tx.Scan(store.SMLSMPs, []byte("a/"), []byte("a/2"), func(k, v []byte) error {
			keys = append(keys, string(k))
			return nil
		}); err != nil {
			return err
		}
		if strings.Join(keys, ",") != "a/2,a/3" {
			t.Errorf("Scan from a/2 = %v", keys)
		}
		keys = nil
		_ = tx.Scan(store.SMLSMPs, nil, nil, func(k, v []byte) error {
			keys = append(keys, string(k))
			if len(keys) == 2 {
				return store.ErrStop
			}
			return nil
		})
		if len(keys) != 2 {
			t.Errorf("Scan with ErrStop visited %d keys, want 2", len(keys))
		}
		if err := tx.Put(store.SMLSMPs, []byte("x"), nil); !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("Put in View = %v, want ErrReadOnly", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The copy outlives the transaction and later writes.
	_ = db.Update(func(tx *store.Tx) error { return tx.Put(store.SMLSMPs, []byte("a/2"), []byte("changed")) })
	if string(got) != "va/2" {
		t.Errorf("value read earlier = %q, want va/2", got)
	}
	err = db.Update(func(tx *store.Tx) error {
		n, err := tx.DeletePrefix(store.SMLSMPs, []byte("a/"))
		if n != 3 {
			t.Errorf("DeletePrefix removed %d, want 3", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *store.Tx) error {
		if n := tx.Count(store.SMLSMPs, nil); n != 1 {
			t.Errorf("%d keys left, want 1", n)
		}
		return nil
	})
}

func TestUpdateRollsBackOnError(t *testing.T) {
	db := storetest.Open(t)
	boom := errors.New("boom")
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.Put(store.SMPGroups, []byte("k"), []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_ = db.View(func(tx *store.Tx) error {
		if tx.Has(store.SMPGroups, []byte("k")) {
			t.Error("write of a failed transaction is visible")
		}
		return nil
	})
}

func TestLockedFileGivesClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := storetest.OpenPath(t, path)
	_ = db
	start := time.Now()
	_, err := store.Open(path, store.Options{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another") {
		t.Errorf("error %q should name the file and say another process holds it", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("Open did not honour the lock timeout")
	}
}

func TestNewerSchemaVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Rewrite the version as a future build would.
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Update(func(tx *bolt.Tx) error {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], store.SchemaVersion+1)
		return tx.Bucket([]byte("meta")).Put([]byte("schema-version"), v[:])
	})
	b.Close()
	_, err = store.Open(path, store.Options{})
	if !errors.Is(err, store.ErrSchemaVersion) {
		t.Fatalf("Open = %v, want ErrSchemaVersion", err)
	}
	want := fmt.Sprintf("store %s has schema version %d; this signpost build reads up to %d: upgrade signpost or restore a backup",
		path, store.SchemaVersion+1, store.SchemaVersion)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q should say %q", err, want)
	}
	if b, _ := filepath.Glob(path + ".*.bak"); len(b) != 0 {
		t.Errorf("a newer store was backed up: %v", b)
	}
	// A read-only Open refuses it the same way.
	if _, err := store.Open(path, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrSchemaVersion) || !strings.Contains(err.Error(), want) {
		t.Errorf("read-only Open = %v", err)
	}
}

func TestForeignBoltFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("someone-else")); return err })
	b.Close()
	if _, err := store.Open(path, store.Options{}); err == nil || !strings.Contains(err.Error(), "not a signpost store") {
		t.Fatalf("Open of a foreign file = %v", err)
	}
}

func TestBackupIsConsistentAndOpens(t *testing.T) {
	db := storetest.Open(t)
	for i := 0; i < 500; i++ {
		_ = db.Update(func(tx *store.Tx) error {
			return tx.Put(store.SMPDocuments, fmt.Appendf(nil, "k%04d", i), bytes.Repeat([]byte{byte(i)}, 100))
		})
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupFile(dst); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	bk := storetest.OpenPath(t, dst)
	_ = bk.View(func(tx *store.Tx) error {
		if n := tx.Count(store.SMPDocuments, nil); n != 500 {
			t.Errorf("backup has %d documents, want 500", n)
		}
		return nil
	})
}

func TestCheckFindsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		_ = db.Update(func(tx *store.Tx) error {
			return tx.Put(store.SMLNames, fmt.Appendf(nil, "name-%06d", i), bytes.Repeat([]byte("x"), 200))
		})
	}
	if err := db.Check(); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	db.Close()
	// Overwrite a page in the middle of the file with garbage.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 4096), st.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Logf("damaged file refused at open: %v", err)
		return
	}
	defer db.Close()
	err = db.Check()
	if err == nil {
		t.Fatal("Check found nothing wrong in a damaged file")
	}
	t.Logf("Check: %.200s", err)
}

// TestKilledWriterLosesNothingCommitted runs a child process that commits numbered keys in a loop and reports
// each one after Update returns; the child is killed with SIGKILL, and every key it reported must be there.
func TestKilledWriterLosesNothingCommitted(t *testing.T) {
	if os.Getenv("SIGNPOST_STORE_CHILD") != "" {
		childWriter(os.Getenv("SIGNPOST_STORE_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	acked := testproc.KillAfterAcks(t, "TestKilledWriterLosesNothingCommitted", "SIGNPOST_STORE_CHILD="+path, 300)
	db := storetest.OpenPath(t, path)
	_ = db.View(func(tx *store.Tx) error {
		for _, k := range acked {
			if !tx.Has(store.SMLParticipants, []byte(k)) {
				t.Errorf("acknowledged key %s lost after SIGKILL", k)
			}
		}
		return nil
	})
}

func childWriter(path string) {
	db, err := store.Open(path, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		k := fmt.Sprintf("key-%08d", i)
		if err := db.Update(func(tx *store.Tx) error {
			return tx.Put(store.SMLParticipants, []byte(k), bytes.Repeat([]byte("p"), 64))
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(w, "acked", k)
		w.Flush()
	}
}
