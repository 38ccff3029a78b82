package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestSMPTokenAndUserCommands: token create prints a token the store accepts, list shows it by ID, revoke makes the
// store refuse it; user set gives a Basic password; export writes the owners and import reads them back.
func TestSMPTokenAndUserCommands(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, err := pki.NewRoot("CLI CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "cli signer", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.WriteFiles(filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem")); err != nil {
		t.Fatal(err)
	}
	cfgFor := func(db string) string {
		p := filepath.Join(dir, db+".yaml")
		y := fmt.Sprintf("store: {path: %s}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
			filepath.Join(dir, db+".db"), filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"))
		if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := cfgFor("one")
	out, err := runSMPCLI(t, "smp", "token", "create", "--config", cfg, "--user", "alice", "--admin")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	tok := strings.Fields(out)[0]
	if !strings.HasPrefix(tok, "spt_") || !strings.Contains(out, "for user alice") {
		t.Fatalf("token create printed %q", out)
	}
	auth := func(token string) error {
		c, err := conf.LoadSMP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a, err := smpapp.New(context.Background(), c, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		act, err := a.Credentials().Authenticate(context.Background(), "Bearer "+token)
		if err == nil && (!act.Admin || act.User != "alice") {
			t.Fatalf("actor %+v", act)
		}
		return err
	}
	if err := auth(tok); err != nil {
		t.Fatalf("created token refused: %v", err)
	}
	out, err = runSMPCLI(t, "smp", "token", "list", "--config", cfg)
	if err != nil || !strings.Contains(out, "alice") || strings.Contains(out, tok) {
		t.Fatalf("token list: %v\n%s", err, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	if out, err = runSMPCLI(t, "smp", "token", "revoke", "--config", cfg, id); err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if err := auth(tok); err == nil {
		t.Fatal("revoked token accepted")
	}
	if out, err = runSMPCLI(t, "smp", "token", "revoke", "--config", cfg, id); err == nil {
		t.Fatalf("second revoke succeeded: %s", out)
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("a long enough password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err = runSMPCLI(t, "smp", "user", "set", "--config", cfg, "bob", "--password-file", pw); err != nil {
		t.Fatalf("user set: %v\n%s", err, out)
	}
	out, err = runSMPCLI(t, "smp", "user", "list", "--config", cfg)
	if err != nil || !hasRow(out, "bob", "false", "true") {
		t.Fatalf("user list: %v\n%s", err, out)
	}
	exp := filepath.Join(dir, "out.jsonl")
	if out, err = runSMPCLI(t, "smp", "export", "--config", cfg, exp); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(exp)
	if string(b) != `{"owner":{"name":"alice","admin":true}}`+"\n"+`{"owner":{"name":"bob"}}`+"\n" {
		t.Fatalf("export:\n%s", b)
	}
	two := cfgFor("two")
	if out, err = runSMPCLI(t, "smp", "import", "--config", two, exp); err != nil || !strings.Contains(out, "2 owners read") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = runSMPCLI(t, "smp", "user", "list", "--config", two)
	if err != nil || !hasRow(out, "alice", "true", "false") || !hasRow(out, "bob", "false", "false") {
		t.Fatalf("imported users: %v\n%s", err, out)
	}
	if out, err = runSMPCLI(t, "smp", "user", "delete", "--config", two, "bob"); err != nil {
		t.Fatalf("user delete: %v\n%s", err, out)
	}
}

// hasRow reports whether a table printed by a list command has a row starting with these fields.
func hasRow(out string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(fields) && strings.Join(f[:len(fields)], " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
