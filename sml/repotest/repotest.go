// Package repotest is the contract of the SML's repository (sml.Repo, sml.Tx): Run checks a backend's semantics,
// orders included, so that the service behaves the same on every backend and a store copied between backends lists
// and pages the same. sml/boltrepo and sml/pgrepo run it unchanged.
package repotest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/zone"
)

// Run runs the contract on repositories made by open: each subtest opens its own, empty one.
func Run(t *testing.T, open func(t *testing.T) sml.Repo) {
	tests := []struct {
		name string
		fn   func(*testing.T, sml.Repo)
	}{
		{"SMPs", testSMPs},
		{"ParticipantOrder", testParticipantOrder},
		{"EachOfSMPPaging", testEachOfSMPPaging},
		{"LongListings", testLongListings},
		{"Names", testNames},
		{"ZonesAndSettings", testZones},
		{"Journal", testJournal},
		{"Migrations", testMigrations},
		{"CertChanges", testCertChanges},
		{"ErrStop", testErrStop},
		{"ReadYourWrites", testReadYourWrites},
		{"Rollback", testRollback},
		{"ViewSnapshot", testViewSnapshot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// at is a time with nanoseconds (backends keep them).
func at(sec int64) time.Time { return time.Unix(1700000000+sec, 123456789).UTC() }

func update(t *testing.T, r sml.Repo, fn func(sml.Tx) error) {
	t.Helper()
	if err := r.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, r sml.Repo, fn func(sml.Tx) error) {
	t.Helper()
	if err := r.View(fn); err != nil {
		t.Fatal(err)
	}
}

func testSMPs(t *testing.T, r sml.Repo) {
	smps := []sml.SMP{
		{ID: "b-smp", LogicalAddress: "http://b.example.org", PhysicalAddress: "192.0.2.2", Owner: "CN=b:2", Domain: "a.test.", Created: at(1), Updated: at(2)},
		{ID: "A-SMP", LogicalAddress: "https://a.example.org", PhysicalAddress: "192.0.2.1", Owner: "CN=a:1", Domain: "a.test.", Created: at(3), Updated: at(4), CertNotAfter: at(5)},
		{ID: "Zed", LogicalAddress: "http://z.example.org", Owner: "CN=z:3", Domain: "b.test.", Created: at(6), Updated: at(6)},
		{ID: "c_1", LogicalAddress: "http://c.example.org", Owner: "CN=c:4", Domain: "b.test.", Created: at(7), Updated: at(7)},
	}
	update(t, r, func(tx sml.Tx) error {
		for _, s := range smps {
			if err := tx.PutSMP(s); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, r, func(tx sml.Tx) error {
		// SMP IDs are case-insensitive; the stored one keeps its case.
		for _, id := range []string{"a-smp", "A-SMP", "a-SmP"} {
			s, ok, err := tx.SMP(id)
			if err != nil || !ok || !reflect.DeepEqual(s, smps[1]) {
				t.Errorf("SMP(%q) = %+v %v %v, want %+v", id, s, ok, err, smps[1])
			}
		}
		if _, ok, err := tx.SMP("nope"); ok || err != nil {
			t.Errorf("unknown SMP: %v %v", ok, err)
		}
		var ids []string
		if err := tx.EachSMP(func(s sml.SMP) error { ids = append(ids, s.ID); return nil }); err != nil {
			return err
		}
		// In the order of the lower-cased IDs.
		if want := []string{"A-SMP", "b-smp", "c_1", "Zed"}; !slices.Equal(ids, want) {
			t.Errorf("EachSMP order %q, want %q", ids, want)
		}
		return nil
	})
	// A put under another case replaces the SMP; a delete under another case removes it.
	upd := smps[0]
	upd.ID, upd.LogicalAddress = "B-SMP", "http://b2.example.org"
	update(t, r, func(tx sml.Tx) error {
		if err := tx.PutSMP(upd); err != nil {
			return err
		}
		return tx.DeleteSMP("ZED")
	})
	view(t, r, func(tx sml.Tx) error {
		if s, ok, _ := tx.SMP("b-smp"); !ok || s.ID != "B-SMP" || s.LogicalAddress != "http://b2.example.org" {
			t.Errorf("replaced SMP: %+v %v", s, ok)
		}
		if _, ok, _ := tx.SMP("zed"); ok {
			t.Error("deleted SMP found")
		}
		n := 0
		_ = tx.EachSMP(func(sml.SMP) error { n++; return nil })
		if n != 3 {
			t.Errorf("%d SMPs listed, want 3", n)
		}
		return nil
	})
}

// values are participant values that order differently bytewise than in most collations: upper and lower case,
// digits, punctuation and non-ASCII letters.
var values = []string{"b", "B", "a", "A", "ä", "Ä", "z", "0", "10", "9", "a-b", "a.b", "ab", "é", "ß", "Zürich", "zz", "", "a b", "*"}

func sortByKey(ps []sml.Participant) {
	sort.Slice(ps, func(i, j int) bool {
		return bytes.Compare(sml.ParticipantKey(ps[i].Domain, ps[i].ID), sml.ParticipantKey(ps[j].Domain, ps[j].ID)) < 0
	})
}

func participants(zones, schemes []string, smp func(i int) string) []sml.Participant {
	var out []sml.Participant
	i := 0
	for _, z := range zones {
		for _, s := range schemes {
			for _, v := range values {
				out = append(out, sml.Participant{ID: identifier.ID{Scheme: s, Value: v}, SMPID: smp(i), Service: "Meta:SMP",
					Domain: z, Created: at(int64(i)), Updated: at(int64(i + 1))})
				i++
			}
		}
	}
	return out
}

func putAll(t *testing.T, r sml.Repo, ps []sml.Participant) {
	t.Helper()
	update(t, r, func(tx sml.Tx) error {
		for _, p := range ps {
			if err := tx.PutParticipant(p); err != nil {
				return err
			}
		}
		return nil
	})
}

func keys(ps []sml.Participant) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(sml.ParticipantKey(p.Domain, p.ID))
	}
	return out
}

func testParticipantOrder(t *testing.T, r sml.Repo) {
	// Zones and schemes that are prefixes of each other: the NUL separator sorts before every byte.
	zones := []string{"b.test.", "a.test.", "a.test.x."}
	schemes := []string{"iso6523-actorid-upis", "ISO6523", "iso6523-actorid-upis-x", "iso"}
	all := participants(zones, schemes, func(i int) string { return []string{"smp-1", "SMP-2"}[i%2] })
	// Put in a shuffled (but fixed) order.
	shuffled := slices.Clone(all)
	for i := range shuffled {
		j := (i * 7919) % len(shuffled)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	putAll(t, r, shuffled)
	view(t, r, func(tx sml.Tx) error {
		for _, z := range zones {
			var want []sml.Participant
			for _, p := range all {
				if p.Domain == z {
					want = append(want, p)
				}
			}
			sortByKey(want)
			var got []sml.Participant
			if err := tx.EachParticipant(z, func(p sml.Participant) error { got = append(got, p); return nil }); err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("EachParticipant(%s) order:\n got %q\nwant %q", z, keys(got), keys(want))
			}
			if n := tx.CountOfZone(z); n != len(want) {
				t.Errorf("CountOfZone(%s) = %d, want %d", z, n, len(want))
			}
		}
		if n := tx.CountOfZone("c.test."); n != 0 {
			t.Errorf("CountOfZone of an empty zone = %d", n)
		}
		// Lookups are exact: the value's case matters.
		p, ok, err := tx.Participant("a.test.", identifier.ID{Scheme: "iso", Value: "Ä"})
		if err != nil || !ok || p.ID.Value != "Ä" || p.Domain != "a.test." {
			t.Errorf("Participant Ä: %+v %v %v", p, ok, err)
		}
		if _, ok, _ := tx.Participant("a.test.", identifier.ID{Scheme: "ISO", Value: "Ä"}); ok {
			t.Error("a participant found under a scheme of another case")
		}
		if _, ok, _ := tx.Participant("c.test.", identifier.ID{Scheme: "iso", Value: "a"}); ok {
			t.Error("a participant found in another zone")
		}
		return nil
	})
	// Delete removes from the zone, the SMP's listing and the counts.
	victim := all[3]
	update(t, r, func(tx sml.Tx) error { return tx.DeleteParticipant(victim) })
	view(t, r, func(tx sml.Tx) error {
		if _, ok, _ := tx.Participant(victim.Domain, victim.ID); ok {
			t.Error("deleted participant found")
		}
		found := false
		_ = tx.EachOfSMP(victim.SMPID, "", func(p sml.Participant, _ string) error {
			found = found || p.ID == victim.ID && p.Domain == victim.Domain
			return nil
		})
		if found {
			t.Error("deleted participant listed for its SMP")
		}
		return nil
	})
}

func testEachOfSMPPaging(t *testing.T, r sml.Repo) {
	zones := []string{"b.test.", "a.test."}
	schemes := []string{"iso6523-actorid-upis", "ISO6523"}
	// The SMP's ID is given in several cases: its listing is case-insensitive.
	all := participants(zones, schemes, func(i int) string { return []string{"Smp-1", "smp-1", "SMP-1", "other"}[i%4] })
	putAll(t, r, all)
	var want []sml.Participant
	for _, p := range all {
		if strings.EqualFold(p.SMPID, "smp-1") {
			want = append(want, p)
		}
	}
	sortByKey(want)
	view(t, r, func(tx sml.Tx) error {
		var got []sml.Participant
		if err := tx.EachOfSMP("sMp-1", "", func(p sml.Participant, cursor string) error {
			if cursor != string(sml.ParticipantKey(p.Domain, p.ID)) {
				t.Errorf("cursor %q of %v", cursor, p.ID)
			}
			got = append(got, p)
			return nil
		}); err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EachOfSMP order:\n got %q\nwant %q", keys(got), keys(want))
		}
		if n := tx.CountOfSMP("SMP-1"); n != len(want) {
			t.Errorf("CountOfSMP = %d, want %d", n, len(want))
		}
		if n := tx.CountOfSMP("none"); n != 0 {
			t.Errorf("CountOfSMP of an SMP without participants = %d", n)
		}
		return nil
	})
	// Pages of 7, each in its own transaction, continue after the cursor: together they are the listing.
	for _, size := range []int{1, 7, 100} {
		var got []sml.Participant
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("paging by %d does not end", size)
			}
			var page []sml.Participant
			next := ""
			view(t, r, func(tx sml.Tx) error {
				return tx.EachOfSMP("smp-1", cursor, func(p sml.Participant, c string) error {
					if len(page) == size {
						next = cursor
						return sml.ErrStop
					}
					page = append(page, p)
					cursor = c
					return nil
				})
			})
			got = append(got, page...)
			if next == "" {
				break
			}
		}
		if !reflect.DeepEqual(keys(got), keys(want)) {
			t.Errorf("pages of %d:\n got %q\nwant %q", size, keys(got), keys(want))
		}
	}
	// A cursor of a participant that is gone still pages on from where it sorted.
	mid := want[len(want)/2]
	update(t, r, func(tx sml.Tx) error { return tx.DeleteParticipant(mid) })
	view(t, r, func(tx sml.Tx) error {
		var got []string
		err := tx.EachOfSMP("smp-1", string(sml.ParticipantKey(mid.Domain, mid.ID)), func(p sml.Participant, c string) error {
			got = append(got, c)
			return nil
		})
		if w := keys(want[len(want)/2+1:]); !slices.Equal(got, w) {
			t.Errorf("after a deleted cursor:\n got %q\nwant %q", got, w)
		}
		// A cursor that is a zone's prefix key lists that zone's participants and those after.
		var fromB []string
		_ = tx.EachOfSMP("smp-1", "b.test.\x00", func(p sml.Participant, c string) error {
			fromB = append(fromB, c)
			return nil
		})
		for _, k := range fromB {
			if !strings.HasPrefix(k, "b.test.\x00") {
				t.Errorf("after cursor b.test.: %q", k)
			}
		}
		if len(fromB) == 0 {
			t.Error("nothing listed after the cursor of zone b.test.")
		}
		return err
	})
}

