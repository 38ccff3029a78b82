package sml

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportZoneLoadsInKnotAndBIND exports a zone with every record kind and has the real Knot (knotc
// zone-check, offline) and BIND (named-checkzone) load it.
func TestExportZoneLoadsInKnotAndBIND(t *testing.T) {
	f := newFixture(t, Options{})
	f.createSMP(t, alice, "SMP-A", "http://smp.example.org")
	if err := f.s.CreateSMP(ctx, bob, SMP{ID: "SMP_B", LogicalAddress: "https://smp.b.example.org:8443/path"}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CreateParticipants(ctx, alice, "SMP-A", []ParticipantSpec{{ID: pid("0088:5798000000001")}, {ID: pid("9915:test"), Service: "oasis-bdxr-smp-2#dbnalliance-1.1"}}); err != nil {
		t.Fatal(err)
	}
	w := alice
	w.Wildcard = true
	if err := f.s.CreateParticipants(ctx, w, "SMP-A", specs("*")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.s.ExportZone(&buf, "SML.TEST"); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"$ORIGIN sml.test.\n",
		fmt.Sprintf("sml.test. 60 IN SOA ns1.sml.test. hostmaster.sml.test. %d 3600 600 1209600 60\n", f.serial(t, testZone)),
		"sml.test. 60 IN NS ns1.sml.test.\n",
		`reana6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.iso6523-actorid-upis.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp.example.org!" .` + "\n",
		"B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.sml.test. 60 IN CNAME smp-a.publisher.sml.test.\n",
		"smp-a.publisher.sml.test. 60 IN A 192.0.2.7\n",
		"smp_b.publisher.sml.test. 60 IN CNAME smp.b.example.org.\n",
		`*.iso6523-actorid-upis.sml.test. 60 IN NAPTR 100 10 "U" "Meta:SMP" "!^.*$!http://smp.example.org!" .` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("export:\n%s", text)
	}
	dir := t.TempDir()
	zf := filepath.Join(dir, "sml.test.zone")
	if err := os.WriteFile(zf, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "*.iso6523-actorid-upis.sml.test. 60 IN CNAME") {
		t.Error("a wildcard participant has a CNAME beside its NAPTR")
	}
	t.Run("knot", func(t *testing.T) { knotCheck(t, dir, zf) })
	t.Run("bind", func(t *testing.T) { bindCheck(t, zf) })
}

func knotCheck(t *testing.T, dir, zf string) {
	knotc, err := exec.LookPath("knotc")
	if err != nil {
		t.Fatal("knotc not installed (apt-get install knot)")
	}
	cfg := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
    rundir: "%[1]s"
database:
    storage: "%[1]s/db"
template:
  - id: default
    storage: "%[1]s"
    semantic-checks: on
zone:
  - domain: sml.test
    file: "%[2]s"
`, dir, zf)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(knotc, "-c", cfg, "zone-check", "sml.test").CombinedOutput()
	if err != nil || strings.Contains(string(out), "error") {
		t.Fatalf("knotc zone-check: %v\n%s", err, out)
	}
	t.Logf("knotc zone-check: %s", strings.TrimSpace(string(out)))
}

func bindCheck(t *testing.T, zf string) {
	nc, err := exec.LookPath("named-checkzone")
	if err != nil {
		t.Fatal("named-checkzone not installed (apt-get install bind9-utils)")
	}
	out, err := exec.Command(nc, "-i", "full", "sml.test", zf).CombinedOutput()
	if err != nil {
		t.Fatalf("named-checkzone: %v\n%s", err, out)
	}
	t.Logf("named-checkzone: %s", strings.TrimSpace(string(out)))
}
