package sml

import (
	"context"
	"errors"
	"testing"
)

// ListSMPs returns the SMPs of every owner and domain, ordered by domain and ID, and honours a cancelled context.
func TestListSMPs(t *testing.T) {
	f := newFixture(t, Options{})
	if got, err := f.s.ListSMPs(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v %v", got, err)
	}
	f.createSMP(t, bob, "SMP-B", "http://b.example.org")
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	oasis := Caller{Identity: "CN=carol,O=C,C=BE:3c", Domain: "oasis.test."}
	f.createSMP(t, oasis, "SMP-0", "http://c.example.org")
	got, err := f.s.ListSMPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.Domain+"/"+s.ID+"/"+s.Owner)
	}
	want := []string{"oasis.test./SMP-0/" + oasis.Identity, "sml.test./SMP-A/" + alice.Identity, "sml.test./SMP-B/" + bob.Identity}
	if len(ids) != len(want) {
		t.Fatalf("ListSMPs = %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ListSMPs = %v, want %v", ids, want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.s.ListSMPs(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
