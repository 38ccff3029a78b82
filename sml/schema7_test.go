package sml

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/store"
	"github.com/signpost-project/signpost/store/storetest"
)

// The schema-5 store written by the schema-5 build (testdata/store/schema-5, see its README) is upgraded to schema
// 7, which empties the name index; the SML, started with the very domain settings the store was written with,
// rebuilds it keyed by name hash: every participant and publisher name is found, a participant cannot be registered
// twice, and the zone's serial goes up (its journal was reset, so secondaries transfer the whole zone).
func TestSchema7RebuildsNameIndex(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "testdata", "store", "schema-5", "sml.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sml.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	db := storetest.OpenPath(t, path)
	r := boltRepo(db)
	var serialBefore uint32
	_ = db.View(func(tx *store.Tx) error {
		if n := tx.Count(store.SMLNames, nil); n != 0 {
			t.Errorf("name index holds %d keys after the upgrade, want none", n)
		}
		return nil
	})
	_ = r.View(func(tx Tx) error {
		st, _, err := tx.Zone(testZone)
		serialBefore = st.Serial
		return err
	})
	c, err := conf.ParseSML("test.yaml", []byte("domains:\n  - zone: sml.test\n    records: [naptr, cname]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(boltRepo(db), c.Domains, Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := func() int {
		n := 0
		_ = db.View(func(tx *store.Tx) error { n = tx.Count(store.SMLNames, nil); return nil })
		return n
	}
	if n := names(); n != 6 {
		t.Errorf("rebuilt name index holds %d keys, want 6 (4 participants, 2 publishers)", n)
	}
	_ = r.View(func(tx Tx) error {
		for _, v := range []string{"9915:gen-0", "9915:gen-1", "9915:gen-2", "9915:gen-3"} {
			n := identifier.NAPTRName(pid(v), testZone, identifier.SchemeLabel)
			if what, ok := tx.Name(testZone, n); !ok || what != nameParticipant {
				t.Errorf("name %s of %s: %q %v, want a participant", n, v, what, ok)
			}
		}
		for _, id := range []string{"SMP-GEN-1", "SMP-GEN-2"} {
			if what, ok := tx.Name(testZone, PublisherName(id, testZone)); !ok || what != "s"+id {
				t.Errorf("publisher name of %s: %q %v", id, what, ok)
			}
		}
		st, _, err := tx.Zone(testZone)
		if !serialLess(serialBefore, st.Serial) || st.NextSeq != st.FirstSeq {
			t.Errorf("zone state %+v after the rebuild (serial before %d): want a higher serial and an empty journal", st, serialBefore)
		}
		return err
	})
	owner := Caller{Identity: "CN=Fixture,O=Signpost,C=BE:1", Domain: testZone} // the import wrote the serial as 1
	err = s.CreateParticipants(ctx, owner, "SMP-GEN-1", specs("9915:gen-1"))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindAlreadyExists {
		t.Errorf("second registration of gen-1: %v, want already exists", err)
	}
	if err := s.CreateParticipants(ctx, owner, "SMP-GEN-1", specs("9915:gen-4")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteParticipants(ctx, owner, "SMP-GEN-2", []identifier.ID{pid("9915:gen-1")}); err != nil {
		t.Fatal(err)
	}
	if n := names(); n != 6 {
		t.Errorf("name index holds %d keys after one create and one delete, want 6", n)
	}
}
