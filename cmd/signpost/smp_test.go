package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
)

func runSMPCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestSMPImportExportRekeyCommands drives the admin commands on one store: import (twice: the second changes
// nothing), import of a directory of XML bodies, export, and rekey with new key files.
func TestSMPImportExportRekeyCommands(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, err := pki.NewRoot("CLI CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var leaves [2]*pki.Leaf
	for i := range leaves {
		if leaves[i], err = ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: fmt.Sprint("cli signer ", i), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := leaves[i].WriteFiles(filepath.Join(dir, fmt.Sprint(i, ".pem")), filepath.Join(dir, fmt.Sprint(i, "-key.pem"))); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "smp.yaml")
	yaml := fmt.Sprintf("store: {path: %s}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
		filepath.Join(dir, "smp.db"), filepath.Join(dir, "0.pem"), filepath.Join(dir, "0-key.pem"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.jsonl")
	lines := `{"service_group":{"participant":"iso6523-actorid-upis::9915:cli"}}
{"service_metadata":{"participant":"iso6523-actorid-upis::9915:cli","document_type":"busdox-docid-qns::urn:x::Invoice##y::2.1","processes":[{"id":"cenbii-procid-ubl::p","endpoints":[{"transport_profile":"peppol-transport-as4-v2_0","address":"https://ap.test/as4"}]}]}}
`
	if err := os.WriteFile(in, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runSMPCLI(t, "smp", "import", "--config", cfg, in)
	if err != nil || !strings.Contains(out, "2 created, 0 replaced, 0 unchanged") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = runSMPCLI(t, "smp", "import", "--config", cfg, in)
	if err != nil || !strings.Contains(out, "0 created, 0 replaced, 2 unchanged") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	xmlDir := filepath.Join(dir, "xml")
	if err := os.MkdirAll(xmlDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"peppol-smp1_peppol-service-group.xml", "bdxr-smp1_bdxr1-service-metadata.xml"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/smp/samples", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(xmlDir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err = runSMPCLI(t, "smp", "import", "--config", cfg, xmlDir); err != nil || !strings.Contains(out, "2 created") {
		t.Fatalf("import dir: %v\n%s", err, out)
	}
	if out, err = runSMPCLI(t, "smp", "import", "--config", cfg, filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Fatalf("import of a missing file succeeded: %s", out)
	}
	out, err = runSMPCLI(t, "smp", "rekey", "--config", cfg, "--cert", filepath.Join(dir, "1.pem"), "--key", filepath.Join(dir, "1-key.pem"))
	if err != nil || !strings.Contains(out, "switched to key generation 2") {
		t.Fatalf("rekey: %v\n%s", err, out)
	}
	exp := filepath.Join(dir, "out.jsonl")
	if out, err = runSMPCLI(t, "smp", "export", "--config", cfg, exp); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	b, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 4 || !strings.Contains(string(b), `"participant":"iso6523-actorid-upis::9915:xxx"`) {
		t.Errorf("export has %d lines:\n%s", n, b)
	}
}
