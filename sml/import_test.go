package sml

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func runImport(t *testing.T, f *fixture, text string, batch int) (ImportResult, error) {
	t.Helper()
	var total ImportResult
	err := ReadImport(strings.NewReader(text), batch, func(b ImportBatch) error {
		r, err := f.s.Import(ctx, b)
		total.Add(r)
		return err
	})
	return total, err
}

const importOwner = "CN=SMP-GEN,O=Example,C=BE:1f"

func TestImportIsIdempotent(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:live")); err != nil {
		t.Fatal(err)
	}
	before := f.serial(t, testZone)
	var buf bytes.Buffer
	if err := WriteGenerated(&buf, 2500, 3, "sml.test", importOwner); err != nil {
		t.Fatal(err)
	}
	text := "# a comment\n\n" + buf.String()
	r, err := runImport(t, f, text, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if r.SMPsCreated != 3 || r.Created != 2500 || r.Unchanged != 0 {
		t.Fatalf("first import: %+v", r)
	}
	records := f.zoneRecords(t, testZone)
	serial := f.serial(t, testZone)
	if !serialLess(before, serial) {
		t.Fatal("import did not raise the serial")
	}
	if _, ok, _ := f.s.Changes(testZone, before); ok {
		t.Fatal("the journal reaches across an import; secondaries must transfer the whole zone")
	}
	// Again: nothing changes, not even the serial.
	r, err = runImport(t, f, text, 700)
	if err != nil {
		t.Fatal(err)
	}
	if r.SMPsUnchanged != 3 || r.Unchanged != 2500 || r.Created+r.Updated+r.SMPsCreated+r.SMPsUpdated != 0 {
		t.Fatalf("second import: %+v", r)
	}
	if got := f.zoneRecords(t, testZone); len(got) != len(records) || f.serial(t, testZone) != serial {
		t.Fatalf("a repeated import changed the zone (%d -> %d records, serial %d -> %d)", len(records), len(got), serial, f.serial(t, testZone))
	}
	st, _ := f.s.Stats()
	if st[0].Participants != 2501 {
		t.Fatalf("count %d", st[0].Participants)
	}
	// The owner from the file manages the imported SMP.
	owner := Caller{Identity: importOwner, Domain: testZone}
	ids, _, err := f.s.ListParticipants(ctx, owner, "SMP-GEN-1", "", 10000)
	if err != nil || len(ids) != 834 {
		t.Fatalf("imported SMP lists %d participants, %v", len(ids), err)
	}
	// A changed file: a new address, a participant moved to another SMP.
	changed := `{"type":"smp","id":"SMP-GEN-1","domain":"sml.test.","logical_address":"https://moved.example.org","physical_address":"192.0.2.2","owner":"` + importOwner + `"}
{"type":"participant","id":"iso6523-actorid-upis::9915:gen-0","smp":"SMP-GEN-2","service":"Meta:SMP"}
`
	r, err = runImport(t, f, changed, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.SMPsUpdated != 1 || r.Updated != 1 {
		t.Fatalf("changed import: %+v", r)
	}
	n := 0
	for _, line := range f.zoneRecords(t, testZone) {
		if strings.Contains(line, "moved.example.org") {
			n++
		}
	}
	if n != 833 {
		t.Fatalf("%d NAPTRs point at the new address, want 833", n)
	}
	if st, _ := f.s.Stats(); st[0].Participants != 2501 {
		t.Fatalf("count after move %d", st[0].Participants)
	}
}

func TestImportErrorsNameTheLine(t *testing.T) {
	f := newFixture(t, Options{})
	for _, c := range []struct{ text, want string }{
		{`{"type":"smp","id":"S1","domain":"sml.test","logical_address":"http://s.example.org","owner":"CN=o:1"}` + "\n" + `{"type":"participant","id":"iso6523-actorid-upis::88:1","smp":"S1"}`, "line 2:"},
		{`{"type":"participant","id":"iso6523-actorid-upis::0088:1","smp":"NOPE"}`, "line 1:"},
		{"\n" + `{"type":"smp","id":"S2","domain":"nope.test","logical_address":"http://s.example.org","owner":"o"}`, "line 2:"},
		{`{"type":"smp","id":"S3","domain":"sml.test","logical_address":"http://s.example.org"}`, "no owner"},
		{`{"type":"thing"}`, "line 1:"},
		{`{"type":"smp","idd":"x"}`, "line 1:"},
	} {
		_, err := runImport(t, f, c.text, 10)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("import of %q: %v; want %q", c.text, err, c.want)
		}
	}
	// Nothing of a refused batch was written.
	if st, _ := f.s.Stats(); st[0].Participants != 0 {
		t.Fatalf("%d participants after refused imports", st[0].Participants)
	}
}

