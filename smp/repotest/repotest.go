// Package repotest is the contract of smp.Repository: one suite that every backend (smp/boltrepo, smp/pgrepo) runs
// unchanged from its tests, so that both keep the same semantics, down to the bytewise order of pages.
package repotest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/console"
	"github.com/signpost-project/signpost/smp"
)

// Open returns a new, empty repository for one test; the backend closes it when the test ends.
type Open func(t *testing.T) smp.Repository

// Run runs the contract suite against the repositories open returns.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r smp.Repository)
	}{
		{"VersionsOutliveDeletes", versionsOutliveDeletes},
		{"GroupRoundTrip", groupRoundTrip},
		{"GroupsPageBytewise", groupsPageBytewise},
		{"Metadata", metadata},
		{"Documents", documents},
		{"Settings", settings},
		{"UsersAndTokens", usersAndTokens},
		{"Registrations", registrations},
		{"Outbox", outbox},
		{"RegistrationSeq", registrationSeq},
		{"RollbackOnError", rollbackOnError},
		{"ViewSnapshot", viewSnapshot},
		{"WritersSerialize", writersSerialize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// RunSessions runs the contract of a console session store (internal/console.Store).
func RunSessions(t *testing.T, open func(t *testing.T) console.Store) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if _, ok, err := s.GetSession(ctx, "k1"); ok || err != nil {
		t.Fatalf("unknown session: ok %v err %v", ok, err)
	}
	for i, k := range []string{"k1", "k2", "k3"} {
		at := t0.Add(time.Duration(i) * time.Hour)
		if err := s.PutSession(ctx, k, console.Session{User: "u" + k, Admin: i == 0, Since: t0, Seen: at}); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.GetSession(ctx, "k1")
	if err != nil || !ok || got.User != "uk1" || !got.Admin || !got.Since.Equal(t0) || !got.Seen.Equal(t0) {
		t.Fatalf("k1: %+v ok %v err %v", got, ok, err)
	}
	// A request updates Seen in place.
	if err := s.PutSession(ctx, "k1", console.Session{User: "uk1", Admin: true, Since: t0, Seen: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteSessionsSeenBefore(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("deleted %d idle sessions (%v), want 1 (k2)", n, err)
	}
	for k, want := range map[string]bool{"k1": true, "k2": false, "k3": true} {
		if _, ok, err := s.GetSession(ctx, k); ok != want || err != nil {
			t.Fatalf("%s: present %v (%v), want %v", k, ok, err, want)
		}
	}
	if err := s.DeleteSession(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetSession(ctx, "k3"); ok {
		t.Fatal("k3 still there after DeleteSession")
	}
}

var ctx = context.Background()

func pid(v string) identifier.ID { return identifier.ID{Scheme: "iso6523-actorid-upis", Value: v} }

func doc(v string) identifier.ID { return identifier.ID{Scheme: "busdox-docid-qns", Value: v} }

func view(t *testing.T, r smp.Repository, fn func(tx smp.ReadTx) error) {
	t.Helper()
	if err := r.View(ctx, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

func update(t *testing.T, r smp.Repository, fn func(tx smp.WriteTx) error) {
	t.Helper()
	if err := r.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// at is a time as both backends keep it (PostgreSQL's timestamptz has microseconds).
func at(s string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return tm.UTC()
}

// versionsOutliveDeletes: a group's version goes on after a delete, so a writer that planned from the group before
// it was deleted and created again sees that it changed (no ABA).
func versionsOutliveDeletes(t *testing.T, r smp.Repository) {
	p := pid("9915:a")
	version := func() (v uint64, ok bool) {
		view(t, r, func(tx smp.ReadTx) error {
			var err error
			_, v, ok, err = tx.Group(p)
			return err
		})
		return v, ok
	}
	if v, ok := version(); v != 0 || ok {
		t.Fatalf("new: version %d exists %v", v, ok)
	}
	steps := []func(tx smp.WriteTx) error{
		func(tx smp.WriteTx) error { return tx.PutGroup(smp.ServiceGroup{Participant: p}, 1) },
		func(tx smp.WriteTx) error { return tx.DeleteGroup(p, 2) },
		func(tx smp.WriteTx) error { return tx.PutGroup(smp.ServiceGroup{Participant: p}, 3) },
		func(tx smp.WriteTx) error { return tx.SetVersion(p, 4) },
		func(tx smp.WriteTx) error { return tx.DeleteGroup(p, 5) },
		func(tx smp.WriteTx) error { return tx.SetVersion(p, 6) }, // documents of a deleted group changed
	}
	want := []struct {
		v  uint64
		ok bool
	}{{1, true}, {2, false}, {3, true}, {4, true}, {5, false}, {6, false}}
	for i, step := range steps {
		update(t, r, step)
		if v, ok := version(); v != want[i].v || ok != want[i].ok {
			t.Fatalf("step %d: version %d exists %v, want %d %v", i, v, ok, want[i].v, want[i].ok)
		}
	}
	// A deleted group is not listed nor counted, though its version remains.
	view(t, r, func(tx smp.ReadTx) error {
		page, err := tx.Groups("", 10)
		if err != nil {
			return err
		}
		g, _, err := tx.Counts()
		if len(page) != 0 || g != 0 {
			t.Errorf("deleted group listed: %+v, counted %d", page, g)
		}
		return err
	})
}

func groupRoundTrip(t *testing.T, r smp.Repository) {
	want := []smp.ServiceGroup{
		{Participant: pid("9915:full"), Owner: "alice", InSML: true,
			Extensions: []string{`<x:A xmlns:x="urn:x">1</x:A>`, `<y:B xmlns:y="urn:y"/>`}},
		{Participant: pid("9915:bare")},
		{Participant: identifier.ID{Value: "no-scheme"}, InSML: true},
	}
	update(t, r, func(tx smp.WriteTx) error {
		for i, sg := range want {
			if err := tx.PutGroup(sg, uint64(10+i)); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, r, func(tx smp.ReadTx) error {
		for i, w := range want {
			sg, v, ok, err := tx.Group(w.Participant)
			if err != nil {
				return err
			}
			if !ok || v != uint64(10+i) || !sameGroup(sg, w) {
				t.Errorf("group %s: %+v version %d ok %v, want %+v version %d", w.Participant, sg, v, ok, w, 10+i)
			}
		}
		if _, v, ok, err := tx.Group(pid("9915:none")); ok || v != 0 || err != nil {
			t.Errorf("unknown group: ok %v version %d err %v", ok, v, err)
		}
		return nil
	})
	// Put again replaces the record.
	changed := smp.ServiceGroup{Participant: pid("9915:full"), Owner: "bob", InSML: false}
	update(t, r, func(tx smp.WriteTx) error { return tx.PutGroup(changed, 20) })
	view(t, r, func(tx smp.ReadTx) error {
		sg, v, ok, err := tx.Group(changed.Participant)
		if !ok || v != 20 || !sameGroup(sg, changed) {
			t.Errorf("replaced group: %+v version %d ok %v", sg, v, ok)
		}
		return err
	})
}

func sameGroup(a, b smp.ServiceGroup) bool {
	return a.Participant == b.Participant && a.Owner == b.Owner && a.InSML == b.InSML &&
		slices.Equal(a.Extensions, b.Extensions)
}

// participants whose bytewise order differs from a case-insensitive or linguistic one, with a prefix trap
// ("9915:a" and "9915:ab") and another scheme.
var participants = []identifier.ID{
	pid("9915:b"), pid("9915:B"), pid("9915:a"), pid("9915:ab"), pid("9915:a b"), pid("9915:Z"), pid("9915:é"),
	pid("9915:e"), pid("9915:f"), pid("9915:É"), pid("9915:ß"), pid("9915:_"), pid("9915:~"), pid("0088:1"),
	pid("9915:日本"), pid("9915:z"), {Scheme: "other-scheme", Value: "x"}, {Scheme: "Upper", Value: "x"},
}

func sortedStrings(ids []identifier.ID) []string {
	var s []string
	for _, p := range ids {
		s = append(s, p.String())
	}
	sort.Strings(s) // Go compares strings bytewise
	return s
}

// groupsPageBytewise: pages follow the bytewise order of the canonical participant, start after the cursor
// (which need not exist), and count each group's metadata (of that group only, not of a participant whose
// identifier starts with the same text).
func groupsPageBytewise(t *testing.T, r smp.Repository) {
	update(t, r, func(tx smp.WriteTx) error {
		for i, p := range participants {
			if err := tx.PutGroup(smp.ServiceGroup{Participant: p, InSML: true}, uint64(i+1)); err != nil {
				return err
			}
		}
		for _, d := range []string{"urn:x::1", "urn:x::2"} {
			if err := tx.PutMetadata(smp.ServiceMetadata{Participant: pid("9915:ab"), DocumentType: doc(d)}); err != nil {
				return err
			}
		}
		return tx.PutMetadata(smp.ServiceMetadata{Participant: pid("9915:a"), DocumentType: doc("urn:x::1")})
	})
	want := sortedStrings(participants)
	for _, limit := range []int{1, 3, 7, len(participants), 100} {
		var got []string
		after := ""
		for range len(participants) + 2 {
			var page []smp.GroupInfo
			view(t, r, func(tx smp.ReadTx) error {
				var err error
				page, err = tx.Groups(after, limit)
				return err
			})
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			for _, gi := range page {
				got = append(got, gi.Group.Participant.String())
				wantN := map[string]int{pid("9915:ab").String(): 2, pid("9915:a").String(): 1}[gi.Group.Participant.String()]
				if gi.ServiceMetadata != wantN {
					t.Errorf("%s: %d service metadata, want %d", gi.Group.Participant, gi.ServiceMetadata, wantN)
				}
			}
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].Group.Participant.String()
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: pages\n%q\nwant bytewise\n%q", limit, got, want)
		}
	}
	// A cursor that is no participant starts at the next one in byte order.
	view(t, r, func(tx smp.ReadTx) error {
		page, err := tx.Groups(pid("9915:C").String(), 2)
		if err != nil {
			return err
		}
		if len(page) != 2 || page[0].Group.Participant != pid("9915:Z") || page[1].Group.Participant != pid("9915:_") {
			t.Errorf("after 9915:C: %+v", page)
		}
		if page, err = tx.Groups(pid("9915:a").String(), 0); len(page) != 0 || err != nil {
			t.Errorf("limit 0: %+v (%v)", page, err)
		}
		g, m, err := tx.Counts()
		if g != len(participants) || m != 3 {
			t.Errorf("counts %d groups %d metadata, want %d 3", g, m, len(participants))
		}
		return err
	})
}

func metadata(t *testing.T, r smp.Repository) {
	p := pid("9915:m")
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	full := smp.ServiceMetadata{
		Participant: p, DocumentType: doc("urn:b::1"), Extensions: []string{`<e xmlns="urn:e"/>`},
		Processes: []smp.Process{{
			ID: identifier.ID{Scheme: "cenbii-procid-ubl", Value: "urn:p"},
			Endpoints: []smp.Endpoint{{
				TransportProfile: "peppol-transport-as4-v2_0", Address: "https://ap.example/as4",
				Certificate: []byte{0x30, 0x82, 0, 1}, ExpirationDate: &exp, Description: "ünïcode",
				TechnicalContactURL: "mailto:x@example", RequireBusinessLevelSignature: true,
			}},
		}},
	}
	redirect := smp.ServiceMetadata{Participant: p, DocumentType: doc("urn:B::1"),
		Redirect: &smp.Redirect{Href: "https://other.example/x", CertificateUID: "CN=x"}}
	types := []identifier.ID{doc("urn:b::1"), doc("urn:B::1"), doc("urn:a::1"), doc("urn:é::1"), doc("urn:Z::1")}
	update(t, r, func(tx smp.WriteTx) error {
		for _, d := range types[2:] {
			if err := tx.PutMetadata(smp.ServiceMetadata{Participant: p, DocumentType: d}); err != nil {
				return err
			}
		}
		if err := tx.PutMetadata(full); err != nil {
			return err
		}
		if err := tx.PutMetadata(redirect); err != nil {
			return err
		}
		// Another participant sharing the prefix is not listed with p.
		return tx.PutMetadata(smp.ServiceMetadata{Participant: pid("9915:m2"), DocumentType: doc("urn:a::1")})
	})
	view(t, r, func(tx smp.ReadTx) error {
		got, ok, err := tx.Metadata(p, full.DocumentType)
		if err != nil || !ok {
			t.Fatalf("metadata: ok %v err %v", ok, err)
		}
		a, _ := smp.MarshalMetadata(&got)
		b, _ := smp.MarshalMetadata(&full)
		if !bytes.Equal(a, b) {
			t.Errorf("metadata round trip:\n%s\nwant\n%s", a, b)
		}
		if got, ok, _ := tx.Metadata(p, redirect.DocumentType); !ok || got.Redirect == nil || got.Redirect.Href != redirect.Redirect.Href || got.Redirect.CertificateUID != redirect.Redirect.CertificateUID {
			t.Errorf("redirect: %+v ok %v", got, ok)
		}
		if _, ok, err := tx.Metadata(p, doc("urn:none::1")); ok || err != nil {
			t.Errorf("unknown metadata: ok %v err %v", ok, err)
		}
		list, err := tx.MetadataOf(p)
		if err != nil {
			return err
		}
		var gotTypes []string
		for _, sm := range list {
			if sm.Participant != p {
				t.Errorf("MetadataOf(%s) lists %s", p, sm.Participant)
			}
			gotTypes = append(gotTypes, sm.DocumentType.String())
		}
		if want := sortedStrings(types); !slices.Equal(gotTypes, want) {
			t.Errorf("MetadataOf order %q, want bytewise %q", gotTypes, want)
		}
		if none, err := tx.MetadataOf(pid("9915:none")); len(none) != 0 || err != nil {
			t.Errorf("MetadataOf unknown: %+v %v", none, err)
		}
		return nil
	})
	update(t, r, func(tx smp.WriteTx) error { return tx.DeleteMetadata(p, full.DocumentType) })
	view(t, r, func(tx smp.ReadTx) error {
		if _, ok, _ := tx.Metadata(p, full.DocumentType); ok {
			t.Error("deleted metadata still there")
		}
		list, err := tx.MetadataOf(p)
		_, m, err2 := tx.Counts()
		if len(list) != len(types)-1 || m != len(types) {
			t.Errorf("after delete: %d listed, %d counted", len(list), m)
		}
		return errors.Join(err, err2)
	})
}

func documents(t *testing.T, r smp.Repository) {
	p := pid("9915:d")
	keys := []smp.DocKey{
		{Flavour: smp.PEPPOL, Participant: p},
		{Flavour: smp.OASIS1, Participant: p},
		{Flavour: smp.PEPPOL, Participant: p, DocType: doc("urn:x::1")},
		{Flavour: smp.SMP2, Participant: p, DocType: doc("urn:x::1")},
		{Flavour: smp.PEPPOL, Participant: pid("9915:d2")},
	}
	body := func(i int) []byte { return append([]byte{0, 0xff, byte(i)}, fmt.Sprintf("<doc n=%d/>", i)...) }
	view(t, r, func(tx smp.ReadTx) error {
		b, err := tx.Document(keys[0])
		if b != nil {
			t.Errorf("no document: %q", b)
		}
		return err
	})
	update(t, r, func(tx smp.WriteTx) error {
		for i, k := range keys {
			if err := tx.PutDocument(k, body(i)); err != nil {
				return err
			}
		}
		return tx.PutDocument(keys[1], body(9)) // replaced
	})
	update(t, r, func(tx smp.WriteTx) error { return tx.DeleteDocument(keys[3]) })
	view(t, r, func(tx smp.ReadTx) error {
		for i, k := range keys {
			want := body(i)
			switch i {
			case 1:
				want = body(9)
			case 3:
				want = nil
			}
			b, err := tx.Document(k)
			if err != nil {
				return err
			}
			if !bytes.Equal(b, want) || (want == nil) != (b == nil) {
				t.Errorf("document %d: %q, want %q", i, b, want)
			}
		}
		return nil
	})
}

func settings(t *testing.T, r smp.Repository) {
	view(t, r, func(tx smp.ReadTx) error {
		b, err := tx.Setting("signing")
		if b != nil {
			t.Errorf("unset setting: %q", b)
		}
		return err
	})
	update(t, r, func(tx smp.WriteTx) error {
		return errors.Join(tx.PutSetting("signing", []byte(`{"a":1}`)), tx.PutSetting("sml", []byte{0, 1, 2}))
	})
	update(t, r, func(tx smp.WriteTx) error { return tx.PutSetting("signing", []byte(`{"a":2}`)) })
	view(t, r, func(tx smp.ReadTx) error {
		a, err := tx.Setting("signing")
		b, err2 := tx.Setting("sml")
		if string(a) != `{"a":2}` || !bytes.Equal(b, []byte{0, 1, 2}) {
			t.Errorf("settings %q %q", a, b)
		}
		return errors.Join(err, err2)
	})
}

func token(user, secret string, created time.Time) (smp.TokenInfo, []byte) {
	h := sha256.Sum256([]byte(secret))
	x := hex.EncodeToString(h[:])
	return smp.TokenInfo{ID: x[:16], User: user, Created: created, Hash: x}, h[:]
}

func usersAndTokens(t *testing.T, r smp.Repository) {
	created := at("2026-02-03T04:05:06.123456Z")
	names := []string{"bob", "Bob", "alice", "Émile", "zoë", "_ops"}
	var toks []smp.TokenInfo
	var hashes [][]byte
	update(t, r, func(tx smp.WriteTx) error {
		for i, n := range names {
			if err := tx.PutUser(smp.User{Name: n, Admin: i == 0, Password: "pbkdf2-sha256$1$c2FsdA$a2V5", Created: created}); err != nil {
				return err
			}
		}
		for i, u := range []string{"bob", "bob", "alice", "Bob", "bob"} {
			ti, h := token(u, fmt.Sprint("secret", i), created.Add(time.Duration(i)*time.Second))
			toks, hashes = append(toks, ti), append(hashes, h)
			if err := tx.PutToken(ti); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, r, func(tx smp.ReadTx) error {
		u, err := tx.User("bob")
		if err != nil || u == nil || u.Name != "bob" || !u.Admin || u.Password != "pbkdf2-sha256$1$c2FsdA$a2V5" || !u.Created.Equal(created) {
			t.Errorf("user bob: %+v (%v)", u, err)
		}
		if u, err := tx.User("nobody"); u != nil || err != nil {
			t.Errorf("unknown user: %+v %v", u, err)
		}
		users, err := tx.Users()
		var got []string
		for _, u := range users {
			got = append(got, u.Name)
		}
		want := slices.Clone(names)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("users %q, want bytewise %q", got, want)
		}
		for i, h := range hashes {
			ti, err := tx.Token(h)
			if err != nil || ti == nil || ti.ID != toks[i].ID || ti.User != toks[i].User || ti.Hash != toks[i].Hash ||
				!ti.Created.Equal(toks[i].Created) {
				t.Errorf("token %d: %+v (%v), want %+v", i, ti, err, toks[i])
			}
		}
		if ti, err := tx.Token(make([]byte, 32)); ti != nil || err != nil {
			t.Errorf("unknown token: %+v %v", ti, err)
		}
		list, err2 := tx.Tokens()
		var ids, wantIDs []string
		for _, ti := range list {
			ids = append(ids, ti.ID)
		}
		for _, ti := range toks {
			wantIDs = append(wantIDs, ti.ID)
		}
		sort.Strings(wantIDs)
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("tokens %q, want by ID %q", ids, wantIDs)
		}
		return errors.Join(err, err2)
	})
	// DeleteUser takes the user's tokens with it, and only theirs ("Bob" is another user).
	update(t, r, func(tx smp.WriteTx) error { return tx.DeleteUser("bob") })
	view(t, r, func(tx smp.ReadTx) error {
		if u, _ := tx.User("bob"); u != nil {
			t.Error("deleted user still there")
		}
		list, err := tx.Tokens()
		var users []string
		for _, ti := range list {
			users = append(users, ti.User)
		}
		sort.Strings(users)
		if !slices.Equal(users, []string{"Bob", "alice"}) {
			t.Errorf("tokens after deleting bob belong to %q", users)
		}
		return err
	})
	// DeleteToken by ID says how many it deleted.
	var n1, n2 int
	update(t, r, func(tx smp.WriteTx) error {
		var err, err2 error
		n1, err = tx.DeleteToken(toks[2].ID)
		n2, err2 = tx.DeleteToken(toks[2].ID)
		return errors.Join(err, err2)
	})
	if n1 != 1 || n2 != 0 {
		t.Fatalf("DeleteToken: %d then %d, want 1 then 0", n1, n2)
	}
	view(t, r, func(tx smp.ReadTx) error {
		if ti, _ := tx.Token(hashes[2]); ti != nil {
			t.Error("revoked token still there")
		}
		if ti, _ := tx.Token(hashes[3]); ti == nil {
			t.Error("another token went too")
		}
		return nil
	})
}

func reg(p identifier.ID, state smp.RegState, seq uint64, next time.Time) smp.Registration {
	op := smp.RegCreate
	return smp.Registration{Participant: p, State: state, Op: op, Seq: seq, Next: next,
		Since: at("2026-01-01T00:00:00Z").Add(time.Duration(seq) * time.Minute)}
}

func sameReg(a, b smp.Registration) bool {
	return a.Participant == b.Participant && a.State == b.State && a.Op == b.Op && a.Seq == b.Seq &&
		a.Attempts == b.Attempts && a.Next.Equal(b.Next) && a.LastError == b.LastError && a.Since.Equal(b.Since)
}

func registrations(t *testing.T, r smp.Repository) {
	next := at("2026-01-02T03:04:05.000006Z")
	all := []smp.Registration{
		reg(pid("9915:b"), smp.RegPending, 7, next),
		reg(pid("9915:B"), smp.RegRegistered, 2, time.Time{}),
		reg(pid("9915:a"), smp.RegFailed, 3, time.Time{}),
		reg(pid("9915:é"), smp.RegPending, 4, time.Time{}),
		reg(pid("9915:ab"), smp.RegRegistered, 5, time.Time{}),
		reg(pid("9915:Z"), smp.RegFailed, 6, time.Time{}),
		reg(pid("9915:c"), smp.RegRegistered, 1, time.Time{}),
	}
	all[0].Attempts, all[0].LastError, all[0].Op = 3, "SML: connection refused", smp.RegDelete
	all[2].LastError = "SML: refused for good"
	update(t, r, func(tx smp.WriteTx) error {
		for _, x := range all {
			if err := tx.PutRegistration(x); err != nil {
				return err
			}
		}
		return nil
	})
	byState := func(s smp.RegState) []string {
		var out []identifier.ID
		for _, x := range all {
			if s == "" || x.State == s {
				out = append(out, x.Participant)
			}
		}
		return sortedStrings(out)
	}
	view(t, r, func(tx smp.ReadTx) error {
		for _, w := range all {
			got, ok, err := tx.Registration(w.Participant)
			if err != nil || !ok || !sameReg(got, w) {
				t.Errorf("registration %s: %+v ok %v (%v), want %+v", w.Participant, got, ok, err, w)
			}
		}
		if _, ok, err := tx.Registration(pid("9915:none")); ok || err != nil {
			t.Errorf("unknown registration: ok %v err %v", ok, err)
		}
		for _, s := range []smp.RegState{"", smp.RegPending, smp.RegRegistered, smp.RegFailed} {
			for _, limit := range []int{1, 2, 100} {
				var got []string
				after := ""
				for range len(all) + 2 {
					page, err := tx.Registrations(s, after, limit)
					if err != nil {
						return err
					}
					for _, x := range page {
						if s != "" && x.State != s {
							t.Errorf("state %q lists %+v", s, x)
						}
						got = append(got, x.Participant.String())
					}
					if len(page) < limit {
						break
					}
					after = page[len(page)-1].Participant.String()
				}
				if want := byState(s); !slices.Equal(got, want) {
					t.Errorf("registrations %q limit %d: %q, want bytewise %q", s, limit, got, want)
				}
			}
		}
		c, err := tx.RegistrationCounts()
		want := smp.RegistrationCounts{Registered: 3, Pending: 2, Failed: 2, OldestPending: all[3].Since}
		if c.Registered != want.Registered || c.Pending != want.Pending || c.Failed != want.Failed ||
			!c.OldestPending.Equal(want.OldestPending) {
			t.Errorf("counts %+v, want %+v (the oldest pending is the lowest Seq's)", c, want)
		}
		return err
	})
	// A state change moves the record between the indexes; deletes take it out of every one.
	update(t, r, func(tx smp.WriteTx) error {
		done := all[3]
		done.State, done.Next = smp.RegRegistered, time.Time{}
		if err := tx.PutRegistration(done); err != nil {
			return err
		}
		failed := all[0]
		failed.State = smp.RegFailed
		if err := tx.PutRegistration(failed); err != nil {
			return err
		}
		return tx.DeleteRegistration(all[5].Participant)
	})
	view(t, r, func(tx smp.ReadTx) error {
		c, err := tx.RegistrationCounts()
		if c.Registered != 4 || c.Pending != 0 || c.Failed != 2 || !c.OldestPending.IsZero() {
			t.Errorf("counts after changes %+v", c)
		}
		failed, err2 := tx.Registrations(smp.RegFailed, "", 10)
		if len(failed) != 2 || failed[0].Participant != pid("9915:a") || failed[1].Participant != pid("9915:b") {
			t.Errorf("failed after changes: %+v", failed)
		}
		ob, err3 := tx.Outbox(next.Add(time.Hour), 10)
		if len(ob) != 0 {
			t.Errorf("outbox after changes: %+v", ob)
		}
		return errors.Join(err, err2, err3)
	})
	var n int
	update(t, r, func(tx smp.WriteTx) error {
		var err error
		n, err = tx.DeleteRegistrations()
		return err
	})
	if n != len(all)-1 {
		t.Fatalf("DeleteRegistrations: %d, want %d", n, len(all)-1)
	}
	view(t, r, func(tx smp.ReadTx) error {
		c, err := tx.RegistrationCounts()
		page, err2 := tx.Registrations("", "", 10)
		if c != (smp.RegistrationCounts{}) || len(page) != 0 {
			t.Errorf("after DeleteRegistrations: %+v %+v", c, page)
		}
		return errors.Join(err, err2)
	})
}

// outbox: the pending registrations due at now (Next not after it), by Seq, up to limit; not the others.
func outbox(t *testing.T, r smp.Repository) {
	now := at("2026-05-05T12:00:00Z")
	update(t, r, func(tx smp.WriteTx) error {
		for _, x := range []smp.Registration{
			reg(pid("9915:a"), smp.RegPending, 30, now.Add(-time.Minute)),
			reg(pid("9915:b"), smp.RegPending, 10, now),                  // due exactly now
			reg(pid("9915:c"), smp.RegPending, 20, now.Add(time.Second)), // not yet
			reg(pid("9915:d"), smp.RegPending, 5, time.Time{}),           // zero Next: due
			reg(pid("9915:e"), smp.RegFailed, 1, time.Time{}),
			reg(pid("9915:f"), smp.RegRegistered, 2, time.Time{}),
			reg(pid("9915:g"), smp.RegPending, 40, now.Add(-time.Hour)),
		} {
			if err := tx.PutRegistration(x); err != nil {
				return err
			}
		}
		return nil
	})
	seqs := func(now time.Time, limit int) []uint64 {
		var out []uint64
		view(t, r, func(tx smp.ReadTx) error {
			ob, err := tx.Outbox(now, limit)
			for _, x := range ob {
				if x.State != smp.RegPending {
					t.Errorf("outbox holds %+v", x)
				}
				out = append(out, x.Seq)
			}
			return err
		})
		return out
	}
	for _, c := range []struct {
		now   time.Time
		limit int
		want  []uint64
	}{
		{now, 10, []uint64{5, 10, 30, 40}},
		{now, 2, []uint64{5, 10}},
		{now.Add(time.Second), 10, []uint64{5, 10, 20, 30, 40}},
		{now.Add(-2 * time.Hour), 10, []uint64{5}},
		{now, 0, nil},
	} {
		if got := seqs(c.now, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("outbox at %s limit %d: seqs %v, want %v", c.now, c.limit, got, c.want)
		}
	}
	// A new intent for a participant replaces its old place in the outbox.
	update(t, r, func(tx smp.WriteTx) error {
		return tx.PutRegistration(reg(pid("9915:d"), smp.RegPending, 50, time.Time{}))
	})
	if got := seqs(now, 10); !slices.Equal(got, []uint64{10, 30, 40, 50}) {
		t.Errorf("outbox after a new intent: %v", got)
	}
}

// registrationSeq: every Seq is higher than any returned by a committed transaction, also after a rolled-back
// one (whose numbers a backend may hand out again, as bbolt does, or skip, as a PostgreSQL sequence does).
func registrationSeq(t *testing.T, r smp.Repository) {
	var last uint64
	for i := range 5 {
		var s1, s2 uint64
		err := r.Update(ctx, func(tx smp.WriteTx) error {
			var err error
			if s1, err = tx.NextRegistrationSeq(); err != nil {
				return err
			}
			if s2, err = tx.NextRegistrationSeq(); err != nil {
				return err
			}
			if i == 2 {
				return errRollback
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if s1 <= last || s2 <= s1 {
			t.Fatalf("round %d: seqs %d %d after %d", i, s1, s2, last)
		}
		if err == nil {
			last = s2
		}
	}
}

var errRollback = errors.New("repotest: roll back")

// rollbackOnError: an Update whose fn fails leaves nothing of what it wrote.
func rollbackOnError(t *testing.T, r smp.Repository) {
	p := pid("9915:r")
	tok, hash := token("u", "s", at("2026-01-01T00:00:00Z"))
	update(t, r, func(tx smp.WriteTx) error { return tx.PutGroup(smp.ServiceGroup{Participant: p, Owner: "before"}, 1) })
	err := r.Update(ctx, func(tx smp.WriteTx) error {
		err := errors.Join(
			tx.PutGroup(smp.ServiceGroup{Participant: p, Owner: "after"}, 2),
			tx.PutGroup(smp.ServiceGroup{Participant: pid("9915:r2")}, 1),
			tx.PutMetadata(smp.ServiceMetadata{Participant: p, DocumentType: doc("urn:x::1")}),
			tx.PutDocument(smp.DocKey{Flavour: smp.PEPPOL, Participant: p}, []byte("doc")),
			tx.PutSetting("s", []byte("v")),
			tx.PutUser(smp.User{Name: "u"}),
			tx.PutToken(tok),
			tx.PutRegistration(reg(p, smp.RegPending, 1, time.Time{})),
		)
		if err != nil {
			return err
		}
		// What it wrote is visible within the transaction.
		if sg, v, _, err := tx.Group(p); err != nil || sg.Owner != "after" || v != 2 {
			t.Errorf("own write not visible: %+v %d %v", sg, v, err)
		}
		return fmt.Errorf("wrapped: %w", errRollback)
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	view(t, r, func(tx smp.ReadTx) error {
		sg, v, _, err := tx.Group(p)
		_, _, ok2, _ := tx.Group(pid("9915:r2"))
		_, okm, _ := tx.Metadata(p, doc("urn:x::1"))
		d, _ := tx.Document(smp.DocKey{Flavour: smp.PEPPOL, Participant: p})
		s, _ := tx.Setting("s")
		u, _ := tx.User("u")
		ti, _ := tx.Token(hash)
		_, okr, _ := tx.Registration(p)
		if sg.Owner != "before" || v != 1 || ok2 || okm || d != nil || s != nil || u != nil || ti != nil || okr {
			t.Errorf("a failed Update left something: group %+v v%d, r2 %v, metadata %v, doc %q, setting %q, user %v, "+
				"token %v, registration %v", sg, v, ok2, okm, d, s, u, ti, okr)
		}
		return err
	})
}

// viewSnapshot: a View reads one snapshot: a write committed while it runs is not seen by it, and is by the next.
func viewSnapshot(t *testing.T, r smp.Repository) {
	update(t, r, func(tx smp.WriteTx) error { return tx.PutGroup(smp.ServiceGroup{Participant: pid("9915:s1")}, 1) })
	done := make(chan error, 1)
	view(t, r, func(tx smp.ReadTx) error {
		g1, _, err := tx.Counts()
		if err != nil {
			return err
		}
		go func() {
			done <- r.Update(ctx, func(tx smp.WriteTx) error {
				return errors.Join(tx.PutGroup(smp.ServiceGroup{Participant: pid("9915:s2")}, 1),
					tx.PutGroup(smp.ServiceGroup{Participant: pid("9915:s1"), Owner: "changed"}, 2))
			})
		}()
		// A backend may make the writer wait for this reader; then the check below holds trivially.
		select {
		case err := <-done:
			done <- err
		case <-time.After(2 * time.Second):
		}
		g2, _, err := tx.Counts()
		sg, v, _, err2 := tx.Group(pid("9915:s1"))
		page, err3 := tx.Groups("", 10)
		if g1 != 1 || g2 != 1 || sg.Owner != "" || v != 1 || len(page) != 1 {
			t.Errorf("the view saw a later commit: counts %d then %d, group %+v v%d, page %d", g1, g2, sg, v, len(page))
		}
		return errors.Join(err, err2, err3)
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write did not finish within 10 s of the view's end")
	}
	view(t, r, func(tx smp.ReadTx) error {
		g, _, err := tx.Counts()
		sg, v, _, err2 := tx.Group(pid("9915:s1"))
		if g != 2 || sg.Owner != "changed" || v != 2 {
			t.Errorf("after the write: %d groups, %+v v%d", g, sg, v)
		}
		return errors.Join(err, err2)
	})
}

// writersSerialize: concurrent read-check-write transactions (how the service bumps a group's version) lose no
// update: each Update is atomic with respect to the others.
func writersSerialize(t *testing.T, r smp.Repository) {
	p := pid("9915:w")
	const writers, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				err := r.Update(ctx, func(tx smp.WriteTx) error {
					_, v, _, err := tx.Group(p)
					if err != nil {
						return err
					}
					seq, err := tx.NextRegistrationSeq()
					if err != nil {
						return err
					}
					if err := tx.PutRegistration(reg(pid(fmt.Sprint("9915:w", w)), smp.RegPending, seq, time.Time{})); err != nil {
						return err
					}
					return tx.PutGroup(smp.ServiceGroup{Participant: p, Owner: fmt.Sprint(w)}, v+1)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	view(t, r, func(tx smp.ReadTx) error {
		_, v, _, err := tx.Group(p)
		if v != writers*rounds {
			t.Errorf("version %d after %d increments: updates were lost", v, writers*rounds)
		}
		return err
	})
}
