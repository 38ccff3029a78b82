package smp_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp"
)

var (
	bulkDocA = identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:test:bulk-a::Invoice##x::2.1"}
	bulkDocB = identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:test:bulk-b::CreditNote##x::2.1"}
)

const (
	bulkOldURL   = "https://ap-old.signpost.test/as4"
	bulkNewURL   = "https://ap-new.signpost.test/as4"
	bulkOtherURL = "https://ap-other.signpost.test/as4"
)

func bulkParticipant(i int) identifier.ID {
	return identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("9915:bulk-%03d", i)}
}

func bulkEndpoint(addr string, cert *pki.Leaf) smp.Endpoint {
	return smp.Endpoint{TransportProfile: "peppol-transport-as4-v2_0", Address: addr, Certificate: cert.Cert.Raw, Description: "bulk test"}
}

// seedBulk stores 120 service groups: in groups 0-99, document A has an endpoint with the old certificate at the
// old URL beside one with another certificate; document B has the old certificate in every tenth group only.
// Groups 100-119 have none of them. Groups 0-4 belong to alice.
func seedBulk(t *testing.T, svc *smp.Service, old, other *pki.Leaf) {
	t.Helper()
	var groups []smp.ServiceGroup
	var metas []smp.ServiceMetadata
	for i := range 120 {
		p := bulkParticipant(i)
		sg := smp.ServiceGroup{Participant: p, InSML: true}
		if i < 5 {
			sg.Owner = "alice"
		}
		groups = append(groups, sg)
		a := smp.ServiceMetadata{Participant: p, DocumentType: bulkDocA, Processes: []smp.Process{{ID: demoProcess,
			Endpoints: []smp.Endpoint{bulkEndpoint(bulkOtherURL, other), bulkEndpoint(bulkOtherURL+"/2", other)}}}}
		if i < 100 {
			a.Processes[0].Endpoints[0] = bulkEndpoint(bulkOldURL, old)
		}
		b := smp.ServiceMetadata{Participant: p, DocumentType: bulkDocB, Processes: []smp.Process{{ID: demoProcess,
			Endpoints: []smp.Endpoint{bulkEndpoint(bulkOtherURL, other)}}}}
		if i < 100 && i%10 == 0 {
			b.Processes[0].Endpoints[0].Certificate = old.Cert.Raw
		}
		metas = append(metas, a, b)
	}
	if _, err := svc.PutBatch(context.Background(), groups, metas); err != nil {
		t.Fatal(err)
	}
}

// bulkSnapshot reads every served document of the seeded groups, by flavour, participant and document type.
func bulkSnapshot(t *testing.T, svc *smp.Service) map[smp.DocKey]*smp.Doc {
	t.Helper()
	out := map[smp.DocKey]*smp.Doc{}
	for i := range 120 {
		for _, f := range svc.Flavours() {
			for _, d := range []identifier.ID{{}, bulkDocA, bulkDocB} {
				k := smp.DocKey{Flavour: f, Participant: bulkParticipant(i), DocType: d}
				doc, err := svc.Lookup(context.Background(), f, k.Participant, d)
				if err != nil {
					t.Fatalf("%v: %v", k, err)
				}
				out[k] = doc
			}
		}
	}
	return out
}

// checkBulk compares two snapshots: the documents changed (want says which) differ, hold present and not absent,
// and verify with xmlsec1; every other document is byte-identical, ETag and Last-Modified included.
func checkBulk(t *testing.T, f *fixture, before, after map[smp.DocKey]*smp.Doc, want func(smp.DocKey) bool, present, absent string) int {
	t.Helper()
	changed := 0
	for k, b := range before {
		a := after[k]
		if !want(k) {
			if !bytes.Equal(a.Body, b.Body) || a.ETag != b.ETag || !a.Modified.Equal(b.Modified) {
				t.Errorf("%s %s %s changed although the bulk change does not concern it", k.Flavour, k.Participant, k.DocType)
			}
			continue
		}
		changed++
		if bytes.Equal(a.Body, b.Body) {
			t.Errorf("%s %s %s unchanged", k.Flavour, k.Participant, k.DocType)
			continue
		}
		if !bytes.Contains(a.Body, []byte(present)) || bytes.Contains(a.Body, []byte(absent)) {
			t.Errorf("%s %s %s: new value missing or old one left:\n%s", k.Flavour, k.Participant, k.DocType, a.Body)
		}
		if ok, out := xmlsecVerify(t, f.caFile, a.Body); !ok {
			t.Errorf("%s %s %s does not verify: %s", k.Flavour, k.Participant, k.DocType, out)
		}
		if err := xmllint(t, schemaFor(k.Flavour, false), a.Body); err != nil {
			t.Errorf("%s %s %s: %v", k.Flavour, k.Participant, k.DocType, err)
		}
	}
	return changed
}