// SMP IDs are case-insensitive: an import naming a stored SMP in another case updates that SMP and keeps its ID,
// so its participants (which carry the stored ID) still resolve; the zone stays exportable.
func TestImportSMPInAnotherCase(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://a.example.org")
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", specs("0088:live")); err != nil {
		t.Fatal(err)
	}
	text := `{"type":"smp","id":"smp-a","domain":"sml.test","logical_address":"http://b.example.org","physical_address":"192.0.2.7","owner":"` + alice.Identity + `"}
{"type":"participant","id":"iso6523-actorid-upis::0088:other","smp":"smp-a"}
`
	if _, err := runImport(t, f, text, 10); err != nil {
		t.Fatal(err)
	}
	records := f.zoneRecords(t, testZone) // fails when a participant's SMP ID no longer names a stored SMP
	n := 0
	for _, line := range records {
		if strings.Contains(line, "b.example.org") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d NAPTRs point at the new address, want 2:\n%s", n, strings.Join(records, "\n"))
	}
	if _, err := f.s.ReadSMP(ctx, alice, "SMP-A"); err != nil {
		t.Fatal(err)
	}
	if ids, _, err := f.s.ListParticipants(ctx, alice, "SMP-A", "", 10); err != nil || len(ids) != 2 {
		t.Fatalf("list: %v %v", ids, err)
	}
	if err := f.s.ExportZone(io.Discard, testZone); err != nil {
		t.Fatal(err)
	}
}

// An imported owner must be a certificate identity, and is stored in the exact form pki.Identity gives (serial
// lower-case hex without leading zeros): a padded or upper-case serial from another SML's export would otherwise
// lock the SMP's own certificate out of it.
func TestImportOwnerIsACertificateIdentity(t *testing.T) {
	f := newFixture(t, Options{})
	text := `{"type":"smp","id":"SMP-O","domain":"sml.test","logical_address":"http://o.example.org","owner":"CN=alice,O=A,C=BE:001A"}
{"type":"participant","id":"iso6523-actorid-upis::0088:owned","smp":"SMP-O"}
`
	if _, err := runImport(t, f, text, 10); err != nil {
		t.Fatal(err)
	}
	if ids, _, err := f.s.ListParticipants(ctx, alice, "SMP-O", "", 10); err != nil || len(ids) != 1 {
		t.Fatalf("the owner's certificate (%s) cannot list the imported SMP: %v %v", alice.Identity, ids, err)
	}
	// Re-running the same file changes nothing.
	if r, err := runImport(t, f, text, 10); err != nil || r.SMPsUnchanged != 1 || r.SMPsUpdated != 0 {
		t.Fatalf("second import: %+v %v", r, err)
	}
	for _, owner := range []string{"alice", "CN=alice,O=A,C=BE:", "CN=alice,O=A,C=BE:xyz", ":1a"} {
		_, err := runImport(t, f, `{"type":"smp","id":"SMP-P","domain":"sml.test","logical_address":"http://p.example.org","owner":"`+owner+`"}`, 10)
		mustKind(t, err, KindBadRequest, "line 1: ")
	}
}
