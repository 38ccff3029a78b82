package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/internal/testnet"
)

// The SML's commands that open the store themselves (server stopped) open the PostgreSQL store of
// store.backend postgres, as the server does: status, console users; backup and restore point to PostgreSQL's
// tools.
func TestSMLCommandsOnPostgres(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sml.yaml")
	if err := os.WriteFile(cfgPath, []byte(`store:
  backend: postgres
  dsn: `+pgtest.DSN(t)+`
  path: `+filepath.Join(dir, "sml.db")+`
log:
  level: error
dns:
  listen: `+testnet.FreeAddr(t)+`
admin:
  listen: `+testnet.FreeAddr(t)+`
domains:
  - zone: sml.test
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, errOut, code := runSML(t, ctx, "sml", "status", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "sml.test.") || !strings.Contains(errOut, "PostgreSQL") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "user", "set", "--config", cfgPath, "--password-file", pw, "ops"); code != 0 {
		t.Fatalf("user set: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "user", "list", "--config", cfgPath); code != 0 || !strings.Contains(out, "ops") {
		t.Fatalf("user list: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "sml.db")); err == nil {
		t.Error("a bbolt file was created for a PostgreSQL store")
	}
	out, errOut, code = runSML(t, ctx, "sml", "backup", "--config", cfgPath, filepath.Join(dir, "b.db"))
	if code == 0 || !strings.Contains(errOut, "pg_dump") {
		t.Errorf("backup: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSML(t, ctx, "sml", "restore", "--config", cfgPath, cfgPath)
	if code == 0 || !strings.Contains(errOut, "PostgreSQL") {
		t.Errorf("restore: exit %d\n%s%s", code, out, errOut)
	}
}
