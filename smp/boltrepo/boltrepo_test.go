package boltrepo_test

import (
	"context"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/boltrepo"
	"github.com/signpost-project/signpost/store/storetest"
)

func pid(v string) identifier.ID { return identifier.ID{Scheme: "iso6523-actorid-upis", Value: v} }

// TestVersionsOutliveDeletes: a group's version goes on after a delete, so a writer that planned from the group
// before it was deleted and created again sees that it changed (no ABA).
func TestVersionsOutliveDeletes(t *testing.T) {
	r := boltrepo.New(storetest.Open(t))
	ctx := context.Background()
	p := pid("9915:a")
	version := func() (uint64, bool) {
		var v uint64
		var ok bool
		if err := r.View(ctx, func(tx smp.ReadTx) error {
			var err error
			_, v, ok, err = tx.Group(p)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
	if v, ok := version(); v != 0 || ok {
		t.Fatalf("new: version %d exists %v", v, ok)
	}
	steps := []func(tx smp.WriteTx) error{
		func(tx smp.WriteTx) error { return tx.PutGroup(smp.ServiceGroup{Participant: p}, 1) },
		func(tx smp.WriteTx) error { return tx.DeleteGroup(p, 2) },
		func(tx smp.WriteTx) error { return tx.PutGroup(smp.ServiceGroup{Participant: p}, 3) },
	}
	want := []struct {
		v  uint64
		ok bool
	}{{1, true}, {2, false}, {3, true}}
	for i, step := range steps {
		if err := r.Update(ctx, step); err != nil {
			t.Fatal(err)
		}
		if v, ok := version(); v != want[i].v || ok != want[i].ok {
			t.Fatalf("step %d: version %d exists %v, want %d %v", i, v, ok, want[i].v, want[i].ok)
		}
	}
}

// TestGroupsPage: pages follow the participant order, start after the cursor, and count each group's metadata
// (of that group only, not of a participant whose identifier starts with the same text).
func TestGroupsPage(t *testing.T) {
	r := boltrepo.New(storetest.Open(t))
	ctx := context.Background()
	doc := identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:x::y"}
	err := r.Update(ctx, func(tx smp.WriteTx) error {
		for i, v := range []string{"9915:c", "9915:a", "9915:ab", "9915:b"} {
			if err := tx.PutGroup(smp.ServiceGroup{Participant: pid(v), InSML: true}, uint64(i+1)); err != nil {
				return err
			}
		}
		return tx.PutMetadata(smp.ServiceMetadata{Participant: pid("9915:ab"), DocumentType: doc})
	})
	if err != nil {
		t.Fatal(err)
	}
	var page []smp.GroupInfo
	if err := r.View(ctx, func(tx smp.ReadTx) error {
		var err error
		page, err = tx.Groups(pid("9915:a").String(), 2)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].Group.Participant != pid("9915:ab") || page[0].ServiceMetadata != 1 ||
		page[1].Group.Participant != pid("9915:b") || page[1].ServiceMetadata != 0 {
		t.Fatalf("page after 9915:a: %+v", page)
	}
}
