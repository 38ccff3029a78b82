package store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/signpost-project/signpost/internal/testproc"
	"github.com/signpost-project/signpost/store"
)

// The schema-1 stores under testdata/store/schema-1 were written by `signpost dev` of commit 252c9ed (see the
// README there). What they hold is listed here literally, so that a migration that loses or changes a record
// fails.

const (
	demo       = "iso6523-actorid-upis::9915:signpost-demo"
	upgraded   = "iso6523-actorid-upis::9915:upgrade-test"
	invoice    = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
	creditNote = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"

	adminTokenSHA256 = "f20da2a56698f624052caec745e70332d843d021058a0082a4938fe33775d4c1"
	aliceTokenSHA256 = "d4390e74282a2a68cc3a41221e0353eddc8335ec7d38f94dec758c704bec6b9d"
)

func unhex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// schema1 is every bucket of each fixture file with its key count, and the keys each non-empty bucket holds.
var schema1 = map[string]struct {
	counts map[string]int
	keys   map[string][]string
}{
	"smp.db": {
		counts: map[string]int{
			"meta":      1,
			"sml.bysmp": 0, "sml.domains": 0, "sml.journal": 0, "sml.names": 0, "sml.participants": 0,
			"sml.smps": 0, "sml.zones": 0,
			"smp.documents": 8, "smp.groups": 2, "smp.metadata": 2, "smp.outbox": 0, "smp.state": 2,
			"smp.tokens": 2, "smp.users": 3,
		},
		keys: map[string][]string{
			"meta":       {"schema-version"},
			"smp.groups": {demo, upgraded},
			"smp.metadata": {
				demo + "\x00" + invoice,
				upgraded + "\x00" + creditNote,
			},
			// flavour byte ('p' PEPPOL SMP 1, '2' OASIS SMP 2.0) + participant NUL document type ("" = the group)
			"smp.documents": {
				"p" + demo + "\x00", "p" + demo + "\x00" + invoice,
				"p" + upgraded + "\x00", "p" + upgraded + "\x00" + creditNote,
				"2" + demo + "\x00", "2" + demo + "\x00" + invoice,
				"2" + upgraded + "\x00", "2" + upgraded + "\x00" + creditNote,
			},
			"smp.state":  {"layout", "signing"},
			"smp.users":  {"admin", "alice", "bob"},
			"smp.tokens": {unhex(adminTokenSHA256), unhex(aliceTokenSHA256)},
		},
	},
	"sml.db": {
		counts: map[string]int{
			"meta":      1,
			"sml.bysmp": 1, "sml.domains": 1, "sml.journal": 2, "sml.names": 2, "sml.participants": 1,
			"sml.smps": 1, "sml.zones": 1,
			"smp.documents": 0, "smp.groups": 0, "smp.metadata": 0, "smp.outbox": 0, "smp.state": 0,
			"smp.tokens": 0, "smp.users": 0,
		},
		keys: map[string][]string{
			"meta":             {"schema-version"},
			"sml.participants": {"sml.test.\x00iso6523-actorid-upis\x009915:signpost-demo"},
			"sml.bysmp":        {"smp-dev\x00sml.test.\x00iso6523-actorid-upis\x009915:signpost-demo"},
			"sml.smps":         {"smp-dev"},
			"sml.domains":      {"sml.test."},
			"sml.zones":        {"sml.test."},
			"sml.names": {
				"cb33kxlkrrzwgtayxkeod2xbul5mq4nv7cowrit2niikyjrjhlaq.iso6523-actorid-upis.sml.test.",
				"smp-dev.publisher.sml.test.",
			},
			"sml.journal": {"sml.test.\x00\x00\x00\x00\x00\x00\x00\x00\x01", "sml.test.\x00\x00\x00\x00\x00\x00\x00\x00\x02"},
		},
	},
}

