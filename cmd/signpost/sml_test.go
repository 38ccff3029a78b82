package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runSMLCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String() + errOut.String(), err
}

// TestSMLImportExportCommands generates an import file, imports it twice (the second run changes nothing) and
// exports the zone.
func TestSMLImportExportCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sml.yaml")
	if err := os.WriteFile(cfg, []byte("store:\n  path: "+filepath.Join(dir, "sml.db")+"\ndomains:\n  - zone: sml.test\n    records: [naptr, cname]\n    glue:\n      ns1.sml.test: [127.0.0.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "in.jsonl")
	if out, err := runSMLCLI(t, "sml", "import", "--generate", "1500", "--smps", "3", file); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	out, err := runSMLCLI(t, "sml", "import", "--config", cfg, "--batch", "400", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if !strings.Contains(out, "participants: 1500 created, 0 updated, 0 unchanged") || !strings.Contains(out, "imported up to line") {
		t.Fatalf("import output:\n%s", out)
	}
	out, err = runSMLCLI(t, "sml", "import", "--config", cfg, file)
	if err != nil || !strings.Contains(out, "participants: 0 created, 0 updated, 1500 unchanged") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	zf := filepath.Join(dir, "sml.test.zone")
	if out, err := runSMLCLI(t, "sml", "export-zone", "--config", cfg, "sml.test", "-o", zf); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	b, err := os.ReadFile(zf)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if n := strings.Count(text, " IN NAPTR "); n != 1500 {
		t.Errorf("%d NAPTR records exported", n)
	}
	if n := strings.Count(text, " IN CNAME "); n != 1500 {
		t.Errorf("%d CNAME records exported", n)
	}
	if !strings.Contains(text, "sml.test. 60 IN SOA ns1.sml.test. hostmaster.sml.test. ") || !strings.Contains(text, "ns1.sml.test. 60 IN A 127.0.0.1") {
		t.Errorf("export head:\n%.600s", text)
	}
	// A bad line: exit code 3, the line named.
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"type":"participant","id":"iso6523-actorid-upis::0088:x","smp":"NOPE"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runSMLCLI(t, "sml", "import", "--config", cfg, bad)
	var ee *exitError
	if err == nil || !strings.Contains(err.Error(), "line 1") || !asExit(err, &ee) || ee.code != 4 {
		t.Fatalf("bad import: %v\n%s", err, out)
	}
	// Unknown zone.
	if _, err := runSMLCLI(t, "sml", "export-zone", "--config", cfg, "other.test"); err == nil || !strings.Contains(err.Error(), "not a zone") {
		t.Fatalf("export of an unknown zone: %v", err)
	}
}

func asExit(err error, target **exitError) bool {
	e, ok := err.(*exitError)
	if ok {
		*target = e
	}
	return ok
}
