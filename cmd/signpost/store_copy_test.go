package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/internal/pgtest"
	"github.com/signpost-project/signpost/smp"
)

// smlStoreFixture fills the SML store of a new configuration under dir with 300 participants over 3 SMPs and a
// console user, and returns the configuration's path.
func smlStoreFixture(t *testing.T, dir string) string {
	t.Helper()
	cfg, _ := smlConfig(t, dir)
	ctx := context.Background()
	file := filepath.Join(dir, "gen.jsonl")
	if _, errOut, code := runSML(t, ctx, "sml", "import", "--generate", "300", "--smps", "3", file); code != 0 {
		t.Fatalf("generate: %d %s", code, errOut)
	}
	if _, errOut, code := runSML(t, ctx, "sml", "import", "--config", cfg, file); code != 0 {
		t.Fatalf("import: %d %s", code, errOut)
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runSML(t, ctx, "sml", "user", "set", "--config", cfg, "alice", "--password-file", pw); code != 0 {
		t.Fatalf("user set: %d %s", code, errOut)
	}
	return cfg
}

// withStorePath writes a copy of the configuration at cfg whose store.path is path.
func withStorePath(t *testing.T, cfg, path string) string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "path: ") && i > 0 && strings.TrimSpace(lines[i-1]) == "store:" {
			lines[i] = "  path: " + path
		}
	}
	out := filepath.Join(t.TempDir(), filepath.Base(cfg))
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func exportZone(t *testing.T, cfg string) string {
	t.Helper()
	zf := filepath.Join(t.TempDir(), "zone")
	if _, errOut, code := runSML(t, context.Background(), "sml", "export-zone", "--config", cfg, "sml.test", "-o", zf); code != 0 {
		t.Fatalf("export-zone: %d %s", code, errOut)
	}
	b, err := os.ReadFile(zf)
	if err != nil {
		t.Fatal(err)
	}
	// The first line says when the zone was exported (to the second): two exports may differ there only.
	_, zone, _ := strings.Cut(string(b), "\n")
	if !strings.HasPrefix(string(b), "; zone ") || !strings.Contains(zone, " SOA ") {
		t.Fatalf("export-zone wrote no zone:\n%s", b)
	}
	return zone
}

