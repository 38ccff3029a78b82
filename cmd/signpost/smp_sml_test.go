package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/registrar"
)

// TestSMPSMLCommands drives `smp status PARTICIPANT` and `smp sml ...` against `signpost dev` (through the SMP's
// admin listener) and against a stopped store of a second SMP (the command makes the SML calls itself).
func TestSMPSMLCommands(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	ports := freeDevPorts(t)
	dnsAddr, smlAddr, smpAdmin := ports["--dns-addr"], ports["--sml-addr"], ports["--smp-admin-addr"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	startDev(t, ctx, bin, dir, ports)

	tok := filepath.Join(dir, "smp-admin.token")
	run := func(want int, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("signpost %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return string(out)
	}
	admin := []string{"--admin-addr", smpAdmin, "--token-file", tok}
	const demo = "iso6523-actorid-upis::9915:signpost-demo"
	lookupDemo := []string{"lookup", "--dns", dnsAddr, "--zone", "sml.test", "--trust", filepath.Join(dir, "pki", "ca.pem"), demo}

	if out := run(0, append([]string{"smp", "status", demo}, admin...)...); !strings.Contains(out, "registered (create)") {
		t.Errorf("smp status %s:\n%s", demo, out)
	}
	if out := run(0, append([]string{"smp", "status"}, admin...)...); !strings.Contains(out, "SMP registered; participants 1 registered, 0 pending, 0 failed") {
		t.Errorf("smp status:\n%s", out)
	}
	if out := run(0, append([]string{"smp", "sml", "participants", "--state", "registered"}, admin...)...); !strings.Contains(out, demo) {
		t.Errorf("smp sml participants:\n%s", out)
	}
	if out := run(0, append([]string{"smp", "sml", "retry", "--all-failed"}, admin...)...); !strings.Contains(out, "0 registration(s)") {
		t.Errorf("retry --all-failed:\n%s", out)
	}
	run(exitBadRequest, append([]string{"smp", "sml", "retry", demo}, admin...)...) // registered, not failed
	run(exitUsage, append([]string{"smp", "sml", "retry"}, admin...)...)
	run(exitNotFound, append([]string{"smp", "status", "iso6523-actorid-upis::9915:nobody"}, admin...)...)
	if out := run(0, append([]string{"smp", "sml", "update"}, admin...)...); !strings.Contains(out, "SMP updated in the SML") {
		t.Errorf("smp sml update:\n%s", out)
	}

	// Unregister: the SML deletes the SMP and its participants; nothing comes back until register.
	if out := run(0, append([]string{"smp", "sml", "unregister"}, admin...)...); !strings.Contains(out, "1 participant registration(s) forgotten") {
		t.Errorf("smp sml unregister:\n%s", out)
	}
	run(lookupExitCode(lookup.NotRegistered), lookupDemo...)
	if out := run(0, append([]string{"smp", "sml", "status"}, admin...)...); !strings.Contains(out, "unregistered by the operator") {
		t.Errorf("status after unregister:\n%s", out)
	}
	run(exitSMLPending, append([]string{"smp", "sml", "status", "--wait", "300ms"}, admin...)...)
	if out := run(0, append([]string{"smp", "sml", "register"}, admin...)...); !strings.Contains(out, "SMP created in the SML") {
		t.Errorf("smp sml register:\n%s", out)
	}
	if out := run(0, append([]string{"smp", "sml", "status", "--wait", "10s"}, admin...)...); !strings.Contains(out, "1 registered, 0 pending, 0 failed") {
		t.Errorf("status after register:\n%s", out)
	}
	run(0, lookupDemo...)

	// A second SMP whose server is stopped: the commands work on its store and call the SML themselves.
	cfg := filepath.Join(dir, "smp2.yaml")
	y := fmt.Sprintf("store: {path: %s}\nops: {addr: \"\"}\nhttp: {listen: %q}\nadmin: {listen: %q}\nsmp_id: SMP-CLI\npublic_url: http://smp-cli.test\n"+
		"signing: {cert: %s, key: %s}\nsml: {url: \"https://%s\", ca: %s}\n",
		filepath.Join(dir, "smp2.db"), testnet.FreeAddr(t), testnet.FreeAddr(t), filepath.Join(dir, "pki", "smp.pem"), filepath.Join(dir, "pki", "smp-key.pem"),
		smlAddr, filepath.Join(dir, "pki", "ca.pem"))
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run(0, "smp", "sml", "register", "--config", cfg); !strings.Contains(out, "SMP created in the SML") {
		t.Errorf("register on the store:\n%s", out)
	}
	if out := run(0, "smp", "sml", "status", "--config", cfg, "--json"); !strings.Contains(out, `"registered": true`) {
		t.Errorf("status on the store:\n%s", out)
	}
	if out := run(0, "smp", "sml", "register", "--config", cfg); !strings.Contains(out, "SMP unchanged in the SML") {
		t.Errorf("second register on the store:\n%s", out)
	}
	run(0, "smp", "sml", "unregister", "--config", cfg)
	// The SML refuses what the SMP may not do, with its own message: SMP-CLI is gone, so an update fails.
	if out := run(exitSML, "smp", "sml", "update", "--config", cfg); !strings.Contains(out, "SMP-CLI") {
		t.Errorf("update of a deleted SMP:\n%s", out)
	}
}

// TestPrintSMLStatusStandby: on a node that does not deliver the outbox (another node of a shared store holds the
// leader lock), `smp sml status` says which node delivers instead of an empty last error.
func TestPrintSMLStatusStandby(t *testing.T) {
	st := registrar.Status{SML: "https://sml.test", SMPID: "SMP-1", Self: smp.SMLSelf{Registered: true}}
	var out strings.Builder
	if err := printSMLStatus(&out, st); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "another node") {
		t.Errorf("the delivering node's status mentions another node:\n%s", out.String())
	}
	st.Standby = true
	out.Reset()
	if err := printSMLStatus(&out, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "delivery") || !strings.Contains(out.String(), "by another node (the one whose signpost_smp_runs_jobs is 1)") {
		t.Errorf("a standby node's status does not say that another node delivers:\n%s", out.String())
	}
}
