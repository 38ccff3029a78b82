package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/testnet"
)

// buildBinary builds bin/signpost for the test into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signpost")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// devPorts are the addresses of a `signpost dev` a test starts, by the flag that sets each.
type devPorts map[string]string

// freeDevPorts returns a free loopback address for each of dev's listeners.
func freeDevPorts(t *testing.T) devPorts {
	p := devPorts{}
	for _, f := range []string{"--dns-addr", "--sml-addr", "--smp-addr", "--smp-admin-addr", "--sml-admin-addr", "--ops-addr"} {
		p[f] = testnet.FreeAddr(t)
	}
	return p
}

// startDev runs `bin dev --dir dir` on ports until the test ends (SIGTERM), and returns once it says it is ready.
func startDev(t *testing.T, ctx context.Context, bin, dir string, ports devPorts) {
	t.Helper()
	args := []string{"dev", "--dir", dir}
	for f, a := range ports {
		args = append(args, f, a)
	}
	dev := exec.CommandContext(ctx, bin, args...)
	stdout, err := dev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	dev.Stderr = &stderr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dev.Process.Signal(syscall.SIGTERM)
		_ = dev.Wait()
		if t.Failed() {
			t.Logf("dev stderr:\n%s", stderr.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Signpost dev is ready") {
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	t.Fatal("signpost dev ended before it was ready")
}

// TestDevEndToEnd runs `signpost dev` as a user does, waits for it to say it is ready, pastes the lookup command
// it prints, checks the PKI with openssl, and stops it with SIGTERM.
func TestDevEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	dnsAddr, smlAddr, smpAddr, opsAddr := testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t)
	smlAdminAddr, smpAdminAddr := testnet.FreeAddr(t), testnet.FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "dev", "--dir", dir, "--dns-addr", dnsAddr, "--sml-addr", smlAddr,
		"--smp-addr", smpAddr, "--ops-addr", opsAddr, "--sml-admin-addr", smlAdminAddr, "--smp-admin-addr", smpAdminAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("dev stderr:\n%s", stderr.String())
		}
	}()
	var lookupLine string
	ready := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Signpost dev is ready") {
			ready = true
		}
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "bin/signpost lookup ") {
			lookupLine = s
		}
		if strings.Contains(line, "Press Ctrl-C") {
			break
		}
	}
	if !ready || lookupLine == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("dev did not report ready with a lookup command (ready=%v)", ready)
	}
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(&bytes.Buffer{}) }()

	// The PKI files of DESIGN.md 1.2, checked by openssl.
	pkiDir := filepath.Join(dir, "pki")
	for _, f := range []string{"ca.pem", "sml.pem", "sml-key.pem", "smp.pem", "smp-key.pem", "ap.pem"} {
		if _, err := os.Stat(filepath.Join(pkiDir, f)); err != nil {
			t.Errorf("PKI file missing: %v", err)
		}
	}
	ca := filepath.Join(pkiDir, "ca.pem")
	if out, err := exec.Command("openssl", "verify", "-CAfile", ca, filepath.Join(pkiDir, "smp.pem")).CombinedOutput(); err != nil {
		t.Errorf("openssl verify smp.pem: %v\n%s", err, out)
	}
	if out, err := exec.Command("openssl", "verify", "-CAfile", ca, "-verify_ip", "127.0.0.1", filepath.Join(pkiDir, "sml.pem")).CombinedOutput(); err != nil {
		t.Errorf("openssl verify sml.pem for 127.0.0.1: %v\n%s", err, out)
	}

	// The admin token works on the SMP's write API: a PUT of a new service group answers 201.
	tok, err := os.ReadFile(filepath.Join(dir, "smp-admin.token"))
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "smp-admin.token")); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("smp-admin.token should be mode 0600")
	}
	body := `<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/">` +
		`<ids:ParticipantIdentifier scheme="iso6523-actorid-upis">9915:dev-test</ids:ParticipantIdentifier>` +
		`<ServiceMetadataReferenceCollection/></ServiceGroup>`
	req, _ := http.NewRequest(http.MethodPut, "http://"+smpAddr+"/iso6523-actorid-upis::9915:dev-test", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("Content-Type", "application/xml")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("PUT with the admin token: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("PUT with the admin token: HTTP %d, want 201", resp.StatusCode)
		}
	}

	// Paste the printed command, with the binary under test in place of bin/signpost.
	sh := exec.CommandContext(ctx, "sh", "-c", strings.Replace(lookupLine, "bin/signpost", bin, 1))
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("printed lookup command failed: %v\n%s\n%s", err, lookupLine, out)
	}
	for _, want := range []string{"https://ap.signpost.test/as4", "peppol-transport-as4-v2_0", "CN=Signpost Demo AP"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("lookup output lacks %q:\n%s", want, out)
		}
	}

	// The SML's admin API: `sml status` through it with the token dev wrote (0600) shows the demo participant.
	smlToken := filepath.Join(dir, "sml-admin.token")
	if st, _ := os.Stat(smlToken); st == nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sml-admin.token should be mode 0600")
	}
	// The SMP registered the PUT participant through its outbox: wait for it, then the SML has both.
	if out, err := exec.CommandContext(ctx, bin, "smp", "sml", "status", "--admin-addr", smpAdminAddr,
		"--token-file", filepath.Join(dir, "smp-admin.token"), "--wait", "10s").CombinedOutput(); err != nil {
		t.Errorf("smp sml status --wait: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, bin, "sml", "status", "--admin-addr", smlAdminAddr, "--token-file", smlToken).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^sml\.test\.\s+\d+\s+2\s+1\s`).Match(out) {
		t.Errorf("sml status against dev: %v\n%s", err, out)
	}

	// SIGTERM: a clean shutdown, exit status 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev after SIGTERM: %v", err)
	}

	// A second start reuses the PKI and the stores, and is ready again.
	ca1, _ := os.ReadFile(ca)
	cmd2 := exec.CommandContext(ctx, bin, "dev", "--dir", dir, "--dns-addr", dnsAddr, "--sml-addr", smlAddr,
		"--smp-addr", smpAddr, "--ops-addr", opsAddr, "--sml-admin-addr", smlAdminAddr, "--smp-admin-addr", smpAdminAddr)
	stdout2, _ := cmd2.StdoutPipe()
	cmd2.Stderr = &stderr
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	ready = false
	sc = bufio.NewScanner(stdout2)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Signpost dev is ready") {
			ready = true
			break
		}
	}
	_ = cmd2.Process.Signal(syscall.SIGTERM)
	_ = cmd2.Wait()
	if !ready {
		t.Fatal("second start did not become ready")
	}
	ca2, _ := os.ReadFile(ca)
	if !bytes.Equal(ca1, ca2) {
		t.Error("second start replaced the development CA")
	}
}

func TestHelpListsGroups(t *testing.T) {
	var buf bytes.Buffer
	root := newRootCmd()
	root.SetOut(&buf)
	root.SetArgs([]string{"--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"sml", "smp", "lookup", "dev", "version"} {
		if !strings.Contains(buf.String(), "\n  "+g+" ") {
			t.Errorf("--help does not list %q:\n%s", g, buf.String())
		}
	}
	for _, g := range []string{"sml", "smp", "lookup", "dev", "version"} {
		var out bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetArgs([]string{g, "--help"})
		if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("%s --help: %v\n%s", g, err, out.String())
		}
	}
}
