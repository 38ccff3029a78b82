package soap_test

import (
	"context"
	"testing"
	"time"

	"github.com/signpost-project/signpost/sml"
)

// TestOwnerCertificateExpiryRecorded: an SMP created over mutual TLS records when its owner's certificate expires;
// the expiry report lists it within a window that reaches that moment and not within a shorter one, soonest
// first, and an SMP whose certificate the SML never saw comes last as unknown.
func TestOwnerCertificateExpiryRecorded(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	ctx := context.Background()
	// An SMP registered before the SML recorded expiries (or by an import): no certificate seen.
	if err := e.svc.CreateSMP(ctx, sml.Caller{Identity: "CN=old,O=Test,C=BE:9", Domain: "sml.test."},
		sml.SMP{ID: "SMP-OLD", LogicalAddress: "http://old.example.org"}); err != nil {
		t.Fatal(err)
	}
	want := e.pki.clients["smp-a"].Cert.NotAfter
	got, err := e.svc.ExpiringCertificates(ctx, time.Now().Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SMP.ID != "SMP-A" || !got[0].NotAfter.Equal(want) || got[1].SMP.ID != "SMP-OLD" || !got[1].NotAfter.IsZero() {
		t.Fatalf("within 30 days: %+v", got)
	}
	got, err = e.svc.ExpiringCertificates(ctx, time.Now().Add(time.Hour)) // smp-a's certificate runs 24 h more
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].SMP.ID != "SMP-OLD" {
		t.Fatalf("within an hour: %+v", got)
	}
}