// dump reads every bucket of the bolt file at path (no store code involved) and its schema version.
func dump(t *testing.T, path string) (buckets map[string]map[string][]byte, version uint64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer b.Close()
	buckets = map[string]map[string][]byte{}
	err = b.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			m := map[string][]byte{}
			buckets[string(name)] = m
			return bk.ForEach(func(k, v []byte) error {
				m[string(k)] = bytes.Clone(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	v := buckets["meta"]["schema-version"]
	if len(v) != 8 {
		t.Fatalf("%s: schema version %x", path, v)
	}
	return buckets, binary.BigEndian.Uint64(v)
}

// copyFixture copies testdata/store/schema-1/name into a new temporary directory and returns the copy's path.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "testdata", "store", "schema-1", name))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(dst, src, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func backups(t *testing.T, path string) []string {
	t.Helper()
	got, err := filepath.Glob(path + ".schema-*.bak")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// emptiedBy7 checks that the step 6 -> 7 left sml.names and sml.domains empty (the SML rebuilds the name index in
// its new form at start, sml/schema7_test.go), then puts their old content into after, so that the callers' checks
// of every other record apply unchanged.
func emptiedBy7(t *testing.T, before, after map[string]map[string][]byte) {
	t.Helper()
	for _, b := range []string{"sml.names", "sml.domains"} {
		if m, ok := after[b]; !ok || len(m) != 0 {
			t.Errorf("%s after the upgrade: %d keys (present %t), want an empty bucket", b, len(m), ok)
		}
		after[b] = before[b]
	}
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// checkSchema1 checks that buckets hold exactly what the fixture file name held when it was made.
func checkSchema1(t *testing.T, name string, buckets map[string]map[string][]byte) {
	t.Helper()
	want := schema1[name]
	for b, n := range want.counts {
		if got := len(buckets[b]); got != n {
			t.Errorf("%s: bucket %s has %d keys, want %d", name, b, got, n)
		}
		if _, ok := buckets[b]; !ok {
			t.Errorf("%s: bucket %s is missing", name, b)
		}
	}
	for b, keys := range want.keys {
		for _, k := range keys {
			if _, ok := buckets[b][k]; !ok {
				t.Errorf("%s: bucket %s has no key %q", name, b, k)
			}
		}
	}
}

// TestUpgradeSchema1Fixtures opens each schema-1 store made by an older signpost and checks the backup beside it,
// the new schema version, the new buckets, and that every record is there unchanged.
func TestUpgradeSchema1Fixtures(t *testing.T) {
	for _, name := range []string{"smp.db", "sml.db"} {
		t.Run(name, func(t *testing.T) {
			path := copyFixture(t, name)
			before, v := dump(t, path)
			if v != 1 {
				t.Fatalf("fixture %s has schema version %d, want 1", name, v)
			}
			checkSchema1(t, name, before) // the fixture itself is what the test says it is

			var logs bytes.Buffer
			db, err := store.Open(path, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("Open of a schema-1 store: %v", err)
			}
			if err := db.Check(); err != nil {
				t.Error(err)
			}
			stats, err := db.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			// The backup: one file beside the store, 0600, that is the schema-1 store record for record.
			bak := backups(t, path)
			if len(bak) != 1 {
				t.Fatalf("backups beside the store: %v, want one", bak)
			}
			if !strings.HasPrefix(filepath.Base(bak[0]), name+".schema-1.") {
				t.Errorf("backup name %s, want %s.schema-1.<time>.bak", bak[0], name)
			}
			if st, err := os.Stat(bak[0]); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("backup %s: mode %v, err %v; want 0600", bak[0], st.Mode().Perm(), err)
			}
			if !strings.Contains(logs.String(), bak[0]) {
				t.Errorf("the log does not name the backup %s:\n%s", bak[0], logs.String())
			}
			backedUp, bv := dump(t, bak[0])
			if bv != 1 {
				t.Errorf("backup has schema version %d, want 1", bv)
			}
			checkSchema1(t, name, backedUp)
			for b, kv := range before {
				for k, v := range kv {
					if !bytes.Equal(backedUp[b][k], v) {
						t.Errorf("backup: %s %q differs from the original", b, k)
					}
				}
			}

			// The store: schema 2, every schema-1 record unchanged, the new buckets, a version per group.
			after, av := dump(t, path)
			if av != store.SchemaVersion {
				t.Errorf("store has schema version %d after Open, want %d", av, store.SchemaVersion)
			}
			emptiedBy7(t, before, after)
			checkSchema1(t, name, after)
			for b, kv := range before {
				for k, v := range kv {
					if b == "meta" && k == "schema-version" {
						continue
					}
					if got, ok := after[b][k]; !ok || !bytes.Equal(got, v) {
						t.Errorf("after the upgrade, %s %q is missing or changed", b, k)
					}
				}
				if len(after[b]) != len(kv) {
					t.Errorf("after the upgrade, %s has %d keys, had %d", b, len(after[b]), len(kv))
				}
			}
			versions, ok := after["smp.versions"]
			if !ok {
				t.Fatal("smp.versions is missing")
			}
			if len(versions) != len(before["smp.groups"]) {
				t.Errorf("smp.versions has %d keys, smp.groups %d", len(versions), len(before["smp.groups"]))
			}
			for g := range before["smp.groups"] {
				if !bytes.Equal(versions[g], be64(1)) {
					t.Errorf("smp.versions[%s] = %x, want version 1", g, versions[g])
				}
			}
			if stats["smp.versions"] != len(versions) {
				t.Errorf("Stats = %v", stats)
			}

			// A second Open finds the current version: no second backup.
			db, err = store.Open(path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			if n := len(backups(t, path)); n != 1 {
				t.Errorf("%d backups after a second Open, want still 1", n)
			}
		})
	}
}

func TestMigrationsLeadToSchemaVersion(t *testing.T) {
	steps := store.Migrations()
	if len(steps) == 0 {
		t.Fatal("no migration steps")
	}
	for i, m := range steps {
		if m.From != uint64(i+1) || m.To != m.From+1 || m.Description == "" {
			t.Errorf("step %d = %+v, want from %d to %d with a description", i, m, i+1, i+2)
		}
	}
	if last := steps[len(steps)-1]; last.To != store.SchemaVersion {
		t.Errorf("the last step leads to schema %d, SchemaVersion is %d", last.To, store.SchemaVersion)
	}
}

func TestNewStoreNeedsNoUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, v := dump(t, path); v != store.SchemaVersion {
		t.Errorf("new store has schema version %d, want %d", v, store.SchemaVersion)
	}
	if b := backups(t, path); len(b) != 0 {
		t.Errorf("a new store was backed up: %v", b)
	}
}

// A failed step rolls back whole: the store stays at schema 1 beside its backup, and the next Open upgrades it.
func TestFailedUpgradeStepResumesAtNextOpen(t *testing.T) {
	path := copyFixture(t, "smp.db")
	before, _ := dump(t, path)
	boom := errors.New("injected failure")
	var steps []uint64
	store.SetUpgradeHook(t, func(from uint64) error {
		steps = append(steps, from)
		return boom
	})
	_, err := store.Open(path, store.Options{})
	if !errors.Is(err, store.ErrUpgrade) || !errors.Is(err, boom) {
		t.Fatalf("Open with a failing step = %v, want ErrUpgrade wrapping the failure", err)
	}
	if !slices.Equal(steps, []uint64{1}) {
		t.Errorf("steps run: %v, want [1]", steps)
	}
	bak := backups(t, path)
	if len(bak) != 1 {
		t.Fatalf("backups after the failed upgrade: %v, want one", bak)
	}
	for _, want := range []string{path, "schema 1 to 2", "rolled back", "tries again", bak[0]} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should contain %q", err, want)
		}
	}
	mid, v := dump(t, path)
	if v != 1 {
		t.Fatalf("after the failed step the store has schema version %d, want 1", v)
	}
	if _, ok := mid["smp.versions"]; ok {
		t.Error("the failed step's smp.versions bucket was committed")
	}
	checkSchema1(t, "smp.db", mid)

	store.SetUpgradeHook(t, nil)
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("Open after a failed upgrade: %v", err)
	}
	db.Close()
	after, v := dump(t, path)
	if v != store.SchemaVersion {
		t.Fatalf("schema version %d after the retry, want %d", v, store.SchemaVersion)
	}
	for g := range before["smp.groups"] {
		if !bytes.Equal(after["smp.versions"][g], be64(1)) {
			t.Errorf("smp.versions[%s] = %x, want 1", g, after["smp.versions"][g])
		}
	}
	checkSchema1(t, "smp.db", after)
	bak = backups(t, path)
	if len(bak) != 2 {
		t.Fatalf("backups after the retry: %v, want two (one per attempt)", bak)
	}
	for _, b := range bak {
		if _, v := dump(t, b); v != 1 {
			t.Errorf("backup %s has schema version %d, want 1", b, v)
		}
	}
}

