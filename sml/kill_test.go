package sml

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/testproc"
	"github.com/signpost-project/signpost/store"
	"github.com/signpost-project/signpost/store/storetest"
)

// TestKilledWriterLosesNothingAcknowledged runs a child process that registers participants through the Service
// from several goroutines (so commits are shared batches as well as single updates) and reports each one after
// CreateParticipants returns; the child is killed with SIGKILL, and every participant it reported must be there,
// with its DNS names and a zone serial and count that agree.
func TestKilledWriterLosesNothingAcknowledged(t *testing.T) {
	if p := os.Getenv("SIGNPOST_SML_CHILD"); p != "" {
		childRegistrar(t, p)
		return
	}
	boltOnly(t, "kill -9 of a writer on bbolt (on PostgreSQL: sml/app's TestNodeKilledDuringWrites)")
	path := filepath.Join(t.TempDir(), "kill.db")
	acked := testproc.KillAfterAcks(t, "TestKilledWriterLosesNothingAcknowledged", "SIGNPOST_SML_CHILD="+path, 400)
	db := storetest.OpenPath(t, path)
	f := newFixtureOn(t, db, Options{})
	have := map[identifier.ID]bool{}
	token := ""
	for {
		ids, next, err := f.s.ListParticipants(ctx, alice, "SMP-K", token, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			have[id] = true
		}
		if token = next; token == "" {
			break
		}
	}
	for _, v := range acked {
		if !have[pid(v)] {
			t.Errorf("acknowledged participant %s lost after SIGKILL", v)
		}
	}
	st, _ := f.s.Stats()
	if st[0].Participants != int64(len(have)) {
		t.Errorf("zone count %d, participants %d", st[0].Participants, len(have))
	}
	var names int
	_ = db.View(func(tx *store.Tx) error {
		names = tx.Count(store.SMLNames, nil)
		return nil
	})
	if want := len(have) + 1; names != want { // one name per participant, and the publisher
		t.Errorf("name index has %d names, want %d", names, want)
	}
	t.Logf("%d acknowledged, %d present after the kill", len(acked), len(have))
}

func childRegistrar(t *testing.T, path string) {
	db, err := store.Open(path, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := New(boltRepo(db), testDomains(t), Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := s.CreateSMP(ctx, alice, SMP{ID: "SMP-K", LogicalAddress: "http://k.example.org"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				v := fmt.Sprintf("0088:k%d-%06d", g, i)
				if err := s.CreateParticipants(ctx, alice, "SMP-K", specs(v)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(w, "acked", v)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