// TestBulkReplaceCertificateAndURL: across 100 groups (of 120), replace-certificate changes exactly the
// endpoints with the old certificate, every changed document verifies with xmlsec1 and validates, every other
// document (other groups, other service metadata, the service group documents) stays byte-identical; a dry run
// counts the same and writes nothing; a second run finds nothing; replace-url likewise; an owner's bulk change
// reaches only its own groups.
func TestBulkReplaceCertificateAndURL(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	old, nw, other := f.issue("AP old"), f.issue("AP new G3"), f.issue("AP other")
	seedBulk(t, f.svc, old, other)
	before := bulkSnapshot(t, f.svc)

	certOp := smp.BulkOp{OldCertificate: old.Cert.Raw, NewCertificate: nw.Cert.Raw, DryRun: true}
	var seen []string
	var progress []int
	obs := smp.BulkObserver{
		Group:    func(g smp.BulkGroup) { seen = append(seen, g.Participant) },
		Progress: func(done, total int) { progress = append(progress, done, total) },
	}
	res, err := f.svc.Bulk(ctx, smp.System, certOp, obs)
	if err != nil {
		t.Fatal(err)
	}
	want := smp.BulkResult{Change: "replace-certificate", DryRun: true, Scanned: 120, Groups: 100, Metadata: 110, Endpoints: 110}
	if res != want {
		t.Fatalf("dry run: %+v, want %+v", res, want)
	}
	if len(seen) != 100 || !slices.IsSorted(seen) || seen[0] != bulkParticipant(0).String() {
		t.Fatalf("dry run reported %d groups: %v", len(seen), seen)
	}
	if len(progress) == 0 || progress[len(progress)-2] != 120 || progress[len(progress)-1] != 120 {
		t.Fatalf("progress %v", progress)
	}
	dry := bulkSnapshot(t, f.svc)
	checkBulk(t, f, before, dry, func(smp.DocKey) bool { return false }, "", "")

	alice := smp.Principal{User: "alice"}
	if res, err := f.svc.Bulk(ctx, alice, certOp, smp.BulkObserver{}); err != nil || res.Groups != 5 || res.Scanned != 120 {
		t.Fatalf("alice's dry run: %+v, %v", res, err)
	}

	certOp.DryRun = false
	seen = nil
	res, err = f.svc.Bulk(ctx, smp.System, certOp, obs)
	if err != nil {
		t.Fatal(err)
	}
	want.DryRun, want.Documents = false, 110*len(f.svc.Flavours())
	if res != want || len(seen) != 100 {
		t.Fatalf("bulk: %+v (%d groups reported), want %+v", res, len(seen), want)
	}
	after := bulkSnapshot(t, f.svc)
	certChanged := func(k smp.DocKey) bool {
		i := 0
		fmt.Sscanf(k.Participant.Value, "9915:bulk-%d", &i)
		return i < 100 && (k.DocType == bulkDocA || k.DocType == bulkDocB && i%10 == 0)
	}
	if n := checkBulk(t, f, before, after, certChanged, b64(nw.Cert.Raw), b64(old.Cert.Raw)); n != 220 {
		t.Fatalf("%d documents to change, want 220", n)
	}
	// The other certificate stays where it was beside the replaced one.
	k := smp.DocKey{Flavour: smp.PEPPOL, Participant: bulkParticipant(7), DocType: bulkDocA}
	if !bytes.Contains(after[k].Body, []byte(b64(other.Cert.Raw))) {
		t.Fatal("the endpoint with another certificate lost it")
	}
	if res, err := f.svc.Bulk(ctx, smp.System, certOp, smp.BulkObserver{}); err != nil || res.Groups != 0 || res.Documents != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}

	urlOp := smp.BulkOp{OldURL: bulkOldURL, NewURL: bulkNewURL, DryRun: true}
	if res, err := f.svc.Bulk(ctx, smp.System, urlOp, smp.BulkObserver{}); err != nil || res.Groups != 100 || res.Endpoints != 100 {
		t.Fatalf("replace-url dry run: %+v, %v", res, err)
	}
	checkBulk(t, f, after, bulkSnapshot(t, f.svc), func(smp.DocKey) bool { return false }, "", "")
	urlOp.DryRun = false
	if res, err = f.svc.Bulk(ctx, smp.System, urlOp, smp.BulkObserver{}); err != nil || res.Groups != 100 || res.Metadata != 100 || res.Endpoints != 100 {
		t.Fatalf("replace-url: %+v, %v", res, err)
	}
	urlChanged := func(k smp.DocKey) bool {
		i := 0
		fmt.Sscanf(k.Participant.Value, "9915:bulk-%d", &i)
		return i < 100 && k.DocType == bulkDocA
	}
	if n := checkBulk(t, f, after, bulkSnapshot(t, f.svc), urlChanged, bulkNewURL, bulkOldURL); n != 200 {
		t.Fatalf("%d documents to change, want 200", n)
	}
}

