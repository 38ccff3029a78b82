package boltrepo

import (
	"bytes"
	"testing"

	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/repotest"
	"github.com/signpost-project/signpost/store/storetest"
)

// EachName and PutNameHash copy a name index exactly: what Name finds by owner name after the copy is what it
// found before.
func TestNameIndexCopies(t *testing.T) {
	from, to := New(storetest.Open(t)), New(storetest.Open(t))
	owners := []string{"B-abc.iso6523-actorid-upis.sml.test.", "SMP-A.publisher.sml.test.", "x.sml.test."}
	if err := from.Update(func(t sml.Tx) error {
		for i, o := range owners {
			if err := t.PutName("sml.test.", o, string(rune('a'+i))); err != nil {
				return err
			}
		}
		return t.PutZone("sml.test.", sml.ZoneState{Serial: 7, NextSeq: 1})
	}); err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	if err := from.View(func(ft sml.Tx) error {
		return to.Update(func(tt sml.Tx) error {
			if err := ft.EachZone(func(z string, st sml.ZoneState) error { return tt.PutZone(z, st) }); err != nil {
				return err
			}
			return ft.EachName("sml.test.", func(h []byte, what string) error {
				hashes = append(hashes, h)
				return tt.PutNameHash("sml.test.", h, what)
			})
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 3 {
		t.Fatalf("%d names listed, want 3", len(hashes))
	}
	for i := 1; i < len(hashes); i++ {
		if bytes.Compare(hashes[i-1], hashes[i]) >= 0 {
			t.Fatalf("names not in hash order")
		}
	}
	_ = to.View(func(tt sml.Tx) error {
		for i, o := range owners {
			if what, ok := tt.Name("sml.test.", o); !ok || what != string(rune('a'+i)) {
				t.Errorf("copied name %s: %q %v", o, what, ok)
			}
		}
		if st, ok, err := tt.Zone("sml.test."); err != nil || !ok || st.Serial != 7 {
			t.Errorf("copied zone: %+v %v %v", st, ok, err)
		}
		return nil
	})
}

func TestContract(t *testing.T) {
	repotest.Run(t, func(t *testing.T) sml.Repo { return New(storetest.Open(t)) })
}

func TestConsoleContract(t *testing.T) {
	repotest.RunConsole(t, func(t *testing.T) sml.ConsoleStore { return NewConsoleStore(storetest.Open(t)) })
}
