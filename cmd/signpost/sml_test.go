package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml/admin"
)

// smlConfig writes an SML configuration under dir with free loopback ports and returns its path and values.
func smlConfig(t *testing.T, dir string) (string, *conf.SML) {
	t.Helper()
	path := filepath.Join(dir, "sml.yaml")
	text := `store:
  path: ` + filepath.Join(dir, "sml.db") + `
log:
  level: error
ops:
  addr: ` + testnet.FreeAddr(t) + `
dns:
  listen: ` + testnet.FreeAddr(t) + `
  allow_transfer: [127.0.0.1]
admin:
  listen: ` + testnet.FreeAddr(t) + `
domains:
  - zone: sml.test
    records: [naptr, cname]
    glue:
      ns1.sml.test: [127.0.0.1]
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := conf.LoadSML(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, c
}

// runSML runs `signpost args...` in-process as main does, and returns stdout, stderr and the exit code.
func runSML(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// startSMLServe runs `sml serve` in-process until the test ends, and waits until its admin API answers.
func startSMLServe(t *testing.T, c *conf.SML) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runSMLServe(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sml serve: %v", err)
		}
	})
	for i := 0; ; i++ {
		tok, err := admin.ReadTokenFile(c.Admin.TokenFile)
		if err == nil {
			if _, err = (&admin.Client{Addr: c.Admin.Listen, Token: tok}).Status(ctx); err == nil {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("sml serve ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if i == 500 {
			t.Fatalf("sml serve's admin API did not answer: %v", err)
		}
	}
}

// TestSMLCommandsOnTheStore: with no server running, import (twice: the second changes nothing), status and
// export-zone work on the store, and refusals exit with their codes.
func TestSMLCommandsOnTheStore(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := smlConfig(t, dir)
	ctx := context.Background()
	file := filepath.Join(dir, "in.jsonl")
	if out, errOut, code := runSML(t, ctx, "sml", "import", "--generate", "1500", "--smps", "3", file); code != 0 {
		t.Fatalf("generate: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := runSML(t, ctx, "sml", "import", "--config", cfg, "--batch", "400", file)
	if code != 0 || !strings.Contains(out, "participants: 1500 created, 0 updated, 0 unchanged") ||
		!strings.Contains(errOut, "imported up to line") || !strings.Contains(errOut, "working on the store") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSML(t, ctx, "sml", "import", "--config", cfg, file)
	if code != 0 || !strings.Contains(out, "participants: 0 created, 0 updated, 1500 unchanged") {
		t.Fatalf("second import: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSML(t, ctx, "sml", "status", "--config", cfg)
	if code != 0 || !regexp.MustCompile(`(?m)^sml\.test\.\s+\d+\s+1500\s+3\s`).MatchString(out) {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSML(t, ctx, "sml", "smps", "--config", cfg)
	if code != 0 || strings.Count(out, "SMP-GEN-") != 3 {
		t.Fatalf("smps: exit %d\n%s%s", code, out, errOut)
	}
	zf := filepath.Join(dir, "sml.test.zone")
	if out, errOut, code := runSML(t, ctx, "sml", "export-zone", "--config", cfg, "sml.test", "-o", zf); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(zf)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if n := strings.Count(text, " IN NAPTR "); n != 1500 {
		t.Errorf("%d NAPTR records exported", n)
	}
	if n := strings.Count(text, " IN CNAME "); n != 1500 {
		t.Errorf("%d CNAME records exported", n)
	}
	if !strings.Contains(text, "sml.test. 60 IN SOA ns1.sml.test. hostmaster.sml.test. ") || !strings.Contains(text, "ns1.sml.test. 60 IN A 127.0.0.1") {
		t.Errorf("export head:\n%.600s", text)
	}
	// A line naming an unknown SMP: not found, the line named.
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"type":"participant","id":"iso6523-actorid-upis::0088:x","smp":"NOPE"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "import", "--config", cfg, bad); code != exitNotFound || !strings.Contains(errOut, "line 1") {
		t.Fatalf("bad import: exit %d, want %d\n%s%s", code, exitNotFound, out, errOut)
	}
	// An unknown zone: not found, and the file named by -o is left as it was.
	if out, errOut, code := runSML(t, ctx, "sml", "export-zone", "--config", cfg, "other.test", "-o", zf); code != exitNotFound || !strings.Contains(errOut, "not a zone") {
		t.Fatalf("export of an unknown zone: exit %d\n%s%s", code, out, errOut)
	}
	if b2, _ := os.ReadFile(zf); !bytes.Equal(b, b2) {
		t.Error("a failed export changed the -o file")
	}
}

// TestSMLCommandsThroughTheRunningServer: while `sml serve` holds the store, import, status and export-zone go
// through its admin API. The exported zone equals an AXFR at the same serial; a wrong token exits
// "unauthorized"; a configuration whose admin.listen nothing answers exits "store locked".
func TestSMLCommandsThroughTheRunningServer(t *testing.T) {
	dir := t.TempDir()
	cfgPath, c := smlConfig(t, dir)
	startSMLServe(t, c)
	ctx := context.Background()

	file := filepath.Join(dir, "in.jsonl")
	if _, errOut, code := runSML(t, ctx, "sml", "import", "--generate", "700", "--smps", "2", file); code != 0 {
		t.Fatalf("generate: %s", errOut)
	}
	out, errOut, code := runSML(t, ctx, "sml", "import", "--config", cfgPath, "--batch", "300", file)
	if code != 0 || !strings.Contains(out, "participants: 700 created") || strings.Contains(errOut, "working on the store") ||
		strings.Count(errOut, "imported up to line") != 3 {
		t.Fatalf("import through the server: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSML(t, ctx, "sml", "status", "--config", cfgPath, "--json")
	if code != 0 || !strings.Contains(out, `"participants": 700`) || !strings.Contains(out, `"smps": 2`) {
		t.Fatalf("status through the server: exit %d\n%s%s", code, out, errOut)
	}

	// export-zone while serving, and an AXFR: the same records at the same serial.
	zf := filepath.Join(dir, "zone")
	if out, errOut, code := runSML(t, ctx, "sml", "export-zone", "--config", cfgPath, "sml.test.", "-o", zf); code != 0 {
		t.Fatalf("export-zone while serving: exit %d\n%s%s", code, out, errOut)
	}
	exported := zoneFileRRs(t, zf)
	axfr := axfrRRs(t, c.DNS.Listen, "sml.test.")
	if len(exported) != len(axfr) || len(axfr) < 1400 {
		t.Fatalf("export has %d records, AXFR %d", len(exported), len(axfr))
	}
	for i := range axfr {
		if exported[i] != axfr[i] {
			t.Fatalf("export and AXFR differ:\n  export %s\n  AXFR   %s", exported[i], axfr[i])
		}
	}

	// A wrong token: unauthorized. A token file that cannot be read: a file error.
	wrong := filepath.Join(dir, "wrong.token")
	if err := os.WriteFile(wrong, []byte("not-the-admin-token-at-all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "status", "--config", cfgPath, "--token-file", wrong); code != exitUnauthorized {
		t.Errorf("wrong token: exit %d, want %d\n%s%s", code, exitUnauthorized, out, errOut)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "status", "--admin-addr", c.Admin.Listen, "--token-file", wrong); code != exitUnauthorized {
		t.Errorf("wrong token with --admin-addr: exit %d, want %d\n%s%s", code, exitUnauthorized, out, errOut)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "status", "--config", cfgPath, "--token-file", filepath.Join(dir, "nope")); code != exitFile {
		t.Errorf("missing token file: exit %d, want %d\n%s%s", code, exitFile, out, errOut)
	}
	// The right token through --admin-addr, without the configuration.
	if out, errOut, code := runSML(t, ctx, "sml", "smps", "--admin-addr", c.Admin.Listen, "--token-file", c.Admin.TokenFile, "--config", "/nonexistent"); code != 0 ||
		strings.Count(out, "SMP-GEN-") != 2 {
		t.Errorf("smps with --admin-addr: exit %d\n%s%s", code, out, errOut)
	}

	// A configuration for the same store whose admin.listen nothing answers: the store is locked.
	other := filepath.Join(dir, "other.yaml")
	b, _ := os.ReadFile(cfgPath)
	b = bytes.Replace(b, []byte(c.Admin.Listen), []byte(testnet.FreeAddr(t)), 1)
	if err := os.WriteFile(other, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runSML(t, ctx, "sml", "status", "--config", other); code != exitStoreLocked || !strings.Contains(errOut, "--admin-addr") {
		t.Errorf("store held, admin API elsewhere: exit %d, want %d\n%s%s", code, exitStoreLocked, out, errOut)
	}
}

// zoneFileRRs parses a zone file into sorted record texts.
func zoneFileRRs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	zp := dns.NewZoneParser(f, "", path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, strings.ToLower(rr.String()))
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// axfrRRs transfers the zone over TCP and returns its records (the closing SOA dropped) as sorted texts.
func axfrRRs(t *testing.T, addr, zone string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetAxfr(zone)
	ch, err := (&dns.Transfer{ReadTimeout: 10 * time.Second}).In(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for env := range ch {
		if env.Error != nil {
			t.Fatal(env.Error)
		}
		for _, rr := range env.RR {
			out = append(out, strings.ToLower(rr.String()))
		}
	}
	if len(out) < 2 || out[0] != out[len(out)-1] {
		t.Fatalf("AXFR not framed by the SOA: %d records", len(out))
	}
	out = out[:len(out)-1]
	sort.Strings(out)
	return out
}