// testLongListings lists more rows than a backend may fetch at once, and reads and writes from the callback.
func testLongListings(t *testing.T, r sml.Repo) {
	const n = 2500
	var all []sml.Participant
	update(t, r, func(tx sml.Tx) error {
		for i := 0; i < n; i++ {
			p := sml.Participant{ID: identifier.ID{Scheme: "s", Value: fmt.Sprintf("v%05d", (i*7)%n)}, SMPID: "smp",
				Service: "Meta:SMP", Domain: "a.test.", Created: at(0), Updated: at(0)}
			all = append(all, p)
			if err := tx.PutParticipant(p); err != nil {
				return err
			}
			if err := tx.PutName("a.test.", p.ID.Value+".a.test.", "p"); err != nil {
				return err
			}
		}
		return nil
	})
	sortByKey(all)
	update(t, r, func(tx sml.Tx) error {
		i := 0
		err := tx.EachParticipant("a.test.", func(p sml.Participant) error {
			if i >= len(all) || p.ID != all[i].ID {
				return fmt.Errorf("participant %d is %v", i, p.ID)
			}
			i++
			// The callback may read and write.
			if what, ok := tx.Name("a.test.", p.ID.Value+".a.test."); !ok || what != "p" {
				return fmt.Errorf("name of %v: %q %v", p.ID, what, ok)
			}
			if i%2 == 0 {
				return tx.DeleteName("a.test.", p.ID.Value+".a.test.")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if i != n {
			t.Errorf("%d participants listed, want %d", i, n)
		}
		return nil
	})
	view(t, r, func(tx sml.Tx) error {
		names := 0
		if err := tx.EachName("a.test.", func([]byte, string) error { names++; return nil }); err != nil {
			return err
		}
		if names != n/2 {
			t.Errorf("%d names left, want %d", names, n/2)
		}
		cursor, listed := "", 0
		for {
			got := 0
			if err := tx.EachOfSMP("smp", cursor, func(p sml.Participant, c string) error {
				if got == 999 {
					return sml.ErrStop
				}
				if p.ID != all[listed].ID {
					return fmt.Errorf("page entry %d is %v, want %v", listed, p.ID, all[listed].ID)
				}
				got++
				listed++
				cursor = c
				return nil
			}); err != nil {
				return err
			}
			if got < 999 {
				break
			}
		}
		if listed != n {
			t.Errorf("paged %d participants, want %d", listed, n)
		}
		return nil
	})
}

func testNames(t *testing.T, r sml.Repo) {
	update(t, r, func(tx sml.Tx) error {
		if err := tx.PutName("a.test.", "B-abc.iso6523-actorid-upis.a.test.", "p"); err != nil {
			return err
		}
		if err := tx.PutName("a.test.", "smp-1.publisher.a.test.", "sSMP-1"); err != nil {
			return err
		}
		if err := tx.PutName("b.test.", "B-abc.iso6523-actorid-upis.a.test.", "sX"); err != nil {
			return err
		}
		// Two owners differing in case are one name: the last what wins.
		return tx.PutNames("b.test.", []string{"x1.b.test.", "y1.b.test.", "X1.B.TEST.", "Ünï.b.test."}, "p")
	})
	view(t, r, func(tx sml.Tx) error {
		for _, c := range []struct{ zone, owner, what string }{
			{"a.test.", "b-abc.iso6523-actorid-upis.a.test.", "p"}, // names are case-insensitive
			{"a.test.", "SMP-1.PUBLISHER.a.test.", "sSMP-1"},
			{"b.test.", "B-abc.iso6523-actorid-upis.a.test.", "sX"}, // each zone has its index
			{"b.test.", "x1.b.test.", "p"},
			{"b.test.", "ünï.b.test.", "p"},
		} {
			if what, ok := tx.Name(c.zone, c.owner); !ok || what != c.what {
				t.Errorf("Name(%s, %s) = %q %v, want %q", c.zone, c.owner, what, ok, c.what)
			}
		}
		if _, ok := tx.Name("a.test.", "x1.b.test."); ok {
			t.Error("a name of zone b.test. found in a.test.")
		}
		var hashes [][]byte
		if err := tx.EachName("b.test.", func(h []byte, what string) error {
			hashes = append(hashes, h)
			return nil
		}); err != nil {
			return err
		}
		want := [][]byte{sml.NameHash("B-abc.iso6523-actorid-upis.a.test."), sml.NameHash("x1.b.test."),
			sml.NameHash("y1.b.test."), sml.NameHash("ünï.b.test.")}
		slices.SortFunc(want, bytes.Compare)
		if !reflect.DeepEqual(hashes, want) {
			t.Errorf("EachName hashes %x, want %x", hashes, want)
		}
		return nil
	})
	update(t, r, func(tx sml.Tx) error {
		if err := tx.DeleteName("a.test.", "SMP-1.publisher.A.TEST."); err != nil {
			return err
		}
		if err := tx.PutNameHash("a.test.", sml.NameHash("copied.a.test."), "p"); err != nil {
			return err
		}
		return tx.DeleteNames("b.test.")
	})
	view(t, r, func(tx sml.Tx) error {
		if _, ok := tx.Name("a.test.", "smp-1.publisher.a.test."); ok {
			t.Error("deleted name found")
		}
		if what, ok := tx.Name("a.test.", "Copied.a.test."); !ok || what != "p" {
			t.Errorf("name put by hash: %q %v", what, ok)
		}
		if _, ok := tx.Name("a.test.", "b-abc.iso6523-actorid-upis.a.test."); !ok {
			t.Error("DeleteNames of b.test. removed a name of a.test.")
		}
		n := 0
		_ = tx.EachName("b.test.", func([]byte, string) error { n++; return nil })
		if n != 0 {
			t.Errorf("%d names left in b.test. after DeleteNames", n)
		}
		return nil
	})
	if err := r.Update(func(tx sml.Tx) error { return tx.PutNameHash("a.test.", []byte("short"), "p") }); err == nil {
		t.Error("PutNameHash took a hash of 5 bytes")
	}
}

func testZones(t *testing.T, r sml.Repo) {
	a := sml.ZoneState{Serial: 4294967295, FirstSeq: 3, NextSeq: 1 << 40, Participants: 12345678, Settings: "v1 naptr cname"}
	b := sml.ZoneState{Serial: 1, NextSeq: 1}
	view(t, r, func(tx sml.Tx) error {
		if _, ok, err := tx.Zone("a.test."); ok || err != nil {
			t.Errorf("zone of an empty store: %v %v", ok, err)
		}
		if _, ok := tx.DomainSettings("a.test."); ok {
			t.Error("domain settings of an empty store")
		}
		return nil
	})
	update(t, r, func(tx sml.Tx) error {
		if err := tx.PutZone("b.test.", b); err != nil {
			return err
		}
		if err := tx.PutZone("a.test.", sml.ZoneState{Serial: 9}); err != nil {
			return err
		}
		if err := tx.PutZone("a.test.", a); err != nil {
			return err
		}
		if err := tx.PutZone("B.test.", b); err != nil {
			return err
		}
		if err := tx.PutDomainSettings("a.test.", "old"); err != nil {
			return err
		}
		return tx.PutDomainSettings("a.test.", "new {\"json\": true}")
	})
	view(t, r, func(tx sml.Tx) error {
		if z, ok, err := tx.Zone("a.test."); err != nil || !ok || z != a {
			t.Errorf("Zone = %+v %v %v, want %+v", z, ok, err, a)
		}
		var names []string
		if err := tx.EachZone(func(n string, z sml.ZoneState) error {
			names = append(names, n)
			if n == "b.test." && z != b {
				t.Errorf("EachZone b.test. = %+v", z)
			}
			return nil
		}); err != nil {
			return err
		}
		if want := []string{"B.test.", "a.test.", "b.test."}; !slices.Equal(names, want) {
			t.Errorf("EachZone order %q, want %q", names, want)
		}
		if s, ok := tx.DomainSettings("a.test."); !ok || s != "new {\"json\": true}" {
			t.Errorf("DomainSettings = %q %v", s, ok)
		}
		return nil
	})
}

func testJournal(t *testing.T, r sml.Repo) {
	change := func(from, to uint32) zone.Change {
		return zone.Change{Zone: "a.test.", From: from, To: to,
			Deleted: []zone.Record{{Name: "b-1.iso6523-actorid-upis.a.test.", Type: zone.TypeNAPTR, TTL: 60,
				NAPTR: &zone.NAPTR{Order: 100, Preference: 10, Flags: "U", Service: "Meta:SMP", Regexp: "!^.*$!http://x!", Replacement: "."}}},
			Added: []zone.Record{{Name: "ns1.a.test.", Type: zone.TypeA, TTL: 3600, Addr: netip.MustParseAddr("192.0.2.53")},
				{Name: "b-2.a.test.", Type: zone.TypeCNAME, TTL: 60, Target: "smp.publisher.a.test."}}}
	}
	update(t, r, func(tx sml.Tx) error {
		for seq := uint64(0); seq < 5; seq++ {
			if err := tx.PutJournal("a.test.", seq, change(uint32(seq), uint32(seq+1))); err != nil {
				return err
			}
		}
		return tx.PutJournal("b.test.", 0, zone.Change{Zone: "b.test.", From: 1, To: 2})
	})
	update(t, r, func(tx sml.Tx) error { return tx.DeleteJournal("a.test.", 0) })
	view(t, r, func(tx sml.Tx) error {
		if _, ok, err := tx.Journal("a.test.", 0); ok || err != nil {
			t.Errorf("deleted entry: %v %v", ok, err)
		}
		c, ok, err := tx.Journal("a.test.", 3)
		if err != nil || !ok || !reflect.DeepEqual(c, change(3, 4)) {
			t.Errorf("Journal 3 = %+v %v %v", c, ok, err)
		}
		return nil
	})
	update(t, r, func(tx sml.Tx) error { return tx.DeleteJournals("a.test.") })
	view(t, r, func(tx sml.Tx) error {
		for seq := uint64(0); seq < 5; seq++ {
			if _, ok, _ := tx.Journal("a.test.", seq); ok {
				t.Errorf("entry %d after DeleteJournals", seq)
			}
		}
		if c, ok, _ := tx.Journal("b.test.", 0); !ok || c.To != 2 {
			t.Error("DeleteJournals of a.test. removed b.test.'s journal")
		}
		return nil
	})
}

func testMigrations(t *testing.T, r sml.Repo) {
	type entry struct {
		zone string
		id   identifier.ID
		m    sml.MigrationRecord
	}
	entries := []entry{
		{"b.test.", identifier.ID{Scheme: "s", Value: "a"}, sml.MigrationRecord{SMPID: "smp-1", Hash: []byte{1, 2, 3}, Prepared: 10, Expires: 20}},
		{"a.test.", identifier.ID{Scheme: "s", Value: "b"}, sml.MigrationRecord{SMPID: "smp-2", Hash: []byte{4}, Prepared: 11, Expires: 21}},
		{"a.test.", identifier.ID{Scheme: "s", Value: "B"}, sml.MigrationRecord{SMPID: "smp-3", Hash: []byte{5}, Prepared: 12, Expires: 22}},
		{"a.test.", identifier.ID{Scheme: "S", Value: "z"}, sml.MigrationRecord{SMPID: "smp-4", Hash: []byte{6}, Prepared: 13, Expires: 23}},
	}
	update(t, r, func(tx sml.Tx) error {
		for _, e := range entries {
			if err := tx.PutMigration(e.zone, e.id, e.m); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, r, func(tx sml.Tx) error {
		m, ok, err := tx.Migration("a.test.", identifier.ID{Scheme: "s", Value: "B"})
		if err != nil || !ok || !reflect.DeepEqual(m, entries[2].m) {
			t.Errorf("Migration = %+v %v %v", m, ok, err)
		}
		if _, ok, _ := tx.Migration("b.test.", identifier.ID{Scheme: "s", Value: "b"}); ok {
			t.Error("a migration found in another zone")
		}
		var got []entry
		if err := tx.EachMigration(func(z string, id identifier.ID, m sml.MigrationRecord) error {
			got = append(got, entry{z, id, m})
			return nil
		}); err != nil {
			return err
		}
		want := []entry{entries[3], entries[2], entries[1], entries[0]}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EachMigration:\n got %+v\nwant %+v", got, want)
		}
		return nil
	})
	update(t, r, func(tx sml.Tx) error { return tx.DeleteMigration("a.test.", identifier.ID{Scheme: "s", Value: "b"}) })
	view(t, r, func(tx sml.Tx) error {
		if _, ok, _ := tx.Migration("a.test.", identifier.ID{Scheme: "s", Value: "b"}); ok {
			t.Error("deleted migration found")
		}
		if _, ok, _ := tx.Migration("a.test.", identifier.ID{Scheme: "s", Value: "B"}); !ok {
			t.Error("DeleteMigration of value b removed value B")
		}
		return nil
	})
}

func testCertChanges(t *testing.T, r sml.Repo) {
	cs := []sml.CertChange{
		{Old: "CN=old b:1", New: "CN=new b:2", Domain: "a.test.", At: at(100), Created: at(1)},
		{Old: "CN=Old a:1", New: "CN=new a:2", Domain: "b.test.", At: at(200), Created: at(2)},
		{Old: "CN=ä:1", New: "CN=ä:2", Domain: "a.test.", At: at(300), Created: at(3)},
	}
	update(t, r, func(tx sml.Tx) error {
		for _, c := range cs {
			if err := tx.PutCertChange(c); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, r, func(tx sml.Tx) error {
		if c, ok, err := tx.CertChange("CN=Old a:1"); err != nil || !ok || !reflect.DeepEqual(c, cs[1]) {
			t.Errorf("CertChange = %+v %v %v", c, ok, err)
		}
		if _, ok, _ := tx.CertChange("CN=old a:1"); ok {
			t.Error("certificate identities are exact, a change was found under another case")
		}
		var olds []string
		if err := tx.EachCertChange(func(c sml.CertChange) error { olds = append(olds, c.Old); return nil }); err != nil {
			return err
		}
		if want := []string{"CN=Old a:1", "CN=old b:1", "CN=ä:1"}; !slices.Equal(olds, want) {
			t.Errorf("EachCertChange order %q, want %q", olds, want)
		}
		return nil
	})
}

func testErrStop(t *testing.T, r sml.Repo) {
	update(t, r, func(tx sml.Tx) error {
		for _, id := range []string{"s1", "s2", "s3"} {
			if err := tx.PutSMP(sml.SMP{ID: id, Created: at(0), Updated: at(0)}); err != nil {
				return err
			}
			p := sml.Participant{ID: identifier.ID{Scheme: "s", Value: id}, SMPID: "s1", Domain: "a.test.", Created: at(0), Updated: at(0)}
			if err := tx.PutParticipant(p); err != nil {
				return err
			}
			if err := tx.PutName("a.test.", id, "p"); err != nil {
				return err
			}
			if err := tx.PutZone(id+".test.", sml.ZoneState{Serial: 1}); err != nil {
				return err
			}
			if err := tx.PutMigration("a.test.", p.ID, sml.MigrationRecord{SMPID: "s1", Hash: []byte{1}}); err != nil {
				return err
			}
			if err := tx.PutCertChange(sml.CertChange{Old: id, New: id + "'", At: at(0), Created: at(0)}); err != nil {
				return err
			}
		}
		return nil
	})
	listings := map[string]func(tx sml.Tx, fn func() error) error{
		"EachSMP": func(tx sml.Tx, fn func() error) error { return tx.EachSMP(func(sml.SMP) error { return fn() }) },
		"EachParticipant": func(tx sml.Tx, fn func() error) error {
			return tx.EachParticipant("a.test.", func(sml.Participant) error { return fn() })
		},
		"EachOfSMP": func(tx sml.Tx, fn func() error) error {
			return tx.EachOfSMP("S1", "", func(sml.Participant, string) error { return fn() })
		},
		"EachName": func(tx sml.Tx, fn func() error) error {
			return tx.EachName("a.test.", func([]byte, string) error { return fn() })
		},
		"EachZone": func(tx sml.Tx, fn func() error) error {
			return tx.EachZone(func(string, sml.ZoneState) error { return fn() })
		},
		"EachMigration": func(tx sml.Tx, fn func() error) error {
			return tx.EachMigration(func(string, identifier.ID, sml.MigrationRecord) error { return fn() })
		},
		"EachCertChange": func(tx sml.Tx, fn func() error) error {
			return tx.EachCertChange(func(sml.CertChange) error { return fn() })
		},
	}
	mine := errors.New("mine")
	for name, each := range listings {
		view(t, r, func(tx sml.Tx) error {
			n := 0
			if err := each(tx, func() error { n++; return nil }); err != nil || n != 3 {
				t.Errorf("%s: %d entries, %v; want 3", name, n, err)
			}
			n = 0
			if err := each(tx, func() error { n++; return sml.ErrStop }); err != nil || n != 1 {
				t.Errorf("%s with ErrStop: %d calls, %v; want 1 call and no error", name, n, err)
			}
			n = 0
			if err := each(tx, func() error { n++; return fmt.Errorf("wrapped: %w", mine) }); !errors.Is(err, mine) || n != 1 {
				t.Errorf("%s with an error: %d calls, %v; want 1 call and the error", name, n, err)
			}
			// The transaction is usable after a listing that was ended early.
			if _, ok, err := tx.SMP("s2"); !ok || err != nil {
				t.Errorf("after %s: SMP %v %v", name, ok, err)
			}
			return nil
		})
	}
}

func testReadYourWrites(t *testing.T, r sml.Repo) {
	p := sml.Participant{ID: identifier.ID{Scheme: "s", Value: "v"}, SMPID: "smp", Service: "Meta:SMP", Domain: "a.test.", Created: at(1), Updated: at(1)}
	update(t, r, func(tx sml.Tx) error {
		if err := tx.PutParticipant(p); err != nil {
			return err
		}
		if got, ok, err := tx.Participant(p.Domain, p.ID); err != nil || !ok || !reflect.DeepEqual(got, p) {
			t.Errorf("a participant put in this transaction: %+v %v %v", got, ok, err)
		}
		if n := tx.CountOfSMP("SMP"); n != 1 {
			t.Errorf("CountOfSMP in the transaction = %d", n)
		}
		if err := tx.PutName("a.test.", "v.a.test.", "p"); err != nil {
			return err
		}
		if _, ok := tx.Name("a.test.", "V.a.test."); !ok {
			t.Error("a name put in this transaction is not found")
		}
		if err := tx.PutZone("a.test.", sml.ZoneState{Serial: 5, NextSeq: 1}); err != nil {
			return err
		}
		if z, ok, _ := tx.Zone("a.test."); !ok || z.Serial != 5 {
			t.Errorf("zone put in this transaction: %+v %v", z, ok)
		}
		if err := tx.DeleteParticipant(p); err != nil {
			return err
		}
		if _, ok, _ := tx.Participant(p.Domain, p.ID); ok {
			t.Error("a participant deleted in this transaction is found")
		}
		n := 0
		_ = tx.EachParticipant("a.test.", func(sml.Participant) error { n++; return nil })
		if n != 0 {
			t.Errorf("%d participants listed after the delete", n)
		}
		return tx.PutParticipant(p)
	})
	view(t, r, func(tx sml.Tx) error {
		if _, ok, _ := tx.Participant(p.Domain, p.ID); !ok {
			t.Error("participant put again not committed")
		}
		return nil
	})
	// Writes without reads between them apply in order: the last put of a row wins, a delete between puts counts.
	q := p
	q.ID.Value = "w"
	update(t, r, func(tx sml.Tx) error {
		for i, svc := range []string{"one", "two", "three"} {
			q.Service = svc
			if err := tx.PutParticipant(q); err != nil {
				return err
			}
			if err := tx.PutName("a.test.", "w.a.test.", svc); err != nil {
				return err
			}
			if i == 0 {
				if err := tx.DeleteParticipant(q); err != nil {
					return err
				}
				if err := tx.DeleteName("a.test.", "w.a.test."); err != nil {
					return err
				}
			}
		}
		p2 := p
		p2.ID.Value = "gone"
		if err := tx.PutParticipant(p2); err != nil {
			return err
		}
		return tx.DeleteParticipant(p2)
	})
	view(t, r, func(tx sml.Tx) error {
		if got, ok, _ := tx.Participant(q.Domain, q.ID); !ok || got.Service != "three" {
			t.Errorf("after three puts: %+v %v, want service three", got, ok)
		}
		if what, ok := tx.Name("a.test.", "w.a.test."); !ok || what != "three" {
			t.Errorf("after three puts: name %q %v, want three", what, ok)
		}
		if _, ok, _ := tx.Participant(p.Domain, identifier.ID{Scheme: "s", Value: "gone"}); ok {
			t.Error("a participant put and deleted is found")
		}
		return nil
	})
}

func testRollback(t *testing.T, r sml.Repo) {
	update(t, r, func(tx sml.Tx) error { return tx.PutZone("a.test.", sml.ZoneState{Serial: 1, NextSeq: 1}) })
	failed := errors.New("use case refused")
	update(t, r, func(tx sml.Tx) error {
		if err := tx.PutZone("a.test.", sml.ZoneState{Serial: 2, NextSeq: 2}); err != nil {
			return err
		}
		if err := tx.PutJournal("a.test.", 1, zone.Change{Zone: "a.test.", From: 1, To: 2}); err != nil {
			return err
		}
		if err := tx.PutSMP(sml.SMP{ID: "smp", Created: at(0), Updated: at(0)}); err != nil {
			return err
		}
		if _, ok, err := tx.SMP("smp"); !ok || err != nil { // sent to the database before the failure
			return fmt.Errorf("SMP in the transaction: %v %v", ok, err)
		}
		return tx.PutName("a.test.", "x.a.test.", "p")
	})
	if err := r.Update(func(tx sml.Tx) error {
		if err := tx.PutZone("a.test.", sml.ZoneState{Serial: 3, NextSeq: 3}); err != nil {
			return err
		}
		if err := tx.PutSMP(sml.SMP{ID: "other", Created: at(0), Updated: at(0)}); err != nil {
			return err
		}
		if _, ok, _ := tx.SMP("other"); !ok {
			return errors.New("SMP put in this transaction not found")
		}
		if err := tx.PutName("a.test.", "y.a.test.", "p"); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("failed Update returned %v, want its error", err)
	}
	view(t, r, func(tx sml.Tx) error {
		if z, _, _ := tx.Zone("a.test."); z.Serial != 2 {
			t.Errorf("serial %d after a rolled back update, want 2", z.Serial)
		}
		if _, ok, _ := tx.SMP("other"); ok {
			t.Error("SMP of a rolled back update found")
		}
		if _, ok := tx.Name("a.test.", "y.a.test."); ok {
			t.Error("name of a rolled back update found")
		}
		if _, ok := tx.Name("a.test.", "x.a.test."); !ok {
			t.Error("name of a committed update not found")
		}
		return nil
	})
}

func testViewSnapshot(t *testing.T, r sml.Repo) {
	// Some room first: an embedded store that must grow its file waits for its readers.
	update(t, r, func(tx sml.Tx) error {
		for i := 0; i < 2000; i++ {
			if err := tx.PutSMP(sml.SMP{ID: fmt.Sprintf("room-%d", i), LogicalAddress: strings.Repeat("x", 200)}); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, r, func(tx sml.Tx) error {
		for i := 0; i < 2000; i++ {
			if err := tx.DeleteSMP(fmt.Sprintf("room-%d", i)); err != nil {
				return err
			}
		}
		return tx.PutZone("a.test.", sml.ZoneState{Serial: 1})
	})
	view(t, r, func(tx sml.Tx) error {
		if z, _, _ := tx.Zone("a.test."); z.Serial != 1 {
			t.Errorf("serial %d, want 1", z.Serial)
		}
		done := make(chan error, 1)
		go func() {
			done <- r.Update(func(tx sml.Tx) error {
				if err := tx.PutZone("a.test.", sml.ZoneState{Serial: 2}); err != nil {
					return err
				}
				return tx.PutSMP(sml.SMP{ID: "new", Created: at(0), Updated: at(0)})
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("update beside a view: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("an update waits for an open view")
		}
		// The view still reads its snapshot.
		if z, _, _ := tx.Zone("a.test."); z.Serial != 1 {
			t.Errorf("a view sees serial %d committed after it began, want 1", z.Serial)
		}
		if _, ok, _ := tx.SMP("new"); ok {
			t.Error("a view sees an SMP committed after it began")
		}
		return nil
	})
	view(t, r, func(tx sml.Tx) error {
		if z, _, _ := tx.Zone("a.test."); z.Serial != 2 {
			t.Errorf("serial %d after the update, want 2", z.Serial)
		}
		return nil
	})
}
