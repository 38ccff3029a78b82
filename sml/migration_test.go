package sml

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/store"
)

// The rules of DIGEST 1.4 (BDMSL's regex, written out): the boundary cases of each.
func TestMigrationKeyRules(t *testing.T) {
	good := []string{"AB12@#cd", "Ab12@#cdEF34Ab12@#cdEF34", "AB12[]cd", "xY9z8W{}", "AB12|+cd.é"}
	bad := map[string]string{
		"Ab12@#c":                   "7 characters",
		"Ab12@#cdEF34Ab12@#cdEF34a": "25 characters",
		"Ab12@#cd\tEF":              "white space",
		"Ab12@#cd EF":               "white space",
		"Ab12@#cdéf":                "1 upper-case",
		"AB12@#CdEF":                "1 lower-case",
		"AbX2@#cdEF":                "1 digits",
		"Ab12@.cdEF34":              "1 special",
		"Ab12<>cdEF34":              "0 special",
	}
	for _, k := range good {
		if err := checkMigrationKey(k); err != nil {
			t.Errorf("key %q refused: %v", k, err)
		}
	}
	for k, want := range bad {
		mustKind(t, checkMigrationKey(k), KindBadRequest, want)
	}
}

// Migrate moves the participant's records in one zone change (one serial, one journal entry); the key is used
// up (the pending list is empty and the bucket holds nothing); deleting a participant drops its pending key; the
// configured key TTL is used.
func TestMigrateMovesRecordsOnce(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, Options{Now: clock, MigrationKeyTTL: 48 * time.Hour})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	f.createSMP(t, bob, "SMP-B", "https://b.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("9915:m1", "9915:m2")); err != nil {
		t.Fatal(err)
	}
	const key = "Ab12@#cdEF34"
	for _, v := range []string{"9915:m1", "9915:m2"} {
		if err := f.s.PrepareToMigrate(ctx, alice, "SMP-A", pid(v), key); err != nil {
			t.Fatal(err)
		}
	}
	mustKind(t, f.s.PrepareToMigrate(ctx, bob, "SMP-B", pid("9915:m1"), key), KindNotFound, "not registered for the SMP 'SMP-B'")
	pending, err := f.s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].SMPID != "SMP-A" || pending[0].Participant != pid("9915:m1") ||
		!pending[0].Expires.Equal(now.Add(48*time.Hour)) || pending[0].Domain != testZone {
		t.Fatalf("pending = %+v", pending)
	}
	// Only a hash is stored (looked at in bbolt's bucket; the service hands both repositories the same record).
	if err := f.db.View(func(tx *store.Tx) error {
		if onPostgres {
			return nil
		}
		return tx.Scan(store.SMLMigrations, nil, nil, func(k, v []byte) error {
			if strings.Contains(string(v), key) {
				t.Errorf("the key is stored in clear: %s", v)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}

	serial := f.serial(t, testZone)
	f.mu.Lock()
	nChanges := len(f.changes)
	f.mu.Unlock()
	before := f.zoneRecords(t, testZone)
	if err := f.s.Migrate(ctx, bob, "SMP-B", pid("9915:m1"), key); err != nil {
		t.Fatal(err)
	}
	after := f.zoneRecords(t, testZone)
	f.mu.Lock()
	changes := slices.Clone(f.changes[nChanges:])
	f.mu.Unlock()
	if len(changes) != 1 || changes[0].From != serial || changes[0].To != f.serial(t, testZone) ||
		len(changes[0].Deleted) != 2 || len(changes[0].Added) != 2 {
		t.Fatalf("zone changes of the migration: %+v (serial was %d)", changes, serial)
	}
	gone, came := 0, 0
	for _, r := range before {
		if !slices.Contains(after, r) {
			gone++
			if !strings.Contains(r, "a.example.org") && !strings.Contains(r, "smp-a.publisher") {
				t.Errorf("removed record %s is not SMP-A's", r)
			}
		}
	}
	for _, r := range after {
		if !slices.Contains(before, r) {
			came++
			if !strings.Contains(r, "b.example.org") && !strings.Contains(r, "smp-b.publisher") {
				t.Errorf("added record %s is not SMP-B's", r)
			}
		}
	}
	if gone != 2 || came != 2 {
		t.Errorf("%d records removed, %d added; want the NAPTR and the CNAME of the participant", gone, came)
	}
	mustKind(t, f.s.Migrate(ctx, bob, "SMP-B", pid("9915:m1"), key), KindNotFound, "no migration")
	ids, _, err := f.s.ListParticipants(ctx, bob, "SMP-B", "", 10)
	if err != nil || len(ids) != 1 || ids[0] != pid("9915:m1") {
		t.Errorf("SMP-B lists %v, %v", ids, err)
	}

	// m2's key: the participant is deleted, so its key goes with it.
	if err := f.s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid("9915:m2")}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := f.s.Migrations(ctx); len(pending) != 0 {
		t.Errorf("pending after use and delete: %+v", pending)
	}
	if n := countKeys(t, f.db, store.SMLMigrations); n != 0 && !onPostgres {
		t.Errorf("sml.migrations holds %d keys, want 0", n)
	}

	// The configured TTL: 48h.
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("9915:m3")); err != nil {
		t.Fatal(err)
	}
	if err := f.s.PrepareToMigrate(ctx, alice, "SMP-A", pid("9915:m3"), key); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(48 * time.Hour)
	mu.Unlock()
	if pending, _ := f.s.Migrations(ctx); len(pending) != 0 {
		t.Errorf("an expired key is listed as pending: %+v", pending)
	}
	mustKind(t, f.s.Migrate(ctx, bob, "SMP-B", pid("9915:m3"), key), KindNotFound, "expired")
}

// A store written by the schema-2 build (testdata/store/schema-2), upgraded at Open, migrates a participant.
func TestMigrateOnUpgradedSchema2Store(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "testdata", "store", "schema-2", "sml.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sml.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c, err := conf.ParseSML("test.yaml", []byte("domains:\n  - zone: sml.test\n    records: [naptr, cname]\n    glue:\n      ns1.sml.test: [127.0.0.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(boltRepo(db), c.Domains, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gen := Caller{Identity: "CN=SMP-GEN,O=Signpost test,C=BE:1", Domain: testZone}
	if err := s.PrepareToMigrate(ctx, gen, "SMP-GEN-1", pid("9915:gen-0"), "Ab12@#cdEF34"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx, gen, "SMP-GEN-2", pid("9915:gen-0"), "Ab12@#cdEF34"); err != nil {
		t.Fatal(err)
	}
	ids, _, err := s.ListParticipants(ctx, gen, "SMP-GEN-2", "", 10)
	if err != nil || !slices.Contains(ids, pid("9915:gen-0")) || len(ids) != 3 {
		t.Errorf("SMP-GEN-2 lists %v, %v; want gen-0, gen-1, gen-3", ids, err)
	}
}
