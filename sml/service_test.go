package sml

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store"
	"github.com/signpost-project/signpost/store/storetest"
)

const testZone = "sml.test."

// testDomains returns validated, defaulted domains: sml.test. (naptr and cname, PEPPOL) and
// oasis.test. (naptr, full-id, OASIS policy).
func testDomains(t testing.TB) []conf.Domain {
	t.Helper()
	c, err := conf.ParseSML("test.yaml", []byte(`
domains:
  - zone: sml.test
    records: [naptr, cname]
    glue:
      ns1.sml.test: [192.0.2.53]
  - zone: oasis.test
    records: [naptr]
    hashing: full-id
    identifiers: oasis
`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Domains
}

type fixture struct {
	db      *store.DB
	s       *Service
	mu      sync.Mutex
	changes []zone.Change
}

func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	return newFixtureOn(t, storetest.Open(t), o)
}

func newFixtureOn(t testing.TB, db *store.DB, o Options) *fixture {
	t.Helper()
	f := &fixture{db: db}
	user := o.OnChange
	o.OnChange = func(c zone.Change) {
		f.mu.Lock()
		f.changes = append(f.changes, c)
		f.mu.Unlock()
		if user != nil {
			user(c)
		}
	}
	s, err := New(testRepo(t, db), testDomains(t), o)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	return f
}

var (
	ctx    = context.Background()
	alice  = Caller{Identity: "CN=alice,O=A,C=BE:1a", Domain: testZone}
	bob    = Caller{Identity: "CN=bob,O=B,C=BE:2b", Domain: testZone}
	oasisC = Caller{Identity: "CN=carol,O=C,C=BE:3c", Domain: "oasis.test."}
)

func pid(v string) identifier.ID { return identifier.ID{Scheme: "iso6523-actorid-upis", Value: v} }

func specs(vals ...string) []ParticipantSpec {
	out := make([]ParticipantSpec, len(vals))
	for i, v := range vals {
		out[i] = ParticipantSpec{ID: pid(v)}
	}
	return out
}

func mustKind(t *testing.T, err error, want Kind, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v", want)
	}
	if got := KindOf(err); got != want {
		t.Fatalf("kind %v (%v); want %v", got, err, want)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("message %q does not contain %q", err.Error(), contains)
	}
}

