package smp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// TestRekeyWhileServing re-signs over 10,000 stored documents with a new key while readers fetch documents over
// HTTP; every response must be complete and verify with xmlsec1 (each distinct body is verified once).
func TestRekeyWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("rekey over 10,000 documents: skipped with -short")
	}
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	const groups, perGroup = 850, 5 // 850 x (1 + 1 + 5 x 2) = 10,200 documents, 9,350 of them signed
	var paths []string
	for g := 0; g < groups; g += 50 {
		var sgs []smp.ServiceGroup
		var sms []smp.ServiceMetadata
		for i := g; i < g+50 && i < groups; i++ {
			p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("9915:rekey-%04d", i)}
			sgs = append(sgs, smp.ServiceGroup{Participant: p, InSML: true})
			for d := 0; d < perGroup; d++ {
				dt := identifier.ID{Scheme: "busdox-docid-qns", Value: fmt.Sprintf("urn:test:doc-%d::Invoice##x::2.1", d)}
				sm := trickyMetadata(f, dt)
				sm.Participant = p
				sms = append(sms, sm)
				if i%43 == 0 && d < 2 {
					paths = append(paths, "/"+seg(p)+"/services/"+seg(dt), "/bdxr-smp-2/"+seg(p)+"/services/"+seg(dt))
				}
			}
			if i%43 == 0 {
				paths = append(paths, "/bdxr-smp-2/"+seg(p))
			}
		}
		if _, err := f.svc.PutBatch(ctx, sgs, sms); err != nil {
			t.Fatal(err)
		}
	}
	oldCert := base64.StdEncoding.EncodeToString(f.leaf.Cert.Raw)
	next := f.issue("SMP test signer, next key")
	newCert := base64.StdEncoding.EncodeToString(next.Cert.Raw)

	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		distinct  = map[string][]byte{}
		requests  atomic.Int64
		failures  atomic.Int64
		sawOld    atomic.Bool
		sawNew    atomic.Bool
		firstFail atomic.Value
	)
	v := &verifier{}
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := r; !stop.Load(); i++ {
				p := paths[i%len(paths)]
				resp, body := f.get(p)
				requests.Add(1)
				if resp.StatusCode != 200 {
					failures.Add(1)
					firstFail.CompareAndSwap(nil, fmt.Sprintf("GET %s: %d", p, resp.StatusCode))
					continue
				}
				if bytes.Contains(body, []byte(oldCert)) {
					sawOld.Store(true)
				} else if bytes.Contains(body, []byte(newCert)) {
					sawNew.Store(true)
				}
				if v.add(body) {
					mu.Lock()
					distinct[p+fmt.Sprint(len(distinct))] = body
					mu.Unlock()
				}
			}
		}(r)
	}
	n, err := f.svc.Rekey(ctx, next.Key, []*x509.Certificate{next.Cert}, nil)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != groups {
		t.Errorf("rekey rewrote %d groups, want %d", n, groups)
	}
	if failures.Load() > 0 {
		t.Fatalf("%d of %d responses failed; first: %v", failures.Load(), requests.Load(), firstFail.Load())
	}
	t.Logf("%d responses during rekey, %d distinct bodies; saw old key %v, new key %v", requests.Load(), len(distinct), sawOld.Load(), sawNew.Load())
	for p, body := range distinct {
		if ok, msg := xmlsecVerify(t, f.caFile, body); !ok {
			t.Fatalf("%s: response does not verify: %s", p, msg)
		}
	}
	// Afterwards every signed document carries the new key, and the store records generation 2.
	for _, p := range paths {
		_, body := f.get(p)
		if !bytes.Contains(body, []byte(newCert)) {
			t.Fatalf("%s is not signed by the new key after rekey", p)
		}
	}
	if g := f.svc.Generation(); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
	if f.svc.Stale() {
		t.Error("still stale after rekey")
	}
}

// TestSwitchKeyMadeByAnotherNode: two services on one store (two nodes) both make the same scheduled switch; the
// second finds the key active in the store already and takes it at the store's generation without writing, so the
// documents the first node's switch (and re-sign) covered are not marked for another full re-sign.
func TestSwitchKeyMadeByAnotherNode(t *testing.T) {
	f := newFixture(t, fixtureOpts{}) // for its CA and key
	ctx := context.Background()
	repo := testRepo(t)
	node := func() *smp.Service {
		s, err := smp.New(ctx, repo, smp.Options{PublicURL: f.base, Flavour: smp.PEPPOL, SMP2: true, Policy: identifier.PEPPOL,
			Binding: xmlbind.Binding{}, Key: f.leaf.Key, Chain: []*x509.Certificate{f.leaf.Cert}, SharedStore: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first, other := node(), node()
	p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:switched-twice"}
	if _, err := first.PutBatch(ctx, []smp.ServiceGroup{{Participant: p}}, nil); err != nil {
		t.Fatal(err)
	}
	next := f.issue("SMP test signer, scheduled")
	files := &smp.KeyFiles{Cert: "next.pem", Key: "next-key.pem"}
	if err := first.SwitchKey(ctx, next.Key, []*x509.Certificate{next.Cert}, files); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Resign(ctx, nil); err != nil {
		t.Fatal(err)
	}
	gen := first.Generation()
	if need, err := first.NeedsResign(ctx); err != nil || need {
		t.Fatalf("after the first switch and its re-sign: needs re-sign %v, %v", need, err)
	}
	if err := other.SwitchKey(ctx, next.Key, []*x509.Certificate{next.Cert}, files); err != nil {
		t.Fatal(err)
	}
	if g := other.Generation(); g != gen {
		t.Errorf("the second node is at generation %d, want the store's %d", g, gen)
	}
	if need, err := first.NeedsResign(ctx); err != nil || need {
		t.Errorf("the second node's switch to the same key marked the store for another re-sign (%v, %v)", need, err)
	}
}
