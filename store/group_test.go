package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "group.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Error(err)
		}
		_ = db.Close()
	})
	return db
}

// waitQueued waits until n Batch calls are queued behind the running commit.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.group.mu.Lock()
		q := len(db.group.queue)
		db.group.mu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// blockFirst starts a Batch whose function waits for release on its first run, and returns once that run began:
// later calls queue behind its commit.
func blockFirst(t *testing.T, db *DB, key string) (release func(), done <-chan error) {
	t.Helper()
	running, rel, out := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var once sync.Once
	go func() {
		out <- db.Batch(func(tx *Tx) error {
			once.Do(func() { close(running); <-rel })
			return tx.Put(SMLSMPs, []byte(key), []byte("v"))
		})
	}()
	<-running
	return func() { close(rel) }, out
}

// Calls that arrive while a commit runs share the next one: one transaction, all written; no timer is involved.
func TestBatchSharesCommit(t *testing.T) {
	db := openTest(t)
	release, first := blockFirst(t, db, "first")
	const n = 20
	txids := make([]int, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- db.Batch(func(tx *Tx) error {
				txids[i] = tx.btx.ID()
				return tx.Put(SMLSMPs, fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
		}()
	}
	waitQueued(t, db, n)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range txids {
		if id != txids[0] {
			t.Errorf("call %d committed in transaction %d, call 0 in %d: want one shared commit", i, id, txids[0])
		}
	}
	_ = db.View(func(tx *Tx) error {
		if got := tx.Count(SMLSMPs, nil); got != n+1 {
			t.Errorf("%d keys, want %d", got, n+1)
		}
		return nil
	})
}

// A failing call in a shared commit gets its own error and leaves nothing behind; the others commit. A panic is
// raised again in the caller's goroutine and the others commit too.
func TestBatchFailureAndPanicAreTheCallers(t *testing.T) {
	db := openTest(t)
	release, first := blockFirst(t, db, "first")
	refused := errors.New("refused")
	type outcome struct {
		name     string
		err      error
		panicked any
	}
	out := make(chan outcome, 4)
	call := func(name string, fn func(*Tx) error) {
		go func() {
			o := outcome{name: name}
			defer func() {
				o.panicked = recover()
				out <- o
			}()
			o.err = db.Batch(fn)
		}()
	}
	put := func(k string) func(*Tx) error {
		return func(tx *Tx) error { return tx.Put(SMLSMPs, []byte(k), []byte("v")) }
	}
	call("a", put("a"))
	call("fails", func(tx *Tx) error {
		if err := tx.Put(SMLSMPs, []byte("partial"), []byte("v")); err != nil {
			return err
		}
		return refused
	})
	call("panics", func(tx *Tx) error {
		_ = tx.Put(SMLSMPs, []byte("panicked"), []byte("v"))
		panic("boom")
	})
	call("b", put("b"))
	waitQueued(t, db, 4)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range 4 {
		o := <-out
		switch o.name {
		case "fails":
			if !errors.Is(o.err, refused) || o.panicked != nil {
				t.Errorf("failing call: %v %v, want its own error", o.err, o.panicked)
			}
		case "panics":
			if o.panicked != "boom" {
				t.Errorf("panicking call: %v %v, want the panic in its goroutine", o.err, o.panicked)
			}
		default:
			if o.err != nil || o.panicked != nil {
				t.Errorf("call %s: %v %v", o.name, o.err, o.panicked)
			}
		}
	}
	_ = db.View(func(tx *Tx) error {
		for k, want := range map[string]bool{"first": true, "a": true, "b": true, "partial": false, "panicked": false} {
			if tx.Has(SMLSMPs, []byte(k)) != want {
				t.Errorf("key %s present: %v, want %v", k, !want, want)
			}
		}
		return nil
	})
}

// Calls that conflict see each other's writes: of many "create if absent" calls of one key exactly one succeeds,
// whether they share commits or not.
func TestBatchSerializable(t *testing.T) {
	db := openTest(t)
	exists := errors.New("exists")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Batch(func(tx *Tx) error {
				if tx.Has(SMLSMPs, []byte("x")) {
					return exists
				}
				return tx.Put(SMLSMPs, []byte("x"), []byte("v"))
			})
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, exists) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d calls created the key, want 1", ok)
	}
}

// After Close, Batch fails instead of blocking.
func TestBatchAfterClose(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "closed.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := db.Batch(func(tx *Tx) error { return nil }); err == nil {
		t.Error("Batch on a closed store succeeded")
	}
}