func (f *fixture) createSMP(t *testing.T, c Caller, id, logical string) {
	t.Helper()
	if err := f.s.CreateSMP(ctx, c, SMP{ID: id, LogicalAddress: logical, PhysicalAddress: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
}

// zoneRecords returns the zone's records as sorted text lines.
func (f *fixture) zoneRecords(t *testing.T, z string) []string {
	t.Helper()
	var out []string
	if _, err := f.s.Records(z, func(r zone.Record) error {
		out = append(out, recordText(r))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func recordText(r zone.Record) string {
	switch r.Type {
	case zone.TypeNAPTR:
		n := r.NAPTR
		return fmt.Sprintf("%s %d NAPTR %d %d %q %q %q %s", r.Name, r.TTL, n.Order, n.Preference, n.Flags, n.Service, n.Regexp, n.Replacement)
	case zone.TypeCNAME:
		return fmt.Sprintf("%s %d CNAME %s", r.Name, r.TTL, r.Target)
	case zone.TypeA, zone.TypeAAAA:
		return fmt.Sprintf("%s %d A %s", r.Name, r.TTL, r.Addr)
	}
	return fmt.Sprintf("%s %d TYPE%d", r.Name, r.TTL, r.Type)
}

func TestRecordsOfParticipantAndSMP(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: pid("0088:5798000000001")}, {ID: pid("9915:TEST"), Service: "oasis-bdxr-smp-2"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`B-4c7e158a31c6dfa533dcfaf4b80fb205.iso6523-actorid-upis.sml.test. 60 CNAME smp-a.publisher.sml.test.`,
		`B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.sml.test. 60 CNAME smp-a.publisher.sml.test.`,
		`eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a.iso6523-actorid-upis.sml.test. 60 NAPTR 100 10 "U" "oasis-bdxr-smp-2" "!^.*$!http://smp.example.org!" .`,
		`reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.iso6523-actorid-upis.sml.test. 60 NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp.example.org!" .`,
		`smp-a.publisher.sml.test. 60 A 192.0.2.7`,
		`ns1.sml.test. 60 A 192.0.2.53`,
	}
	slices.Sort(want)
	if got := f.zoneRecords(t, testZone); !slices.Equal(got, want) {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The publisher is a CNAME to the logical host when the physical address is empty.
	if err := f.s.CreateSMP(ctx, bob, SMP{ID: "smp_b", LogicalAddress: "https://SMP.B.example.org:8443/x"}); err != nil {
		t.Fatal(err)
	}
	if got := f.zoneRecords(t, testZone); !slices.Contains(got, "smp_b.publisher.sml.test. 60 CNAME smp.b.example.org.") {
		t.Fatalf("no publisher CNAME in %q", got)
	}
	// full-id domain: the hashed full identifier, no CNAME.
	if err := f.s.CreateSMP(ctx, oasisC, SMP{ID: "SMP-C", LogicalAddress: "https://smp.c.example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateParticipants(ctx, oasisC, "SMP-C", []ParticipantSpec{{ID: identifier.ID{Value: "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088:4035811991021"}}}); err != nil {
		t.Fatal(err)
	}
	want = []string{`i3qyb36ctayrfgthbycqzdtojfhgazjeglfooe7727egvdwrk5qq.oasis.test. 60 NAPTR 100 10 "U" "Meta:SMP" "!^.*$!https://smp.c.example.org!" .`}
	if got := f.zoneRecords(t, "oasis.test"); !slices.Equal(got, want) {
		t.Fatalf("oasis records %q, want %q", got, want)
	}
}

func TestSMPRules(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org")
	cases := []struct {
		name     string
		err      error
		kind     Kind
		contains string
	}{
		{"exists", f.s.CreateSMP(ctx, alice, SMP{ID: "SMP-A", LogicalAddress: "http://x.example.org"}), KindAlreadyExists, "already exists"},
		{"exists other case", f.s.CreateSMP(ctx, bob, SMP{ID: "smp-a", LogicalAddress: "http://x.example.org"}), KindAlreadyExists, "already exists"},
		{"bad id", f.s.CreateSMP(ctx, alice, SMP{ID: "SMP.A", LogicalAddress: "http://x.example.org"}), KindBadRequest, "DNS label"},
		{"empty id", f.s.CreateSMP(ctx, alice, SMP{ID: "", LogicalAddress: "http://x.example.org"}), KindBadRequest, "empty"},
		{"long id", f.s.CreateSMP(ctx, alice, SMP{ID: strings.Repeat("a", 64), LogicalAddress: "http://x.example.org"}), KindBadRequest, "63"},
		{"bad url", f.s.CreateSMP(ctx, alice, SMP{ID: "X", LogicalAddress: "ftp://x"}), KindBadRequest, "logical address"},
		{"bang url", f.s.CreateSMP(ctx, alice, SMP{ID: "X", LogicalAddress: "http://x.org/!a"}), KindBadRequest, "logical address"},
		{"bad ip", f.s.CreateSMP(ctx, alice, SMP{ID: "X", LogicalAddress: "http://x.org", PhysicalAddress: "x.org"}), KindBadRequest, "physical address"},
		{"no domain", f.s.CreateSMP(ctx, Caller{Identity: "x", Domain: "other.test."}, SMP{ID: "X", LogicalAddress: "http://x.org"}), KindUnauthorized, ""},
		{"no identity", f.s.CreateSMP(ctx, Caller{Domain: testZone}, SMP{ID: "X", LogicalAddress: "http://x.org"}), KindUnauthorized, ""},
		{"other domain", f.s.CreateSMP(ctx, alice, SMP{ID: "X", LogicalAddress: "http://x.org", Domain: "oasis.test"}), KindUnauthorized, ""},
		{"read missing", func() error { _, err := f.s.ReadSMP(ctx, alice, "NOPE"); return err }(), KindNotFound, "NOPE"},
		{"read other owner", func() error { _, err := f.s.ReadSMP(ctx, bob, "SMP-A"); return err }(), KindUnauthorized, "SMP-A"},
		{"read other domain", func() error {
			_, err := f.s.ReadSMP(ctx, Caller{Identity: alice.Identity, Domain: "oasis.test."}, "SMP-A")
			return err
		}(), KindUnauthorized, "SMP-A"},
		{"update other owner", f.s.UpdateSMP(ctx, bob, SMP{ID: "SMP-A", LogicalAddress: "http://evil.example.org"}), KindUnauthorized, "SMP-A"},
		{"update missing", f.s.UpdateSMP(ctx, alice, SMP{ID: "NOPE", LogicalAddress: "http://x.example.org"}), KindNotFound, ""},
		{"delete other owner", func() error { _, err := f.s.DeleteSMP(ctx, bob, "SMP-A"); return err }(), KindUnauthorized, "SMP-A"},
		{"delete missing", func() error { _, err := f.s.DeleteSMP(ctx, alice, "NOPE"); return err }(), KindNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustKind(t, c.err, c.kind, c.contains)
			if c.kind == KindUnauthorized && strings.Contains(c.err.Error(), "alice") {
				t.Errorf("message names the owner: %q", c.err)
			}
		})
	}
	got, err := f.s.ReadSMP(ctx, alice, "smp-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "SMP-A" || got.Owner != alice.Identity || got.Domain != testZone || got.LogicalAddress != "http://smp.example.org" || got.Created.IsZero() {
		t.Fatalf("read %+v", got)
	}
}

func TestParticipantRules(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org")
	f.createSMP(t, bob, "SMP-B", "http://smp.b.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1")); err != nil {
		t.Fatal(err)
	}
	hundred := make([]ParticipantSpec, 101)
	for i := range hundred {
		hundred[i] = ParticipantSpec{ID: pid(fmt.Sprintf("0088:%d", 1000+i))}
	}
	cases := []struct {
		name     string
		err      error
		kind     Kind
		contains string
	}{
		{"exists", f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1")), KindAlreadyExists, "already exists"},
		{"exists upper case", f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: identifier.ID{Scheme: "ISO6523-ACTORID-UPIS", Value: "0088:1"}}}), KindAlreadyExists, "already exists"},
		{"exists at other smp", f.s.CreateParticipants(ctx, bob, "SMP-B", specs("0088:1")), KindAlreadyExists, "already exists"},
		{"other owner", f.s.CreateParticipants(ctx, bob, "SMP-A", specs("0088:2")), KindUnauthorized, "SMP-A"},
		{"no smp", f.s.CreateParticipants(ctx, alice, "NOPE", specs("0088:2")), KindNotFound, "NOPE"},
		{"bad value", f.s.CreateParticipants(ctx, alice, "SMP-A", specs("88:2")), KindBadRequest, ""},
		{"bad scheme", f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: identifier.ID{Scheme: "other-actorid-upis", Value: "x"}}}), KindBadRequest, "not accepted"},
		{"twice", f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:3", "0088:3")), KindBadRequest, "twice"},
		{"empty batch", f.s.CreateParticipants(ctx, alice, "SMP-A", nil), KindBadRequest, ""},
		{"101", f.s.CreateParticipants(ctx, alice, "SMP-A", hundred), KindBadRequest, "100"},
		{"bad service", f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: pid("0088:4"), Service: "a b"}}), KindBadRequest, "service"},
		{"wildcard refused", f.s.CreateParticipants(ctx, alice, "SMP-A", specs("*")), KindUnauthorized, "wildcard"},
		{"delete missing", f.s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid("0088:9")}), KindNotFound, "0088:9"},
		{"delete of other smp", f.s.DeleteParticipants(ctx, bob, "SMP-B", []identifier.ID{pid("0088:1")}), KindNotFound, ""},
		{"delete other owner", f.s.DeleteParticipants(ctx, bob, "SMP-A", []identifier.ID{pid("0088:1")}), KindUnauthorized, ""},
		{"delete empty", f.s.DeleteParticipants(ctx, alice, "SMP-A", nil), KindBadRequest, ""},
		{"list other owner", func() error { _, _, err := f.s.ListParticipants(ctx, bob, "SMP-A", "", 10); return err }(), KindUnauthorized, ""},
		{"list bad token", func() error { _, _, err := f.s.ListParticipants(ctx, alice, "SMP-A", "!!", 10); return err }(), KindBadRequest, "token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustKind(t, c.err, c.kind, c.contains) })
	}
	// Wildcard with the permission: *.<scheme>.<zone>.
	w := alice
	w.Wildcard = true
	if err := f.s.CreateParticipants(ctx, w, "SMP-A", specs("*")); err != nil {
		t.Fatal(err)
	}
	if got := f.zoneRecords(t, testZone); !slices.Contains(got, `*.iso6523-actorid-upis.sml.test. 60 NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp.example.org!" .`) {
		t.Fatalf("no wildcard NAPTR in %q", got)
	}
	ids, _, err := f.s.ListParticipants(ctx, alice, "SMP-A", "", 10)
	if err != nil || len(ids) != 2 {
		t.Fatalf("list %v %v", ids, err)
	}
	if err := f.s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid("0088:1"), pid("*")}); err != nil {
		t.Fatal(err)
	}
	if got := f.zoneRecords(t, testZone); len(got) != 3 { // the two publisher A records and the glue
		t.Fatalf("records after delete: %q", got)
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org")
	before := f.zoneRecords(t, testZone)
	serial := f.serial(t, testZone)
	ps := make([]ParticipantSpec, MaxBatch)
	for i := range ps {
		ps[i] = ParticipantSpec{ID: pid(fmt.Sprintf("0088:%d", i))}
	}
	ps[73].ID.Value = "0088:bad value"
	mustKind(t, f.s.CreateParticipants(ctx, alice, "SMP-A", ps), KindBadRequest, "")
	if got := f.zoneRecords(t, testZone); !slices.Equal(got, before) {
		t.Fatalf("a refused batch changed the zone: %d records", len(got))
	}
	if got := f.serial(t, testZone); got != serial {
		t.Fatalf("serial moved from %d to %d on a refused batch", serial, got)
	}
	ps[73].ID.Value = "0088:73"
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", ps); err != nil {
		t.Fatal(err)
	}
	// Delete: one unknown among 100 removes nothing.
	ids := make([]identifier.ID, MaxBatch)
	for i := range ids {
		ids[i] = pid(fmt.Sprintf("0088:%d", i))
	}
	ids[99] = pid("0088:unknown")
	mustKind(t, f.s.DeleteParticipants(ctx, alice, "SMP-A", ids), KindNotFound, "0088:unknown")
	got, _, err := f.s.ListParticipants(ctx, alice, "SMP-A", "", 1000)
	if err != nil || len(got) != MaxBatch {
		t.Fatalf("after a refused delete: %d participants, %v", len(got), err)
	}
	st, _ := f.s.Stats()
	if st[0].Participants != MaxBatch {
		t.Fatalf("participant count %d", st[0].Participants)
	}
}

