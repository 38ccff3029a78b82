package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/internal/pgtest"
)

// TestSMPCommandsOnPostgres: with store.backend postgres and no server running, the admin commands work on the
// database directly (a token created is listed by the next command); backup and restore are refused, naming
// pg_dump and pg_restore, and write nothing.
func TestSMPCommandsOnPostgres(t *testing.T) {
	dir := t.TempDir()
	cfg, _, _, _ := bulkCLIFixture(t, dir)
	y, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bolt := "store: {path: " + filepath.Join(dir, "smp.db") + "}"
	if !strings.Contains(string(y), bolt) {
		t.Fatalf("fixture configuration changed: %s", y)
	}
	pg := "store: {backend: postgres, dsn: '" + pgtest.DSN(t) + "', path: " + filepath.Join(dir, "smp.db") + "}"
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(y), bolt, pg, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := runSMPCLI(t, "smp", "token", "create", "--config", cfg, "--user", "alice", "--admin")
	if err != nil || !strings.Contains(out, "working on the PostgreSQL database") || !strings.Contains(out, "for user alice") {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	out, err = runSMPCLI(t, "smp", "token", "list", "--config", cfg)
	if err != nil || !strings.Contains(out, "alice") {
		t.Fatalf("token list: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "smp.db")); !os.IsNotExist(err) {
		t.Fatalf("a bbolt file was made beside the postgres configuration: %v", err)
	}

	bak := filepath.Join(dir, "smp.bak")
	out, err = runSMPCLI(t, "smp", "backup", "--config", cfg, bak)
	if err == nil || !strings.Contains(err.Error()+out, "pg_dump") {
		t.Fatalf("backup on postgres: %v\n%s", err, out)
	}
	if _, err := os.Stat(bak); !os.IsNotExist(err) {
		t.Fatalf("backup on postgres left a file: %v", err)
	}
	if err := os.WriteFile(bak, []byte("not a store"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runSMPCLI(t, "smp", "restore", "--config", cfg, bak)
	if err == nil || !strings.Contains(err.Error()+out, "pg_restore") {
		t.Fatalf("restore on postgres: %v\n%s", err, out)
	}
}
