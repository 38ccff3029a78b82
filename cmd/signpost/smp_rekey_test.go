package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestSMPRekeyCommandRunningServer: `smp rekey` reaches a running server through its admin listener and switches
// it at once (no SML configured); --at and --force together, and --at with a bad date, are refused before
// anything happens; on the stopped store, rekey without key files finds nothing to re-sign.
func TestSMPRekeyCommandRunningServer(t *testing.T) {
	dir := t.TempDir()
	cliSigner(t, dir)
	now := time.Now()
	ca, err := pki.NewRoot("CLI rekey CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	next, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "cli signer next", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	nc, nk := filepath.Join(dir, "next.pem"), filepath.Join(dir, "next-key.pem")
	if err := next.WriteFiles(nc, nk); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "smp.yaml")
	y := fmt.Sprintf("store: {path: %s}\nops: {addr: \"\"}\nhttp: {listen: %q}\nadmin: {listen: %q}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
		filepath.Join(dir, "smp.db"), testnet.FreeAddr(t), testnet.FreeAddr(t), filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"))
	if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"--at", "2030-01-01", "--force"}, {"--at", "tomorrow"}, {"--force"}} {
		args := append([]string{"smp", "rekey", "--config", cfgPath}, bad...)
		if bad[0] != "--force" {
			args = append(args, "--cert", nc, "--key", nk)
		}
		if out, err := runSMPCLI(t, args...); err == nil {
			t.Fatalf("rekey %v accepted:\n%s", bad, out)
		}
	}
	cfg, err := conf.LoadSMP(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	servers := a.Servers()
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runSMPCLI(t, "smp", "rekey", "--config", cfgPath, "--cert", nc, "--key", nk)
	for i := len(servers) - 1; i >= 0; i-- {
		_ = servers[i].Shutdown(ctx)
	}
	gen, fp := a.Service().Generation(), smp.Fingerprint(a.Service().Certificate())
	_ = a.Close()
	if err != nil || strings.Contains(out, "working on the store") || !strings.Contains(out, "switched to key generation 2") {
		t.Fatalf("rekey on the running server: %v\n%s", err, out)
	}
	if gen != 2 || fp != smp.Fingerprint(next.Cert) {
		t.Fatalf("the running server signs with generation %d", gen)
	}
	if out, err := runSMPCLI(t, "smp", "rekey", "--config", cfgPath); err != nil || !strings.Contains(out, "nothing to do") {
		t.Fatalf("rekey without files on the stopped store: %v\n%s", err, out)
	}
}

// TestSMPMigrateCommands: migrate-out and migrate-in (under a temporary `smp sml` parent; the real one is built in
// smp_sml.go) work on a stopped store and say clearly that an SMP without an SML cannot migrate.
func TestSMPMigrateCommands(t *testing.T) {
	dir := t.TempDir()
	cliSigner(t, dir)
	cfgPath := filepath.Join(dir, "smp.yaml")
	y := fmt.Sprintf("store: {path: %s}\nadmin: {listen: %q}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
		filepath.Join(dir, "smp.db"), testnet.FreeAddr(t), filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"))
	if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var smpCmd *cobra.Command
		for _, c := range root.Commands() {
			if c.Name() == "smp" {
				smpCmd = c
			}
		}
		parent := &cobra.Command{Use: "sml-test"}
		parent.AddCommand(newSMPMigrateCmds()...)
		smpCmd.AddCommand(parent)
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"smp", "sml-test"}, args...))
		err := root.Execute()
		return out.String(), err
	}
	p := "iso6523-actorid-upis::9915:migrate"
	if out, err := run("migrate-out", "--config", cfgPath, p); err == nil || !strings.Contains(out+err.Error(), "registers in no SML") {
		t.Fatalf("migrate-out without an SML: %v\n%s", err, out)
	}
	if out, err := run("migrate-in", "--config", cfgPath, p); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("migrate-in without --key: %v\n%s", err, out)
	}
	if out, err := run("migrate-in", "--config", cfgPath, p, "--key", "Aa11@@bbCC22"); err == nil || !strings.Contains(out+err.Error(), "registers in no SML") {
		t.Fatalf("migrate-in without an SML: %v\n%s", err, out)
	}
	if out, err := run("migrate-out", "--config", cfgPath, "not an identifier"); err == nil {
		t.Fatalf("migrate-out of a malformed participant: %s", out)
	}
}