func (f *fixture) serial(t testing.TB, z string) uint32 {
	t.Helper()
	as, err := f.s.Apexes()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.Zone == z {
			return a.SOA.Serial
		}
	}
	t.Fatalf("no zone %s", z)
	return 0
}

func TestAddressUpdateChangesAllNAPTRs(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://old.example.org")
	f.createSMP(t, bob, "SMP-B", "http://b.example.org")
	for i := 0; i < 3; i++ {
		ps := make([]ParticipantSpec, 100)
		for j := range ps {
			ps[j] = ParticipantSpec{ID: pid(fmt.Sprintf("0088:%d-%d", i, j))}
		}
		if err := f.s.CreateParticipants(ctx, alice, "SMP-A", ps); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.CreateParticipants(ctx, bob, "SMP-B", specs("0088:b")); err != nil {
		t.Fatal(err)
	}
	n := len(f.changes)
	if err := f.s.UpdateSMP(ctx, alice, SMP{ID: "SMP-A", LogicalAddress: "https://new.example.org/smp", PhysicalAddress: "192.0.2.8"}); err != nil {
		t.Fatal(err)
	}
	if len(f.changes) != n+1 {
		t.Fatalf("%d changes for one update", len(f.changes)-n)
	}
	c := f.changes[n]
	if len(c.Deleted) != 301 || len(c.Added) != 301 { // 300 NAPTRs and the publisher A record
		t.Fatalf("update change: %d deleted, %d added", len(c.Deleted), len(c.Added))
	}
	old, nu := 0, 0
	for _, line := range f.zoneRecords(t, testZone) {
		if strings.Contains(line, "old.example.org") {
			old++
		}
		if strings.Contains(line, "!https://new.example.org/smp!") {
			nu++
		}
	}
	if old != 0 || nu != 300 {
		t.Fatalf("after update: %d old NAPTRs, %d new", old, nu)
	}
	smp, _ := f.s.ReadSMP(ctx, alice, "SMP-A")
	if smp.LogicalAddress != "https://new.example.org/smp" || !smp.Updated.After(smp.Created) {
		t.Fatalf("SMP after update %+v", smp)
	}
}

func TestDeleteSMPCascades(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	f.createSMP(t, bob, "SMP-B", "http://b.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1", "0088:2", "0088:3")); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateParticipants(ctx, bob, "SMP-B", specs("0088:4")); err != nil {
		t.Fatal(err)
	}
	removed, err := f.s.DeleteSMP(ctx, alice, "SMP-A")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Fatalf("removed %v", removed)
	}
	for _, line := range f.zoneRecords(t, testZone) {
		if strings.Contains(line, "a.example.org") || strings.Contains(line, "smp-a") {
			t.Errorf("record of the deleted SMP left: %s", line)
		}
	}
	if len(f.zoneRecords(t, testZone)) != 4 { // SMP-B's participant (NAPTR+CNAME), publisher, glue
		t.Fatalf("records left: %q", f.zoneRecords(t, testZone))
	}
	// The names are free again: another SMP can take the participants and the ID.
	f.createSMP(t, bob, "SMP-A", "http://a2.example.org")
	if err := f.s.CreateParticipants(ctx, bob, "SMP-A", specs("0088:1")); err != nil {
		t.Fatal(err)
	}
	st, _ := f.s.Stats()
	if st[0].Participants != 2 {
		t.Fatalf("participant count %d, want 2", st[0].Participants)
	}
}

