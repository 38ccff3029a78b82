package smp_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// TestLayoutResignWhileAnotherGroupIsWritten: after the public URL changed, the re-render of every document
// completes while one service group of its batch is written again during every signing pass. The groups of a
// re-sign batch are independent: a write to one of them must not make the re-sign render and sign the whole
// batch again and again until it gives up (and, restarted, begins again from the first group).
func TestLayoutResignWhileAnotherGroupIsWritten(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	repo := testRepo(t)
	open := func(url string) *smp.Service {
		svc, err := smp.New(ctx, repo, smp.Options{PublicURL: url, Flavour: smp.PEPPOL, SMP2: true, Policy: identifier.PEPPOL,
			Binding: xmlbind.Binding{}, Key: f.leaf.Key, Chain: []*x509.Certificate{f.leaf.Cert}})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	busy := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:busy"}
	quiet := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:quiet"}
	dt := identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:test:doc::Invoice##x::2.1"}
	var sms []smp.ServiceMetadata
	for _, p := range []identifier.ID{busy, quiet} {
		sm := trickyMetadata(f, dt)
		sm.Participant = p
		sms = append(sms, sm)
	}
	if _, err := open("http://old.example").PutBatch(ctx, []smp.ServiceGroup{{Participant: busy, InSML: true}, {Participant: quiet, InSML: true}}, sms); err != nil {
		t.Fatal(err)
	}
	svc := open("http://new.example") // another public URL: every document is rendered again
	var writes, inWrite atomic.Int32
	var writeErr atomic.Value
	smp.SetBeforeSign(func(k smp.DocKey) {
		// While the re-sign signs the quiet group's metadata, the busy group gets a new version.
		if k.Participant != quiet || k.DocType.IsZero() || k.Flavour != smp.PEPPOL || writes.Load() >= 200 || !inWrite.CompareAndSwap(0, 1) {
			return
		}
		defer inWrite.Store(0)
		n := writes.Add(1)
		sm := trickyMetadata(f, dt)
		sm.Participant = busy
		sm.Processes[0].Endpoints[0].Description = fmt.Sprintf("write %d", n)
		if _, err := svc.PutServiceMetadata(ctx, smp.System, sm); err != nil {
			writeErr.CompareAndSwap(nil, err)
		}
	})
	defer smp.SetBeforeSign(nil)
	if _, err := svc.Resign(ctx, nil); err != nil {
		t.Fatalf("re-render with %d concurrent writes of another group: %v", writes.Load(), err)
	}
	if err, _ := writeErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	if writes.Load() == 0 {
		t.Fatal("no concurrent write happened: the test did not test anything")
	}
	if svc.Stale() {
		t.Error("the re-render completed but the SMP still says its documents are stale")
	}
}
