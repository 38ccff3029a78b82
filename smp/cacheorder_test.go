package smp_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/smp"
)

// TestCacheFollowsCommitOrder: when a write commits while another write's cache update is still pending, the
// document served afterwards is the one committed last (the cache must not keep the older one).
func TestCacheFollowsCommitOrder(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	path := "/" + seg(demoParticipant) + "/services/" + seg(demoDocType)
	if r, _ := f.get(path); r.StatusCode != 200 { // cached from now on
		t.Fatalf("GET: %d", r.StatusCode)
	}
	version := func(v string) smp.ServiceMetadata {
		sm := trickyMetadata(f, demoDocType)
		sm.Processes[0].Endpoints[0].Description = "version " + v
		return sm
	}
	ctx := context.Background()
	var first atomic.Bool
	bDone := make(chan error, 1)
	smp.SetAfterCommit(func() {
		if !first.CompareAndSwap(false, true) {
			return
		}
		// A has committed; B writes now. Without ordering, B commits and updates the cache before A does.
		go func() { _, err := f.svc.PutServiceMetadata(ctx, smp.System, version("B")); bDone <- err }()
		select {
		case err := <-bDone:
			bDone <- err
		case <-time.After(2 * time.Second): // B waits for A: the ordering holds
		}
	})
	t.Cleanup(func() { smp.SetAfterCommit(nil) })
	if _, err := f.svc.PutServiceMetadata(ctx, smp.System, version("A")); err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	_, body := f.get(path)
	if !strings.Contains(string(body), "version B") {
		t.Errorf("served the older write after both committed:\n%.400s", body)
	}
}
