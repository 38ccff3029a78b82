package sml

import (
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// The domain side of PrepareChangeCertificate: the owner of an SMP, its listing and ListParticipants follow the
// schedule; a chain of changes is followed; a circle is refused.
func TestCertChangeOwnership(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 2, 10, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	f := newFixture(t, Options{Now: clock})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: pid("9915:a")}}); err != nil {
		t.Fatal(err)
	}
	carol := Caller{Identity: "CN=alice G3,O=A,C=BE:4d", Domain: testZone}
	at := time.Date(2026, 2, 11, 0, 0, 0, 0, time.UTC)
	nu := Successor{Identity: carol.Identity, Domain: testZone, NotBefore: at.Add(-48 * time.Hour), NotAfter: at.Add(365 * 24 * time.Hour), Dated: true}
	if err := f.s.PrepareChangeCertificate(ctx, alice, nu, at); err != nil {
		t.Fatal(err)
	}
	// carol cannot hand back to alice in a circle while the change is pending.
	back := Successor{Identity: alice.Identity, Domain: testZone, NotBefore: at.Add(-48 * time.Hour), NotAfter: at.Add(24 * time.Hour), Dated: true}
	if err := f.s.PrepareChangeCertificate(ctx, carol, back, at.Add(-15*time.Hour)); kindOf(err) != KindBadRequest {
		t.Errorf("circle: %v", err)
	}
	owner := func() string {
		smps, err := f.s.ListSMPs(ctx)
		if err != nil || len(smps) != 1 {
			t.Fatalf("ListSMPs = %v %v", smps, err)
		}
		return smps[0].Owner
	}
	own := func(c Caller) int {
		n := 0
		if err := f.s.EachOwnParticipant(ctx, c, 0, func(string, identifier.ID) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := f.s.ReadSMP(ctx, alice, "SMP-A"); err != nil || owner() != alice.Identity || own(alice) != 1 || own(carol) != 0 {
		t.Fatalf("before: read %v owner %s", err, owner())
	}
	set(at)
	if _, err := f.s.ReadSMP(ctx, alice, "SMP-A"); kindOf(err) != KindUnauthorized {
		t.Errorf("old after the moment: %v", err)
	}
	if err := f.s.CreateSMP(ctx, alice, SMP{ID: "SMP-X", LogicalAddress: "http://x.example.org"}); kindOf(err) != KindUnauthorized {
		t.Errorf("replaced certificate creates an SMP: %v", err)
	}
	if _, err := f.s.ReadSMP(ctx, carol, "SMP-A"); err != nil || owner() != carol.Identity || own(alice) != 0 || own(carol) != 1 {
		t.Fatalf("after: read %v owner %s", err, owner())
	}
	// A second change follows the first: carol -> dave.
	dave := Caller{Identity: "CN=dave,O=A,C=BE:5e", Domain: testZone}
	at2 := at.Add(48 * time.Hour)
	if err := f.s.PrepareChangeCertificate(ctx, carol, Successor{Identity: dave.Identity, Domain: testZone, NotBefore: at, NotAfter: at2.Add(time.Hour), Dated: true}, at2); err != nil {
		t.Fatal(err)
	}
	set(at2)
	if _, err := f.s.ReadSMP(ctx, dave, "SMP-A"); err != nil || owner() != dave.Identity {
		t.Fatalf("second change: %v %s", err, owner())
	}
	if cs, err := f.s.CertChanges(ctx); err != nil || len(cs) != 2 {
		t.Errorf("CertChanges = %v %v", cs, err)
	}
}

func kindOf(err error) Kind {
	if e, ok := err.(*Error); ok {
		return e.Kind
	}
	return 0
}