// TestStoreCopyBolt: an SML store copied to a new bbolt file exports the very same zone (serial included) and
// keeps its console user; copying again is harmless; copying into a store that holds other records fails with
// copy-mismatch; bad arguments are usage errors.
func TestStoreCopyBolt(t *testing.T) {
	dir := t.TempDir()
	cfg := smlStoreFixture(t, dir)
	src := filepath.Join(dir, "sml.db")
	dst := filepath.Join(t.TempDir(), "copy.db")
	ctx := context.Background()
	out, errOut, code := runSML(t, ctx, "store", "copy", "--from", "bolt:"+src, "--to", "bolt:"+dst)
	if code != 0 {
		t.Fatalf("copy: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "participants 300") || !strings.Contains(out, "console users 1") {
		t.Errorf("copy output lacks the counts:\n%s", out)
	}
	want := exportZone(t, cfg)
	copyCfg := withStorePath(t, cfg, dst)
	if got := exportZone(t, copyCfg); got != want {
		t.Errorf("the copy exports another zone:\n%s\nwant:\n%s", got, want)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "user", "list", "--config", copyCfg); code != 0 || !strings.Contains(out, "alice") {
		t.Errorf("console user not copied: %d %s %s", code, out, errOut)
	}
	// Again: the same store.
	if out, errOut, code := runSML(t, ctx, "store", "copy", "--from", "bolt:"+src, "--to", "bolt:"+dst); code != 0 {
		t.Fatalf("second copy: %d %s %s", code, out, errOut)
	}
	if got := exportZone(t, copyCfg); got != want {
		t.Errorf("the second copy changed the zone")
	}
	// Into a store with other participants: the counts disagree.
	small := t.TempDir()
	smallCfg, _ := smlConfig(t, small)
	file := filepath.Join(small, "gen.jsonl")
	if _, errOut, code := runSML(t, ctx, "sml", "import", "--generate", "10", "--smps", "1", "--owner", "CN=OTHER,O=x,C=BE:9", file); code != 0 {
		t.Fatalf("generate: %s", errOut)
	}
	if _, errOut, code := runSML(t, ctx, "sml", "import", "--config", smallCfg, file); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	if out, errOut, code := runSML(t, ctx, "store", "copy", "--from", "bolt:"+filepath.Join(small, "sml.db"), "--to", "bolt:"+dst); code != exitCopyMismatch {
		t.Errorf("copy into a non-empty store: exit %d, want %d\n%s%s", code, exitCopyMismatch, out, errOut)
	} else if !strings.Contains(errOut, "empty store") {
		t.Errorf("mismatch message does not say what to do: %s", errOut)
	}
	for _, args := range [][]string{
		{"store", "copy", "--from", src, "--to", "bolt:" + dst},
		{"store", "copy", "--from", "bolt:" + src, "--to", "bolt:" + src},
		{"store", "copy", "--from", "bolt:" + src, "--to", "bolt:" + dst, "--what", "dns"},
	} {
		if _, _, code := runSML(t, ctx, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// smpStoreFixture fills the SMP store of a new configuration under dir with 60 service groups (each with one
// service metadata, signed) and a user with a token; it returns the configuration's path and the CA's file.
func smpStoreFixture(t *testing.T, dir string) (cfg, caFile string) {
	t.Helper()
	cfg, old, _, _ := bulkCLIFixture(t, dir)
	ctx := context.Background()
	a := openSMPApp(t, cfg)
	var groups []smp.ServiceGroup
	var metas []smp.ServiceMetadata
	for i := range 60 {
		p := bulkCLIParticipant(i)
		groups = append(groups, smp.ServiceGroup{Participant: p})
		e := smp.Endpoint{TransportProfile: "peppol-transport-as4-v2_0", Address: "https://ap.cli.test/as4", Certificate: old.Cert.Raw}
		metas = append(metas, smp.ServiceMetadata{Participant: p, DocumentType: bulkCLIDoc, Processes: []smp.Process{{ID: bulkCLIProc, Endpoints: []smp.Endpoint{e}}}})
	}
	if _, err := a.Service().PutBatch(ctx, groups, metas); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := runSMPCLI(t, "smp", "token", "create", "--config", cfg, "--user", "bob"); err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	return cfg, filepath.Join(dir, "ca.pem")
}

func smpExport(t *testing.T, cfg string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "export.jsonl")
	if out, err := runSMPCLI(t, "smp", "export", "--config", cfg, f); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// smpDocuments reads the signed service metadata of every fixture group from the SMP store of cfg.
func smpDocuments(t *testing.T, cfg string) [][]byte {
	t.Helper()
	a := openSMPApp(t, cfg)
	defer a.Close()
	return bulkDocs(t, a.Service(), 60)
}

// TestStoreCopySMPBolt: an SMP store copied to a new bbolt file serves the very same signed documents (which
// xmlsec1 verifies), exports the same groups and keeps its users and tokens.
func TestStoreCopySMPBolt(t *testing.T) {
	dir := t.TempDir()
	cfg, caFile := smpStoreFixture(t, dir)
	dst := filepath.Join(t.TempDir(), "copy.db")
	out, errOut, code := runSML(t, context.Background(), "store", "copy", "--from", "bolt:"+filepath.Join(dir, "smp.db"), "--to", "bolt:"+dst)
	if code != 0 {
		t.Fatalf("copy: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "groups 60") || !strings.Contains(out, "tokens 1") {
		t.Errorf("copy output lacks the counts:\n%s", out)
	}
	copyCfg := withStorePath(t, cfg, dst)
	if got, want := smpExport(t, copyCfg), smpExport(t, cfg); got != want {
		t.Errorf("the copy exports other groups")
	}
	want, got := smpDocuments(t, cfg), smpDocuments(t, copyCfg)
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("document %d differs after the copy", i)
		}
	}
	if ok, msg := xmlsecVerifies(t, caFile, got[0]); !ok {
		t.Errorf("copied document does not verify: %s", msg)
	}
	if out, err := runSMPCLI(t, "smp", "token", "list", "--config", copyCfg); err != nil || !strings.Contains(out, "bob") {
		t.Errorf("token not copied: %v\n%s", err, out)
	}
}

// TestStoreCopyPostgres: bbolt to PostgreSQL and back, for an SML and an SMP store sharing one database: the
// round trip exports the same zone and serves the same signed documents; a second copy is harmless; a server
// started on the database serves what was copied.
func TestStoreCopyPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	dir := t.TempDir()
	smlCfg := smlStoreFixture(t, dir)
	for range 2 {
		if out, errOut, code := runSML(t, ctx, "store", "copy", "--from", "bolt:"+filepath.Join(dir, "sml.db"), "--to", "postgres:"+dsn); code != 0 {
			t.Fatalf("copy sml to postgres: %d %s %s", code, out, errOut)
		}
	}
	back := filepath.Join(t.TempDir(), "back.db")
	out, errOut, code := runSML(t, ctx, "store", "copy", "--from", dsn, "--to", "bolt:"+back, "--what", "sml", "--json")
	if code != 0 {
		t.Fatalf("copy sml back: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, `"participants": 300`) || !strings.Contains(out, `"match": true`) {
		t.Errorf("json report:\n%s", out)
	}
	if got, want := exportZone(t, withStorePath(t, smlCfg, back)), exportZone(t, smlCfg); got != want {
		t.Errorf("the round trip through PostgreSQL exports another zone:\n%s\nwant:\n%s", got, want)
	}

	smpDir := t.TempDir()
	smpCfg, caFile := smpStoreFixture(t, smpDir)
	if out, errOut, code := runSML(t, ctx, "store", "copy", "--from", "bolt:"+filepath.Join(smpDir, "smp.db"), "--to", "postgres:"+dsn); code != 0 {
		t.Fatalf("copy smp to postgres: %d %s %s", code, out, errOut)
	}
	// The database now holds both: the source must be named.
	if _, errOut, code := runSML(t, ctx, "store", "copy", "--from", "postgres:"+dsn, "--to", "bolt:"+filepath.Join(t.TempDir(), "x.db")); code == 0 {
		t.Errorf("a database with both stores copied without --what")
	} else if !strings.Contains(errOut, "--what") {
		t.Errorf("the refusal does not say to give --what: %s", errOut)
	}
	smpBack := filepath.Join(t.TempDir(), "smp-back.db")
	if out, errOut, code := runSML(t, ctx, "store", "copy", "--from", "postgres:"+dsn, "--what", "smp", "--to", "bolt:"+smpBack); code != 0 {
		t.Fatalf("copy smp back: %d %s %s", code, out, errOut)
	}
	want := smpDocuments(t, smpCfg)
	pgCfg := withPostgresStore(t, smpCfg, dsn)
	for name, c := range map[string]string{"postgres": pgCfg, "round trip": withStorePath(t, smpCfg, smpBack)} {
		got := smpDocuments(t, c)
		for i := range want {
			if string(got[i]) != string(want[i]) {
				t.Fatalf("%s: document %d differs", name, i)
			}
		}
	}
	if ok, msg := xmlsecVerifies(t, caFile, want[0]); !ok {
		t.Errorf("document does not verify: %s", msg)
	}
}

// withPostgresStore writes a copy of the configuration at cfg whose store is the PostgreSQL database dsn.
func withPostgresStore(t *testing.T, cfg, dsn string) string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "store: {path: ", "store: {backend: postgres, dsn: '"+dsn+"', path: ", 1)
	if s == string(b) {
		t.Fatalf("no store line in %s", cfg)
	}
	out := filepath.Join(t.TempDir(), "smp.yaml")
	if err := os.WriteFile(out, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStoreUnavailableExitCode: a command that cannot reach the PostgreSQL database of its store itself (no server
// running, the database stopped) exits 27 store-unavailable and says the database is unavailable.
func TestStoreUnavailableExitCode(t *testing.T) {
	c := pgtest.Start(t)
	dsn := c.NewDatabase(t)
	dir := t.TempDir()
	cfg, _, _, _ := bulkCLIFixture(t, dir)
	pgCfg := withPostgresStore(t, cfg, dsn)
	if out, err := runSMPCLI(t, "smp", "status", "--config", pgCfg); err != nil {
		t.Fatalf("status with the database up: %v\n%s", err, out)
	}
	c.Stop()
	ctx := context.Background()
	for _, args := range [][]string{
		{"smp", "status", "--config", pgCfg},
		{"store", "copy", "--from", "postgres:" + dsn, "--to", "bolt:" + filepath.Join(dir, "x.db")},
	} {
		_, errOut, code := runSML(t, ctx, args...)
		if code != exitStoreUnavailable || !strings.Contains(errOut, "unavailable") {
			t.Errorf("%v with the database stopped: exit %d, want %d\n%s", args, code, exitStoreUnavailable, errOut)
		}
	}
}
