package pgrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store/storetest"
)

const testZone = "sml.test."

var (
	ctx   = context.Background()
	alice = sml.Caller{Identity: "CN=alice,O=A,C=BE:1a", Domain: testZone}
)

func testDomains(t testing.TB) []conf.Domain {
	t.Helper()
	c, err := conf.ParseSML("test.yaml", []byte(`
domains:
  - zone: sml.test
    records: [naptr, cname]
`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Domains
}

func pid(v string) identifier.ID { return identifier.ID{Scheme: "iso6523-actorid-upis", Value: v} }

func specs(vals ...string) []sml.ParticipantSpec {
	out := make([]sml.ParticipantSpec, len(vals))
	for i, v := range vals {
		out[i] = sml.ParticipantSpec{ID: pid(v)}
	}
	return out
}

// newService builds the Service on r with a clock that stands still (serials then step by one).
func newService(t testing.TB, r sml.Repo, onChange func(zone.Change)) *sml.Service {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := sml.New(r, testDomains(t), sml.Options{Now: func() time.Time { return now }, OnChange: onChange, JournalSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// transcript runs the SML's use cases on s and writes down what a client and a secondary see.
func transcript(t *testing.T, s *sml.Service) []string {
	var out []string
	note := func(f string, args ...any) { out = append(out, fmt.Sprintf(f, args...)) }
	records := func() {
		var rs []string
		serial, err := s.Records(testZone, func(r zone.Record) error {
			switch r.Type {
			case zone.TypeNAPTR:
				rs = append(rs, fmt.Sprintf("%s NAPTR %q", r.Name, r.NAPTR.Regexp))
			case zone.TypeCNAME:
				rs = append(rs, fmt.Sprintf("%s CNAME %s", r.Name, r.Target))
			default:
				rs = append(rs, fmt.Sprintf("%s %d", r.Name, r.Type))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(rs)
		note("serial %d: %s", serial, strings.Join(rs, ", "))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	records()
	must(s.CreateSMP(ctx, alice, sml.SMP{ID: "SMP-A", LogicalAddress: "http://a.example.org", PhysicalAddress: "192.0.2.7"}))
	must(s.CreateParticipants(ctx, alice, "smp-a", specs("0088:b", "0088:c", "0088:a.b", "0088:a", "9915:x", "0088:1")))
	records()
	err := s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:c", "0088:a"))
	note("duplicate: %v %v", sml.KindOf(err), err)
	ids, next, err := s.ListParticipants(ctx, alice, "SMP-A", "", 2)
	must(err)
	for {
		note("page %v", ids)
		if next == "" {
			break
		}
		ids, next, err = s.ListParticipants(ctx, alice, "SMP-A", next, 2)
		must(err)
	}
	must(s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid("0088:b")}))
	must(s.UpdateSMP(ctx, alice, sml.SMP{ID: "SMP-A", LogicalAddress: "https://new.example.org", PhysicalAddress: "192.0.2.8"}))
	records()
	steps, ok, err := s.Changes(testZone, 0)
	note("changes from 0: %d %v %v", len(steps), ok, err)
	st, err := s.Stats()
	must(err)
	note("stats %+v", st)
	first := st[0].Serial - 2
	steps, ok, err = s.Changes(testZone, first)
	must(err)
	for _, c := range steps {
		note("change %d -> %d: -%d +%d", c.From, c.To, len(c.Deleted), len(c.Added))
	}
	note("changes ok %v", ok)
	removed, err := s.DeleteSMP(ctx, alice, "smp-A")
	must(err)
	note("removed %v", removed)
	records()
	counts, err := s.ParticipantCounts(ctx)
	note("counts %v %v", counts, err)
	return out
}

// The SML's use cases give the same answers and the same zone on PostgreSQL as on bbolt.
func TestServiceOnPostgresAsOnBolt(t *testing.T) {
	want := transcript(t, newService(t, boltrepo.New(storetest.Open(t)), nil))
	var mu sync.Mutex
	var changes []zone.Change
	r := openRepo(t, pgtest.DSN(t))
	got := transcript(t, newService(t, r, func(c zone.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() }))
	if !slices.Equal(got, want) {
		t.Errorf("on PostgreSQL:\n%s\non bbolt:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%s", strings.Join(got, "\n"))
	// A service opened again on the database continues from its state.
	s := newService(t, r, nil)
	before, _ := s.Stats()
	if err := s.CreateSMP(ctx, alice, sml.SMP{ID: "SMP-B", LogicalAddress: "http://b.example.org", PhysicalAddress: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Stats()
	if after[0].Serial != before[0].Serial+1 {
		t.Errorf("serial %d after %d", after[0].Serial, before[0].Serial)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(changes); i++ {
		if changes[i].From != changes[i-1].To {
			t.Errorf("OnChange %d does not follow: %d -> %d after -> %d", i, changes[i].From, changes[i].To, changes[i-1].To)
		}
	}
}

// Writers on two repositories of one database (two nodes) increment a zone's serial and append to its journal as
// the Service does: the write lock makes every increment count and the journal chain, and each commit is
// announced on the change feed, in commit order.
func TestConcurrentNodesAndChangeFeed(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openRepo(t, dsn), openRepo(t, dsn)
	if err := a.Update(func(tx sml.Tx) error { return tx.PutZone(testZone, sml.ZoneState{Serial: 100}) }); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := make(chan uint32, 1000)
	connected := make(chan struct{}, 10)
	go b.Watch(wctx, func(z string, serial uint32) {
		if z == testZone {
			feed <- serial
		}
	}, func() { connected <- struct{}{} })
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the change feed did not connect")
	}
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a
			if w%2 == 1 {
				r = b
			}
			for i := 0; i < each; i++ {
				if err := r.Update(func(tx sml.Tx) error {
					st, _, err := tx.Zone(testZone)
					if err != nil {
						return err
					}
					c := zone.Change{Zone: testZone, From: st.Serial, To: st.Serial + 1}
					if err := tx.PutJournal(testZone, st.NextSeq, c); err != nil {
						return err
					}
					st.NextSeq++
					st.Serial = c.To
					return tx.PutZone(testZone, st)
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	const final = 100 + writers*each
	err := b.View(func(tx sml.Tx) error {
		st, _, err := tx.Zone(testZone)
		if err != nil {
			return err
		}
		if st.Serial != final || st.NextSeq != writers*each {
			t.Errorf("zone state %+v, want serial %d after %d commits", st, final, writers*each)
		}
		for seq := uint64(0); seq < st.NextSeq; seq++ {
			c, ok, err := tx.Journal(testZone, seq)
			if err != nil || !ok || c.From != 100+uint32(seq) || c.To != c.From+1 {
				t.Errorf("journal %d: %+v %v %v", seq, c, ok, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var serials []uint32
	deadline := time.After(10 * time.Second)
	for len(serials) < writers*each {
		select {
		case s := <-feed:
			if want := uint32(101 + len(serials)); s != want {
				t.Fatalf("feed serial %d, want %d", s, want)
			}
			serials = append(serials, s)
		case <-deadline:
			t.Fatalf("the feed announced %d changes, want %d", len(serials), writers*each)
		}
	}
}

// A failed read in a method that has no error result (Name, DomainSettings, the counts) fails the transaction:
// it is never taken for "not found".
func TestReadErrorsFailTheTransaction(t *testing.T) {
	dsn := pgtest.DSN(t)
	r := openRepo(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		table string
		read  func(sml.Tx)
	}{
		{"names", func(tx sml.Tx) { tx.Name(testZone, "x.sml.test.") }},
		{"domains", func(tx sml.Tx) { tx.DomainSettings(testZone) }},
		{"participants", func(tx sml.Tx) { tx.CountOfZone(testZone) }},
		{"participants", func(tx sml.Tx) { tx.CountOfSMP("smp") }},
	}
	for _, c := range cases {
		exec("ALTER TABLE sml." + c.table + " RENAME TO gone")
		for _, run := range []func(func(sml.Tx) error) error{r.Update, r.View} {
			if err := run(func(tx sml.Tx) error { c.read(tx); return nil }); err == nil || !strings.Contains(err.Error(), "gone") && !strings.Contains(err.Error(), c.table) {
				t.Errorf("read of a missing table %s: %v", c.table, err)
			}
		}
		exec("ALTER TABLE sml.gone RENAME TO " + c.table)
		if err := r.Update(func(tx sml.Tx) error { c.read(tx); return nil }); err != nil {
			t.Errorf("read of table %s: %v", c.table, err)
		}
	}
}

// With the database down a write fails with ErrUnavailable, through the Service too; when it is back, writes work
// again without a restart.
func TestDatabaseDown(t *testing.T) {
	c := pgtest.Start(t)
	r := openRepo(t, c.NewDatabase(t))
	s := newService(t, r, nil)
	if err := s.CreateSMP(ctx, alice, sml.SMP{ID: "SMP-A", LogicalAddress: "http://a.example.org", PhysicalAddress: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	err := s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1"))
	if !errors.Is(err, pgstore.ErrUnavailable) || sml.KindOf(err) != sml.KindInternal {
		t.Errorf("write with the database down: %v (kind %v), want ErrUnavailable", err, sml.KindOf(err))
	}
	if err := r.View(func(tx sml.Tx) error { _, _, err := tx.Zone(testZone); return err }); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Errorf("view with the database down: %v", err)
	}
	if err := r.Ping(ctx); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Errorf("ping with the database down: %v", err)
	}
	c.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1"))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
}

// A bulk import (sml import) gives the same zone on PostgreSQL as on bbolt, and importing again changes nothing.
func TestImportOnPostgresAsOnBolt(t *testing.T) {
	var file bytes.Buffer
	if err := sml.WriteGenerated(&file, 3000, 7, "sml.test", "CN=SMP-GEN,O=Example,C=BE:1f"); err != nil {
		t.Fatal(err)
	}
	zoneOf := func(s *sml.Service) (string, sml.ZoneStats) {
		t.Helper()
		for round := 0; round < 2; round++ {
			if err := sml.ReadImport(bytes.NewReader(file.Bytes()), 1000, func(b sml.ImportBatch) error {
				_, err := s.Import(ctx, b)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		if err := s.ExportZone(&out, testZone); err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), st[0]
	}
	wantZone, wantStats := zoneOf(newService(t, boltrepo.New(storetest.Open(t)), nil))
	gotZone, gotStats := zoneOf(newService(t, openRepo(t, pgtest.DSN(t)), nil))
	if gotStats.Participants != 3000 || gotStats != wantStats {
		t.Errorf("stats on PostgreSQL %+v, on bbolt %+v", gotStats, wantStats)
	}
	if gotZone != wantZone {
		t.Errorf("the exported zones differ: %d bytes on PostgreSQL, %d on bbolt", len(gotZone), len(wantZone))
	}
}