func TestPagingWhileOthersWrite(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	const initial = 1200
	for i := 0; i < initial; i += 100 {
		ps := make([]ParticipantSpec, 100)
		for j := range ps {
			ps[j] = ParticipantSpec{ID: pid(fmt.Sprintf("0088:init-%05d", i+j))}
		}
		if err := f.s.CreateParticipants(ctx, alice, "SMP-A", ps); err != nil {
			t.Fatal(err)
		}
	}
	// Writers add more participants (some sort before, some after the cursor) while we page.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:w%d-%05d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	seen := map[identifier.ID]int{}
	token := ""
	pages := 0
	for {
		ids, next, err := f.s.ListParticipants(ctx, alice, "SMP-A", token, 50)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, id := range ids {
			seen[id]++
		}
		if next == "" {
			break
		}
		token = next
	}
	close(stop)
	wg.Wait()
	for i := 0; i < initial; i++ {
		if n := seen[pid(fmt.Sprintf("0088:init-%05d", i))]; n != 1 {
			t.Fatalf("participant %d seen %d times", i, n)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", id, n)
		}
	}
	t.Logf("%d pages, %d participants seen", pages, len(seen))
}

func TestSerialAndOnChangeOrderUnderConcurrentWriters(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.changes) != 1+8*40 {
		t.Fatalf("%d changes delivered, want %d", len(f.changes), 1+8*40)
	}
	for i := 1; i < len(f.changes); i++ {
		p, c := f.changes[i-1], f.changes[i]
		if c.From != p.To || !serialLess(c.From, c.To) {
			t.Fatalf("change %d: %d->%d after %d->%d", i, c.From, c.To, p.From, p.To)
		}
	}
	if last := f.changes[len(f.changes)-1].To; last != f.serial(t, testZone) {
		t.Fatalf("last delivered serial %d, zone serial %d", last, f.serial(t, testZone))
	}
	// The journal replays the same chain.
	steps, ok, err := f.s.Changes(testZone, f.changes[0].From)
	if err != nil || !ok || len(steps) != len(f.changes) {
		t.Fatalf("Changes: %d steps, ok %v, %v", len(steps), ok, err)
	}
	for i := range steps {
		if !reflect.DeepEqual(steps[i], f.changes[i]) {
			t.Fatalf("journal step %d differs from the delivered change:\n%+v\n%+v", i, steps[i], f.changes[i])
		}
	}
}

