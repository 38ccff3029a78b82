package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/internal/testnet"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// startDevInProcess runs `signpost dev` in this process on free loopback ports until the test ends, and returns its options
// once it says it is ready.
func startDevInProcess(t *testing.T) *devOptions {
	t.Helper()
	o := &devOptions{dir: t.TempDir(), dnsAddr: testnet.FreeAddr(t), smlAddr: testnet.FreeAddr(t), smpAddr: testnet.FreeAddr(t),
		opsAddr: testnet.FreeAddr(t), smpAdminAddr: testnet.FreeAddr(t), smlAdminAddr: testnet.FreeAddr(t), logLevel: "warn"}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runDev(ctx, pw, o)
		_ = pw.CloseWithError(fmt.Errorf("dev ended: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Press Ctrl-C") {
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return o
		}
	}
	t.Fatalf("dev did not get ready: %v", sc.Err())
	return nil
}

// TestDoctorCommand runs `signpost doctor` against `signpost dev`, whose SMP is plain http: the https check fails
// (exit 26, doctor-failed) and every other check passes; with --allow-http all pass (exit 0). With --config it takes
// the SMP's URL, zone and admin listener from the configuration, picks the demo participant and samples.
func TestDoctorCommand(t *testing.T) {
	o := startDevInProcess(t)
	ctx := context.Background()
	ca := filepath.Join(o.dir, "pki", "ca.pem")
	base := []string{"doctor", "--dns", o.dnsAddr, "--zone", "sml.test", "--trust", ca, "--timeout", "30s"}

	// The dev SMP is plain http.
	args := append(append([]string{}, base...), "--smp-url", "http://"+o.smpAddr, smpapp.DemoParticipant)
	out, errOut, code := runSML(t, ctx, args...)
	if code != exitDoctor {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitDoctor, out, errOut)
	}
	t.Logf("signpost %s\n%s%s", strings.Join(args, " "), out, errOut)
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && (f[0] == "✓" || f[0] == "✗" || f[0] == "-") {
			lines[f[1]] = f[0]
		}
	}
	want := map[string]string{"naptr": "✓", "naptr-target": "✓", "https": "✗", "tls": "-", "path-encoding": "✓",
		"signature": "✓", "document-types": "✓", "sml-agrees": "-"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("checks %v, want %v\n%s", lines, want, out)
	}
	if !strings.Contains(out, "fix: serve the SMP over HTTPS") || !strings.Contains(errOut, "doctor: a check failed: https") {
		t.Errorf("no fix or no error line:\n%s\n%s", out, errOut)
	}

	// --allow-http: everything passes.
	args = append(append([]string{}, base...), "--allow-http", "--smp-url", "http://"+o.smpAddr, smpapp.DemoParticipant)
	if out, errOut, code := runSML(t, ctx, args...); code != exitOK || !strings.Contains(out, "all checks passed (2 skipped)") {
		t.Errorf("--allow-http: exit %d\n%s%s", code, out, errOut)
	}

	// --config: the dev SMP's configuration as a file.
	cfg := filepath.Join(t.TempDir(), "smp.yaml")
	y := fmt.Sprintf(`store: {path: %s}
http: {listen: %q}
admin: {listen: %q, token_file: %s}
smp_id: SMP-DEV
public_url: http://%s
signing: {cert: %s, key: %s}
sml: {url: "https://%s", zone: sml.test, ca: %s, physical_address: 127.0.0.1}
`, filepath.Join(o.dir, "smp.db"), o.smpAddr, o.smpAdminAddr, filepath.Join(o.dir, "smp-admin.token"), o.smpAddr,
		filepath.Join(o.dir, "pki", "smp.pem"), filepath.Join(o.dir, "pki", "smp-key.pem"), o.smlAddr, ca)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runSML(t, ctx, "doctor", "--config", cfg, "--dns", o.dnsAddr, "--trust", ca, "--allow-http", "--sample", "5", "--json")
	if code != exitOK {
		t.Fatalf("--config: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		OK          bool   `json:"ok"`
		ExitCode    int    `json:"exitCode"`
		Participant string `json:"participant"`
		SMPURL      string `json:"smpUrl"`
		Checks      []struct {
			ID, Status, Message string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.OK || rep.ExitCode != 0 || rep.Participant != smpapp.DemoParticipant || rep.SMPURL != "http://"+o.smpAddr || len(rep.Checks) != 8 {
		t.Errorf("report %+v", rep)
	}
	if c := rep.Checks[7]; c.ID != "sml-agrees" || c.Status != "pass" || !strings.Contains(c.Message, "all 1 sampled") {
		t.Errorf("sml-agrees: %+v", c)
	}

	// Without --allow-http the JSON report fails the same way as the text one.
	out, _, code = runSML(t, ctx, "doctor", "--config", cfg, "--dns", o.dnsAddr, "--trust", ca, "--json")
	if code != exitDoctor || !strings.Contains(out, `"failed": [`+"\n"+`    "https"`+"\n  ]") {
		t.Errorf("--config without --allow-http: exit %d\n%s", code, out)
	}
}

// TestDoctorUsage: what keeps the checks from running is a usage error (exit 2) that says what to give.
func TestDoctorUsage(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "none.pem")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"doctor", "--zone", "sml.test", "iso6523-actorid-upis::9915:x"}, "--trust FILE is required"},
		{[]string{"doctor", "--zone", "sml.test", "--trust", ca}, "name a participant"},
		{[]string{"doctor", "--zone", "sml.test", "--trust", ca, "--sample", "3", "iso6523-actorid-upis::9915:x"}, "give --config"},
		{[]string{"doctor", "--network", "peppol-prod", "--zone", "x.test", "--trust", ca, "iso6523-actorid-upis::9915:x"}, "leave out one of them"},
		{[]string{"doctor", "--zone", "sml.test", "--min-validity", "0s", "iso6523-actorid-upis::9915:x"}, "--min-validity"},
		{[]string{"doctor", "--zone", "sml.test", "--trust", ca, "iso6523-actorid-upis::9915:x"}, "--trust"},
	} {
		_, errOut, code := runSML(t, context.Background(), tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.says) {
			t.Errorf("%v: exit %d, want %d saying %q\n%s", tc.args, code, exitUsage, tc.says, errOut)
		}
	}
}
