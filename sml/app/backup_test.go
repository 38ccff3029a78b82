package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/store"
)

// TestOnlineBackupAndRestore: a backup taken through the admin API while participants are written holds every
// participant whose write was acknowledged before the backup began; restored (server stopped), the store opens,
// passes its integrity check and the SML serves it, the old store kept beside it. A running server's store
// cannot be restored over.
func TestOnlineBackupAndRestore(t *testing.T) {
	r := startSML(t, "[naptr]")
	cfg, svc, ctx := r.cfg, r.app.Service(), context.Background()
	dir := filepath.Dir(cfg.Store.Path)
	caller := sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."}
	if err := svc.CreateSMP(ctx, caller, sml.SMP{ID: "SMP-1", LogicalAddress: "http://smp.example.org"}); err != nil {
		t.Fatal(err)
	}
	pid := func(i int) identifier.ID {
		return identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("0088:%07d", i)}
	}
	// A writer acknowledges participants one by one while the backup runs.
	var mu sync.Mutex
	acked := 0
	done := make(chan struct{})
	writerErr := make(chan error, 1)
	go func() {
		defer close(writerErr)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if err := svc.CreateParticipants(ctx, caller, "SMP-1", []sml.ParticipantSpec{{ID: pid(i)}}); err != nil {
				writerErr <- err
				return
			}
			mu.Lock()
			acked = i + 1
			mu.Unlock()
		}
	}()
	for { // let some writes through first
		mu.Lock()
		n := acked
		mu.Unlock()
		if n >= 20 {
			break
		}
	}
	client := r.client
	mu.Lock()
	before := acked // acknowledged before the backup began
	mu.Unlock()
	backup := filepath.Join(dir, "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Backup(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	close(done)
	if err := <-writerErr; err != nil {
		t.Fatal(err)
	}
	if _, err := store.Restore(backup, cfg.Store.Path); err == nil {
		t.Fatal("restored over the store of a running server")
	}
	marker := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:after-the-backup"}
	if err := svc.CreateParticipants(ctx, caller, "SMP-1", []sml.ParticipantSpec{{ID: marker}}); err != nil {
		t.Fatal(err)
	}
	r.stop()

	kept, err := store.Restore(backup, cfg.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the store as it was is not kept: %v", err)
	}
	db, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	b, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	have := map[identifier.ID]bool{}
	page := ""
	for {
		ids, next, err := b.Service().ListParticipants(ctx, caller, "SMP-1", page, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			have[id] = true
		}
		if next == "" {
			break
		}
		page = next
	}
	for i := range before {
		if !have[pid(i)] {
			t.Fatalf("participant %d, acknowledged before the backup began, is not in the restored store (%d there)", i, len(have))
		}
	}
	if have[marker] {
		t.Fatal("the restored store has a participant written after the backup: it was not restored")
	}
	if len(have) < before {
		t.Fatalf("%d participants restored, %d acknowledged before the backup", len(have), before)
	}
}