func TestJournalTrimming(t *testing.T) {
	f := newFixture(t, Options{JournalSize: 5})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	for i := 0; i < 10; i++ {
		if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	ch := f.changes // 11: create SMP + 10
	cur := f.serial(t, testZone)
	steps, ok, err := f.s.Changes(testZone, ch[6].From)
	if err != nil || !ok || len(steps) != 5 || steps[4].To != cur {
		t.Fatalf("from the oldest kept: %d steps ok=%v err=%v", len(steps), ok, err)
	}
	if _, ok, _ := f.s.Changes(testZone, ch[5].From); ok {
		t.Fatal("Changes reaches behind the journal")
	}
	if steps, ok, _ := f.s.Changes(testZone, cur); !ok || len(steps) != 0 {
		t.Fatalf("from the current serial: %d steps ok=%v", len(steps), ok)
	}
	if _, ok, _ := f.s.Changes(testZone, cur+1000); ok {
		t.Fatal("Changes from a serial the zone never had")
	}
	if _, ok, _ := f.s.Changes(testZone, ch[8].From+0); !ok {
		t.Fatal("Changes from the middle of the journal")
	}
	st, _ := f.s.Stats()
	if st[0].JournalEntries != 5 {
		t.Fatalf("journal holds %d entries", st[0].JournalEntries)
	}
	boltOnly(t, "the journal's bucket")
	if n := countKeys(t, f.db, store.SMLJournal); n != 5 {
		t.Fatalf("journal bucket holds %d keys", n)
	}
}

func countKeys(t *testing.T, db *store.DB, b store.Bucket) int {
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st[b.Name()]
}

func TestSerialNeverGoesBack(t *testing.T) {
	base := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	// The clock stands still: serials must still grow by one per change.
	still := func() time.Time { return base }
	dir := t.TempDir()
	path := filepath.Join(dir, "sml.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, db, Options{Now: still})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	s0 := f.serial(t, testZone)
	if s0 < uint32(base.Unix()) {
		t.Fatalf("serial %d is below the unix time %d", s0, base.Unix())
	}
	boltOnly(t, "restoring a bbolt backup file")
	backup := filepath.Join(dir, "backup.db")
	if err := db.BackupFile(backup); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	latest := f.serial(t, testZone)
	if latest != s0+20 {
		t.Fatalf("serial %d after 20 changes from %d", latest, s0)
	}
	db.Close()

	// Restore the older backup, some time later: the clock puts the serial above anything served before.
	later := func() time.Time { return base.Add(time.Minute) }
	rdb := storetest.OpenPath(t, backup)
	r := newFixtureOn(t, rdb, Options{Now: later})
	if got := r.serial(t, testZone); got != s0 {
		t.Fatalf("restored serial %d, want %d", got, s0)
	}
	if err := r.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:after")); err != nil {
		t.Fatal(err)
	}
	if got := r.serial(t, testZone); !serialLess(latest, got) {
		t.Fatalf("serial after restore %d is not above %d served before the restore", got, latest)
	}
	// With the clock behind the serials served (more than one change a second), the serial a secondary
	// reports is the floor: RaiseSerial puts the zone above it.
	ahead := latest + 5000
	got, err := r.s.RaiseSerial(ctx, testZone, ahead)
	if err != nil || !serialLess(ahead, got) {
		t.Fatalf("RaiseSerial(%d) = %d, %v", ahead, got, err)
	}
	if again, _ := r.s.RaiseSerial(ctx, testZone, ahead); again != got {
		t.Fatalf("a second RaiseSerial moved the serial from %d to %d", got, again)
	}
	steps, ok, err := r.s.Changes(testZone, r.changes[0].From)
	if err != nil || !ok || steps[len(steps)-1].To != got {
		t.Fatalf("journal after raise: %v %v", ok, err)
	}
	// Serial arithmetic across the 2^32 wrap.
	if n := nextSerial(0xFFFFFFFF, base); !serialLess(0xFFFFFFFF, n) {
		t.Fatalf("nextSerial at the wrap gave %d", n)
	}
}

func TestDomainSettingsChangeResetsJournal(t *testing.T) {
	dir := t.TempDir()
	db := storetest.OpenPath(t, filepath.Join(dir, "s.db"))
	f := newFixtureOn(t, db, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1")); err != nil {
		t.Fatal(err)
	}
	s1 := f.serial(t, testZone)
	ds := testDomains(t)
	ds[0].Records = []string{"naptr"}
	s2, err := New(testRepo(t, db), ds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	serial, err := s2.Records(testZone, func(r zone.Record) error { lines = append(lines, recordText(r)); return nil })
	if err != nil || len(lines) != 2 || !strings.Contains(strings.Join(lines, " "), "NAPTR") || strings.Contains(strings.Join(lines, " "), "CNAME") {
		t.Fatalf("records after dropping cname: %q %v", lines, err)
	}
	if !serialLess(s1, serial) {
		t.Fatalf("serial %d not above %d after a settings change", serial, s1)
	}
	if _, ok, _ := s2.Changes(testZone, s1); ok {
		t.Fatal("journal survived a settings change")
	}
}

func TestErrorTaxonomy(t *testing.T) {
	e := &Error{Kind: KindNotFound, Msg: "m", Err: errors.New("cause")}
	wrapped := fmt.Errorf("x: %w", e)
	if KindOf(wrapped) != KindNotFound || KindOf(errors.New("x")) != KindInternal {
		t.Fatal("KindOf")
	}
	if e.Error() != "m" || !errors.Is(wrapped, e.Err) {
		t.Fatal("Error/Unwrap")
	}
	if strings.Contains(MessageOf(errors.New("secret path /x")), "secret") {
		t.Fatal("MessageOf leaks")
	}
	// An internal failure's message does not carry the cause.
	f := newFixture(t, Options{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := f.s.CreateSMP(cctx, alice, SMP{ID: "X", LogicalAddress: "http://x.org"})
	mustKind(t, err, KindInternal, "")
}

// TestCaseVariantsCannotShareADNSName: in a case-sensitive scheme "ABC" and "abc" are different participants
// but hash to the same DNS names; the second is refused.
func TestCaseVariantsCannotShareADNSName(t *testing.T) {
	c, err := conf.ParseSML("t.yaml", []byte("domains:\n  - zone: cs.test\n    records: [naptr, cname]\n    participant_schemes: ^[a-z0-9-]+$\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(testRepo(t, storetest.Open(t)), c.Domains, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl := Caller{Identity: "CN=x:1", Domain: "cs.test."}
	if err := s.CreateSMP(ctx, cl, SMP{ID: "S", LogicalAddress: "http://s.example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateParticipants(ctx, cl, "S", []ParticipantSpec{{ID: identifier.ID{Scheme: "other-actorid-upis", Value: "ABC"}}}); err != nil {
		t.Fatal(err)
	}
	err = s.CreateParticipants(ctx, cl, "S", []ParticipantSpec{{ID: identifier.ID{Scheme: "other-actorid-upis", Value: "abc"}}})
	mustKind(t, err, KindBadRequest, "taken")
	// In one batch, too.
	err = s.CreateParticipants(ctx, cl, "S", []ParticipantSpec{{ID: identifier.ID{Scheme: "other-actorid-upis", Value: "Xy"}}, {ID: identifier.ID{Scheme: "other-actorid-upis", Value: "xY"}}})
	mustKind(t, err, KindBadRequest, "taken")
}

func TestHugeChangeResetsJournal(t *testing.T) {
	defer func(n int) { journalRecordLimit = n }(journalRecordLimit)
	journalRecordLimit = 150
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	ps := make([]ParticipantSpec, 100)
	for i := range ps {
		ps[i] = ParticipantSpec{ID: pid(fmt.Sprintf("0088:%d", i))}
	}
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", ps); err != nil { // 200 records: over the limit
		t.Fatal(err)
	}
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:small")); err != nil {
		t.Fatal(err)
	}
	n := len(f.changes)
	if _, ok, _ := f.s.Changes(testZone, f.changes[n-2].From); ok {
		t.Fatal("the journal holds a change over the record limit")
	}
	steps, ok, err := f.s.Changes(testZone, f.changes[n-1].From)
	if err != nil || !ok || len(steps) != 1 {
		t.Fatalf("the journal lost the change after the reset: %v %v", ok, err)
	}
	if len(f.changes[n-2].Added) != 200 {
		t.Fatal("OnChange did not get the whole big change")
	}
}

// TestConcurrentCreatesOfOneParticipant: of many concurrent registrations of the same participant (shared
// commits, dry-run refusals), exactly one succeeds and the others get "already exists".
func TestConcurrentCreatesOfOneParticipant(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exists := 0, 0
	for round := 0; round < 5; round++ {
		for g := 0; g < 12; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Half register the contested participant, half their own, so commits are shared.
				v := fmt.Sprintf("0088:contested-%d", round)
				if g%2 == 1 {
					v = fmt.Sprintf("0088:own-%d-%d", round, g)
				}
				err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs(v))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && g%2 == 0:
					ok++
				case KindOf(err) == KindAlreadyExists:
					exists++
				case err != nil:
					t.Errorf("%s: %v", v, err)
				}
			}()
		}
		wg.Wait()
	}
	if ok != 5 || exists != 25 {
		t.Fatalf("%d registrations of the contested participants succeeded, %d refused; want 5 and 25", ok, exists)
	}
	st, _ := f.s.Stats()
	if st[0].Participants != 5+30 {
		t.Fatalf("count %d", st[0].Participants)
	}
}

// TestErrorSubjects checks that each refusal names what it is about (the SMP, or the participant as the caller gave
// it) and that a refused batch lists every refused participant in request order, with nothing written.
func TestErrorSubjects(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:1", "0088:2")); err != nil {
		t.Fatal(err)
	}
	subject := func(t *testing.T, err error) *Error {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not an *Error", err)
		}
		return e
	}
	// SMP subjects.
	for _, c := range []struct {
		name string
		err  error
		kind Kind
		smp  string
	}{
		{"exists", f.s.CreateSMP(ctx, alice, SMP{ID: "SMP-A", LogicalAddress: "http://x.example.org"}), KindAlreadyExists, "SMP-A"},
		{"not found", func() error { _, err := f.s.ReadSMP(ctx, alice, "NOPE"); return err }(), KindNotFound, "NOPE"},
		{"other owner", func() error { _, err := f.s.ReadSMP(ctx, bob, "SMP-A"); return err }(), KindUnauthorized, "SMP-A"},
		{"bad id", f.s.CreateSMP(ctx, alice, SMP{ID: "a!b", LogicalAddress: "http://x.example.org"}), KindBadRequest, "a!b"},
		{"bad address", f.s.CreateSMP(ctx, alice, SMP{ID: "SMP-X", LogicalAddress: "ftp://x"}), KindBadRequest, "SMP-X"},
		{"participants of a missing smp", f.s.CreateParticipants(ctx, alice, "NOPE", specs("0088:9")), KindNotFound, "NOPE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := subject(t, c.err)
			if e.Kind != c.kind || e.SMP != c.smp || e.Participant != (identifier.ID{}) || e.Participants != nil {
				t.Fatalf("error %+v; want kind %v about the SMP %q only", e, c.kind, c.smp)
			}
			if strings.Contains(e.Msg, "[ERR-") {
				t.Fatalf("message %q carries a SOAP code", e.Msg)
			}
		})
	}

	// A batch of five with three refusals: every refusal, in order, each about the participant as given.
	upper := identifier.ID{Scheme: "ISO6523-ACTORID-UPIS", Value: "0088:1"}
	err := f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{
		{ID: pid("0088:10")}, {ID: upper}, {ID: pid("88:bad")}, {ID: pid("0088:10")}, {ID: pid("0088:11")},
	})
	e := subject(t, err)
	want := []struct {
		kind Kind
		p    identifier.ID
	}{{KindAlreadyExists, upper}, {KindBadRequest, pid("88:bad")}, {KindBadRequest, pid("0088:10")}}
	if len(e.Participants) != len(want) {
		t.Fatalf("%d refusals %+v; want %d", len(e.Participants), e.Participants, len(want))
	}
	for i, w := range want {
		if got := e.Participants[i]; got.Kind != w.kind || got.Participant != w.p || strings.Contains(got.Msg, "[ERR-") {
			t.Errorf("refusal %d = %+v; want kind %v about %v", i, got, w.kind, w.p)
		}
	}
	if e.Kind != KindAlreadyExists || e.Participant != upper || e.Msg != e.Participants[0].Msg {
		t.Errorf("batch error %+v is not its first refusal", e)
	}
	for _, v := range []string{"0088:10", "0088:11"} {
		if err := f.s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid(v)}); KindOf(err) != KindNotFound {
			t.Errorf("%s was created by a refused batch (delete: %v)", v, err)
		}
	}

	// Delete: two missing of three; the existing one stays.
	err = f.s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid("0088:8"), pid("0088:2"), pid("0088:9")})
	e = subject(t, err)
	if len(e.Participants) != 2 || e.Participants[0].Participant != pid("0088:8") || e.Participants[1].Participant != pid("0088:9") ||
		e.Kind != KindNotFound || e.SMP != "" {
		t.Fatalf("delete batch error %+v, refusals %+v", e, e.Participants)
	}
	if err := f.s.DeleteParticipants(ctx, alice, "SMP-A", []identifier.ID{pid("0088:2")}); err != nil {
		t.Fatalf("0088:2 was removed by a refused batch: %v", err)
	}
}

// TestOnChangePanic: a consumer of changes that panics does not stop the sequence: the write that made the change
// succeeds (it is committed), the panic is counted, and later writes of the zone deliver their changes in order.
func TestOnChangePanic(t *testing.T) {
	var calls atomic.Int32
	var got []zone.Change
	var mu sync.Mutex
	f := newFixture(t, Options{Log: logging.Discard(), OnChange: func(c zone.Change) {
		if calls.Add(1) == 1 {
			panic("test: consumer")
		}
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}})
	before := recovery.Count(EdgeOnChange)
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org") // its change panics in the consumer
	if d := recovery.Count(EdgeOnChange) - before; d != 1 {
		t.Fatalf("counted %v panics, want 1", d)
	}
	done := make(chan error, 1)
	go func() {
		var err error
		for i := range 3 {
			if err == nil {
				err = f.s.CreateParticipants(ctx, alice, "SMP-A", specs(fmt.Sprintf("0088:%d", i)))
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writes after the consumer's panic hang")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d changes delivered after the panic, want 3", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].From != got[i-1].To {
			t.Errorf("changes out of order: %d->%d then %d->%d", got[i-1].From, got[i-1].To, got[i].From, got[i].To)
		}
	}
}