// TestBulkRefusals: a change that is not one complete change, or that would write an expired certificate, is
// refused as invalid before anything is read.
func TestBulkRefusals(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	old, nw := f.issue("AP old"), f.issue("AP new")
	now := time.Now()
	expired, err := f.ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "AP expired", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]smp.BulkOp{
		"nothing":       {},
		"same cert":     {OldCertificate: old.Cert.Raw, NewCertificate: old.Cert.Raw},
		"no new cert":   {OldCertificate: old.Cert.Raw},
		"garbage cert":  {OldCertificate: old.Cert.Raw, NewCertificate: []byte("not DER")},
		"expired":       {OldCertificate: old.Cert.Raw, NewCertificate: expired.Cert.Raw},
		"both":          {OldCertificate: old.Cert.Raw, NewCertificate: nw.Cert.Raw, OldURL: bulkOldURL, NewURL: bulkNewURL},
		"relative url":  {OldURL: bulkOldURL, NewURL: "/as4"},
		"same url":      {OldURL: bulkOldURL, NewURL: bulkOldURL},
		"no old url":    {NewURL: bulkNewURL},
		"control chars": {OldURL: bulkOldURL, NewURL: "https://ap.test/\x01"},
	} {
		if _, err := f.svc.Bulk(context.Background(), smp.System, op, smp.BulkObserver{}); smp.KindOf(err) != smp.KindInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

// TestBulkDuringWrites: writers rewrite affected groups while the bulk change runs. Afterwards no document
// carries the old certificate unless a writer put it back after the bulk change had passed (the writers here
// write the new one), and every document verifies.
func TestBulkDuringWrites(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	old, nw, other := f.issue("AP old"), f.issue("AP new"), f.issue("AP other")
	seedBulk(t, f.svc, old, other)
	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load() && n < 2000; n++ {
				i := (n*7 + w*50) % 100
				sm := smp.ServiceMetadata{Participant: bulkParticipant(i), DocumentType: bulkDocB, Processes: []smp.Process{{ID: demoProcess,
					Endpoints: []smp.Endpoint{bulkEndpoint(fmt.Sprintf("%s/w%d/%d", bulkOtherURL, w, n), nw)}}}}
				if _, err := f.svc.PutServiceMetadata(ctx, smp.System, sm); err != nil {
					errs <- err
					return
				}
				writes.Add(1)
			}
		}()
	}
	for writes.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	res, err := f.svc.Bulk(ctx, smp.System, smp.BulkOp{OldCertificate: old.Cert.Raw, NewCertificate: nw.Cert.Raw}, smp.BulkObserver{})
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Groups != 100 {
		t.Fatalf("bulk during writes: %+v", res)
	}
	v := &verifier{}
	for k, d := range bulkSnapshot(t, f.svc) {
		if bytes.Contains(d.Body, []byte(b64(old.Cert.Raw))) {
			t.Errorf("%s %s %s still has the old certificate", k.Flavour, k.Participant, k.DocType)
		}
		if k.DocType == bulkDocA && k.Participant.Value < "9915:bulk-010" && v.add(d.Body) {
			if ok, out := xmlsecVerify(t, f.caFile, d.Body); !ok {
				t.Errorf("%s %s does not verify: %s", k.Flavour, k.Participant, out)
			}
		}
	}
	t.Logf("%d writes during the bulk change", writes.Load())
}