// TestKilledUpgradeResumesAtNextOpen kills (SIGKILL) a child process inside the upgrade step's transaction, after
// the backup is on disk and before the step commits; the next Open upgrades the store.
func TestKilledUpgradeResumesAtNextOpen(t *testing.T) {
	if path := os.Getenv("SIGNPOST_STORE_UPGRADE_CHILD"); path != "" {
		store.SetUpgradeHook(t, func(from uint64) error {
			fmt.Printf("acked step-%d\n", from)
			time.Sleep(time.Minute) // the parent kills us here; bounded in case it does not
			return errors.New("not killed")
		})
		_, err := store.Open(path, store.Options{})
		fmt.Fprintln(os.Stderr, "child: Open returned", err)
		os.Exit(2)
	}
	path := copyFixture(t, "smp.db")
	acked := testproc.KillAfterAcks(t, "TestKilledUpgradeResumesAtNextOpen", "SIGNPOST_STORE_UPGRADE_CHILD="+path, 1)
	if !slices.Equal(acked, []string{"step-1"}) {
		t.Fatalf("child reported %v", acked)
	}
	if b := backups(t, path); len(b) != 1 {
		t.Fatalf("backups after the kill: %v, want one", b)
	}
	if _, v := dump(t, path); v != 1 {
		t.Fatalf("killed mid-step, the store has schema version %d, want 1", v)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("Open after a killed upgrade: %v", err)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
	db.Close()
	after, v := dump(t, path)
	if v != store.SchemaVersion {
		t.Fatalf("schema version %d, want %d", v, store.SchemaVersion)
	}
	checkSchema1(t, "smp.db", after)
	if len(after["smp.versions"]) != 2 {
		t.Errorf("smp.versions has %d keys, want 2", len(after["smp.versions"]))
	}
}

// A group version already written (by a build that kept versions before its store was upgraded) is kept.
func TestUpgradeKeepsExistingGroupVersions(t *testing.T) {
	path := copyFixture(t, "smp.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("smp.versions"))
		if err != nil {
			return err
		}
		return bk.Put([]byte(upgraded), be64(7))
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	after, _ := dump(t, path)
	if got := after["smp.versions"][upgraded]; !bytes.Equal(got, be64(7)) {
		t.Errorf("existing version of %s = %x, want 7 kept", upgraded, got)
	}
	if got := after["smp.versions"][demo]; !bytes.Equal(got, be64(1)) {
		t.Errorf("version of %s = %x, want 1", demo, got)
	}
}

// A read-only Open cannot upgrade: it refuses, says what to do, and leaves the file and its directory alone.
func TestReadOnlyOpenOfOlderStoreRefused(t *testing.T) {
	path := copyFixture(t, "sml.db")
	sum := func() [32]byte {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		return [32]byte(h.Sum(nil))
	}
	was := sum()
	_, err := store.Open(path, store.Options{ReadOnly: true})
	if !errors.Is(err, store.ErrSchemaVersion) {
		t.Fatalf("read-only Open of a schema-1 store = %v, want ErrSchemaVersion", err)
	}
	for _, want := range []string{path, "schema version 1", "read-write once"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should contain %q", err, want)
		}
	}
	if sum() != was {
		t.Error("a read-only Open changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries after a read-only Open, want only the store", len(entries))
	}
}

// schema2SML is what testdata/store/schema-2/sml.db holds (written by the schema-2 build, see the README there).
var schema2SML = map[string][]string{
	"meta": {"schema-version"},
	"sml.bysmp": {
		"smp-gen-1\x00sml.test.\x00iso6523-actorid-upis\x009915:gen-0", "smp-gen-1\x00sml.test.\x00iso6523-actorid-upis\x009915:gen-2",
		"smp-gen-2\x00sml.test.\x00iso6523-actorid-upis\x009915:gen-1", "smp-gen-2\x00sml.test.\x00iso6523-actorid-upis\x009915:gen-3",
	},
	"sml.domains": {"sml.test."},
	"sml.journal": {},
	"sml.names": {
		"etzn2nlrmkwqysktu5nn57hcn2yd25dthlof7ard4zbgj7ree4ha.iso6523-actorid-upis.sml.test.",
		"hg2x6um5ipytiec4pcslt2hxedwk26ovyulmoja2c4uj3u2us3ga.iso6523-actorid-upis.sml.test.",
		"smp-gen-1.publisher.sml.test.", "smp-gen-2.publisher.sml.test.",
		"uhaovfiusbdojnejfmfqutduwaiot6q7i5kl3n3l3nzh5ewutmlq.iso6523-actorid-upis.sml.test.",
		"y77ix4yswrrp2m62inkecy4uerkbvdorfx3wwebrp4ar3aezxkua.iso6523-actorid-upis.sml.test.",
	},
	"sml.participants": {
		"sml.test.\x00iso6523-actorid-upis\x009915:gen-0", "sml.test.\x00iso6523-actorid-upis\x009915:gen-1",
		"sml.test.\x00iso6523-actorid-upis\x009915:gen-2", "sml.test.\x00iso6523-actorid-upis\x009915:gen-3",
	},
	"sml.smps":      {"smp-gen-1", "smp-gen-2"},
	"sml.zones":     {"sml.test."},
	"smp.documents": {}, "smp.groups": {}, "smp.metadata": {}, "smp.outbox": {}, "smp.state": {}, "smp.tokens": {},
	"smp.users": {}, "smp.versions": {},
}

func checkSchema2SML(t *testing.T, buckets map[string]map[string][]byte) {
	t.Helper()
	for b, keys := range schema2SML {
		got, ok := buckets[b]
		if !ok {
			t.Errorf("bucket %s is missing", b)
			continue
		}
		if len(got) != len(keys) {
			t.Errorf("bucket %s has %d keys, want %d", b, len(got), len(keys))
		}
		for _, k := range keys {
			if _, ok := got[k]; !ok {
				t.Errorf("bucket %s lacks %q", b, k)
			}
		}
	}
}

// Step 2 -> 3 adds an empty sml.migrations to the schema-2 SML store written by the schema-2 build, and changes no
// record; it is the only step run.
func TestUpgradeSchema2AddsMigrations(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "testdata", "store", "schema-2", "sml.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sml.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	before, v := dump(t, path)
	if v != 2 {
		t.Fatalf("fixture has schema %d, want 2", v)
	}
	checkSchema2SML(t, before)
	if _, ok := before["sml.migrations"]; ok {
		t.Fatal("the schema-2 fixture already has sml.migrations")
	}
	var steps []uint64
	store.SetUpgradeHook(t, func(from uint64) error {
		steps = append(steps, from)
		return nil
	})
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("Open of a schema-2 store: %v", err)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
	db.Close()
	if !slices.Equal(steps, []uint64{2, 3, 4, 5, 6}) { // 3 -> 4 adds sml.certchanges, 4 -> 5 smp.registrations, 5 -> 6 console.sessions and sml.users, 6 -> 7 rekeys sml.names
		t.Errorf("steps run: %v, want [2 3 4 5]", steps)
	}
	after, v := dump(t, path)
	if v != store.SchemaVersion {
		t.Errorf("schema version %d after the upgrade, want %d", v, store.SchemaVersion)
	}
	emptiedBy7(t, before, after)
	for _, b := range []string{"sml.migrations", "sml.certchanges", "smp.registrations", "console.sessions", "sml.users"} {
		if m, ok := after[b]; !ok || len(m) != 0 {
			t.Errorf("%s = %v (present %t), want an empty bucket", b, m, ok)
		}
	}
	checkSchema2SML(t, after)
	for bk, kv := range before {
		for k, v := range kv {
			if bk == "meta" && k == "schema-version" {
				continue
			}
			if !bytes.Equal(after[bk][k], v) {
				t.Errorf("%s %q changed by the upgrade", bk, k)
			}
		}
	}
	bak := backups(t, path)
	if len(bak) != 1 || !strings.HasPrefix(filepath.Base(bak[0]), "sml.db.schema-2.") {
		t.Errorf("backups %v, want one sml.db.schema-2.<time>.bak", bak)
	}
}
