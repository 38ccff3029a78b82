package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestSMPTokenAndUserCommands: token create prints a token the store accepts, list shows it by ID, revoke makes the
// store refuse it; user set gives a Basic password; export writes the owners and import reads them back.
func TestSMPTokenAndUserCommands(t *testing.T) {
	dir := t.TempDir()
	cliSigner(t, dir)
	cfgFor := func(db string) string {
		p := filepath.Join(dir, db+".yaml")
		// A free admin port: nothing listens there, so the commands work on the store.
		y := fmt.Sprintf("store: {path: %s}\nadmin: {listen: %q}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
			filepath.Join(dir, db+".db"), testnet.FreeAddr(t), filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"))
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
	tok := tokenIn(out)
	if !strings.HasPrefix(tok, "spt_") || !strings.Contains(out, "working on the store") || !strings.Contains(out, "for user alice") {
		t.Fatalf("token create printed %q", out)
	}
	auth := func(token string) error {
		a := openSMPApp(t, cfg)
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
	id := rowWith(out, "alice")[0]
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

// tokenIn returns the token a token create printed.
func tokenIn(out string) string {
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "spt_") {
			return f
		}
	}
	return ""
}

// rowWith returns the fields of the first line of out that has the field f.
func rowWith(out, f string) []string {
	for _, line := range strings.Split(out, "\n") {
		if fs := strings.Fields(line); slices.Contains(fs, f) {
			return fs
		}
	}
	return []string{""}
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

// TestSMPCommandsAgainstRunningServer: with `smp serve` running (its store locked), status, groups, token and
// user commands go through its admin listener; a token revoked there is refused at once; a wrong admin token
// exits as unauthorized.
func TestSMPCommandsAgainstRunningServer(t *testing.T) {
	dir := t.TempDir()
	leaf := cliSigner(t, dir)
	cfg := filepath.Join(dir, "smp.yaml")
	y := fmt.Sprintf("store: {path: %s}\nops: {addr: %q}\nhttp: {listen: %q}\nadmin: {listen: %q}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
		filepath.Join(dir, "smp.db"), testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t), filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"))
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := conf.LoadSMP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := smpapp.New(ctx, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := smpapp.SeedDemo(ctx, a.Service(), leaf.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	servers := a.Servers()
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for i := len(servers) - 1; i >= 0; i-- {
			_ = servers[i].Shutdown(ctx)
		}
	}()
	run := func(args ...string) string {
		t.Helper()
		out, err := runSMPCLI(t, append(args, "--config", cfg)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if strings.Contains(out, "working on the store") {
			t.Fatalf("%v worked on the store although the server runs:\n%s", args, out)
		}
		return out
	}
	if out := run("smp", "status"); !hasRow(out, "service", "groups", "1") || !hasRow(out, "service", "metadata", "1") {
		t.Fatalf("status:\n%s", out)
	}
	if out := run("smp", "groups", "--json"); !strings.Contains(out, `"participant": "iso6523-actorid-upis::9915:signpost-demo"`) {
		t.Fatalf("groups:\n%s", out)
	}
	tok := tokenIn(run("smp", "token", "create", "--user", "carol"))
	if !strings.HasPrefix(tok, "spt_") {
		t.Fatal("no token printed")
	}
	run("smp", "user", "set", "dave", "--admin")
	if out := run("smp", "user", "list"); !hasRow(out, "carol", "false", "false") || !hasRow(out, "dave", "true", "false") {
		t.Fatalf("user list:\n%s", out)
	}
	if _, err := a.Credentials().Authenticate(ctx, "Bearer "+tok); err != nil {
		t.Fatalf("token made through the admin API refused: %v", err)
	}
	id := rowWith(run("smp", "token", "list"), "carol")[0]
	run("smp", "token", "revoke", id)
	if _, err := a.Credentials().Authenticate(ctx, "Bearer "+tok); err == nil {
		t.Fatal("revoked token accepted")
	}
	bad := filepath.Join(dir, "bad.token")
	if err := os.WriteFile(bad, []byte("spt_wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runSMPCLI(t, "smp", "status", "--config", cfg, "--token-file", bad)
	if err == nil || exitCode(err) != exitUnauthorized {
		t.Fatalf("wrong token: %v (exit %d)\n%s", err, exitCode(err), out)
	}
}

// cliSigner issues an SMP signing certificate from a throwaway CA and writes it to dir/s.pem and dir/s-key.pem.
func cliSigner(t *testing.T, dir string) *pki.Leaf {
	t.Helper()
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
	return leaf
}
