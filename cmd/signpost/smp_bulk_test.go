package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/smp"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

var (
	bulkCLIDoc  = identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:test:cli-bulk::Invoice##x::2.1"}
	bulkCLIProc = identifier.ID{Scheme: "cenbii-procid-ubl", Value: "urn:test:process"}
)

func bulkCLIParticipant(i int) identifier.ID {
	return identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("9915:cli-bulk-%03d", i)}
}

// bulkCLIFixture writes to dir a CA (ca.pem), a signing key, access point certificates (old.pem, new.pem and
// expired.pem, which has expired) and a configuration for a server on free loopback ports; it returns the
// configuration's path and the old, new and a third ("other") access point certificate.
func bulkCLIFixture(t *testing.T, dir string) (cfg string, old, nw, other *pki.Leaf) {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("CLI bulk CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string) *pki.Leaf {
		l, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: cn, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	signer := issue("cli signer")
	if err := signer.WriteFiles(filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem")); err != nil {
		t.Fatal(err)
	}
	old, nw, other = issue("AP old"), issue("AP new"), issue("AP other")
	expired, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "AP expired", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*pki.Leaf{"ca.pem": {Cert: ca.Cert}, "old.pem": old, "new.pem": nw, "expired.pem": expired} {
		if err := os.WriteFile(filepath.Join(dir, name), pki.EncodeCertPEM(c.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg = filepath.Join(dir, "smp.yaml")
	y := fmt.Sprintf("store: {path: %s}\nops: {addr: %q}\nhttp: {listen: %q}\nadmin: {listen: %q}\nsmp_id: SMP-CLI\npublic_url: http://smp.test\nsigning: {cert: %s, key: %s}\n",
		filepath.Join(dir, "smp.db"), testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t), filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"))
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, old, nw, other
}

// xmlsecVerifies reports whether xmlsec1 verifies doc against the CA in caFile.
func xmlsecVerifies(t *testing.T, caFile string, doc []byte) (bool, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmlsec1", "--verify", "--enabled-reference-uris", "empty", "--enabled-key-data", "x509",
		"--trusted-pem", caFile, p).CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("xmlsec1: %v (install it: scripts/install-test-deps.sh)", err)
		}
		return false, string(out)
	}
	return true, string(out)
}

// bulkDocs reads the service metadata document of groups 0 to n-1 (root flavour; the fixtures have 110).
func bulkDocs(t *testing.T, svc *smp.Service, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		d, err := svc.Lookup(context.Background(), svc.RootFlavour(), bulkCLIParticipant(i), bulkCLIDoc)
		if err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
		out = append(out, d.Body)
	}
	return out
}

// openSMPApp opens the SMP of the configuration file cfg on its store (no server started); the caller closes it.
func openSMPApp(t *testing.T, cfg string) *smpapp.App {
	t.Helper()
	c, err := conf.LoadSMP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := smpapp.New(context.Background(), c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSMPBulkAndBackupCommands: with the server running, bulk replace-certificate --dry-run prints 100 groups and
// changes nothing; without --dry-run the 100 affected documents carry the new certificate and verify with
// xmlsec1 while the other 10 stay byte-identical; an online backup taken during writes holds every write
// acknowledged before it began; restore is refused while the server runs. With the server stopped, replace-url
// works on the store; restore puts the backup back (the URL change, made after the backup, is gone).
func TestSMPBulkAndBackupCommands(t *testing.T) {
	dir := t.TempDir()
	cfg, old, nw, other := bulkCLIFixture(t, dir)
	c, err := conf.LoadSMP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := openSMPApp(t, cfg)
	closed := false
	defer func() {
		if !closed {
			_ = a.Close()
		}
	}()
	var groups []smp.ServiceGroup
	var metas []smp.ServiceMetadata
	for i := range 110 {
		p := bulkCLIParticipant(i)
		groups = append(groups, smp.ServiceGroup{Participant: p, InSML: true})
		e := smp.Endpoint{TransportProfile: "peppol-transport-as4-v2_0", Address: "https://ap-old.cli.test/as4", Certificate: old.Cert.Raw}
		if i >= 100 {
			e.Certificate, e.Address = other.Cert.Raw, "https://ap-other.cli.test/as4"
		}
		metas = append(metas, smp.ServiceMetadata{Participant: p, DocumentType: bulkCLIDoc, Processes: []smp.Process{{ID: bulkCLIProc, Endpoints: []smp.Endpoint{e}}}})
	}
	svc := a.Service()
	if _, err := svc.PutBatch(ctx, groups, metas); err != nil {
		t.Fatal(err)
	}
	servers := a.Servers()
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stopServers := func() {
		for i := len(servers) - 1; i >= 0; i-- {
			_ = servers[i].Shutdown(ctx)
		}
		servers = nil
	}
	defer stopServers()
	run := func(online bool, args ...string) string {
		t.Helper()
		out, err := runSMPCLI(t, append(args, "--config", cfg)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if online == strings.Contains(out, "working on the store") {
			t.Fatalf("%v: online %v, but:\n%s", args, online, out)
		}
		return out
	}
	oldPEM, newPEM, expiredPEM := filepath.Join(dir, "old.pem"), filepath.Join(dir, "new.pem"), filepath.Join(dir, "expired.pem")
	// Refusals: a file without a certificate is the command's (usage); an expired certificate the SMP's.
	if out, err := runSMPCLI(t, "smp", "bulk", "replace-certificate", "--config", cfg, "--old", oldPEM, "--new", cfg); exitCode(err) != exitUsage {
		t.Fatalf("--new without a certificate: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	if out, err := runSMPCLI(t, "smp", "bulk", "replace-certificate", "--config", cfg, "--old", oldPEM, "--new", expiredPEM); exitCode(err) != exitBadRequest ||
		!strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired --new: %v (exit %d)\n%s", err, exitCode(err), out)
	}

	before := bulkDocs(t, svc, 110)
	out := run(true, "smp", "bulk", "replace-certificate", "--old", oldPEM, "--new", newPEM, "--dry-run")
	if n := strings.Count(out, "1 endpoints in 1 service metadata\n"); n != 100 ||
		!strings.Contains(out, "100 endpoints in 100 service metadata of 100 service groups would change (110 groups looked at)") ||
		!strings.Contains(out, bulkCLIParticipant(99).String()+"\t") || strings.Contains(out, bulkCLIParticipant(100).String()) {
		t.Fatalf("dry run (%d group lines):\n%s", n, out)
	}
	for i, b := range bulkDocs(t, svc, 110) {
		if !bytes.Equal(b, before[i]) {
			t.Fatalf("dry run changed group %d", i)
		}
	}
	out = run(true, "smp", "bulk", "replace-certificate", "--old", oldPEM, "--new", newPEM)
	if !strings.Contains(out, "replace-certificate: changed 100 endpoints in 100 service metadata of 100 service groups (110 groups looked at)") {
		t.Fatalf("bulk:\n%s", out)
	}
	newB64, oldB64 := b64std(nw.Cert.Raw), b64std(old.Cert.Raw)
	afterCert := bulkDocs(t, svc, 110)
	for i, b := range afterCert {
		if i >= 100 {
			if !bytes.Equal(b, before[i]) {
				t.Errorf("group %d changed although it has another certificate", i)
			}
			continue
		}
		if !bytes.Contains(b, []byte(newB64)) || bytes.Contains(b, []byte(oldB64)) {
			t.Errorf("group %d: the new certificate is missing or the old one left", i)
		}
		if ok, msg := xmlsecVerifies(t, filepath.Join(dir, "ca.pem"), b); !ok {
			t.Errorf("group %d does not verify: %s", i, msg)
		}
	}

	// An online backup while a writer adds service groups.
	var (
		mu      sync.Mutex
		acked   []identifier.ID
		stop    atomic.Bool
		wg      sync.WaitGroup
		werr    error
		waitFor = func(n int) {
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				mu.Lock()
				k := len(acked)
				mu.Unlock()
				if k >= n || werr != nil {
					return
				}
			}
		}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && i < 100000; i++ {
			p := identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("9915:cli-w-%05d", i)}
			if _, err := svc.PutServiceGroup(ctx, smp.System, smp.ServiceGroup{Participant: p}, smp.GroupWrite{}); err != nil {
				mu.Lock()
				werr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			acked = append(acked, p)
			mu.Unlock()
		}
	}()
	waitFor(20)
	mu.Lock()
	ackedBefore := append([]identifier.ID(nil), acked...)
	mu.Unlock()
	bak := filepath.Join(dir, "smp.bak")
	out = run(true, "smp", "backup", bak)
	mu.Lock()
	during := len(acked) - len(ackedBefore)
	mu.Unlock()
	stop.Store(true)
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	if !strings.Contains(out, "backed up") {
		t.Fatalf("backup:\n%s", out)
	}
	t.Logf("%d groups acknowledged before the backup, %d while it ran", len(ackedBefore), during)
	if fi, err := os.Stat(bak); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if out, err := runSMPCLI(t, "smp", "restore", "--config", cfg, bak); err == nil || !strings.Contains(err.Error(), "stop the server") {
		t.Fatalf("restore while the server runs: %v\n%s", err, out)
	}

	stopServers()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true

	// The stopped store.
	out = run(false, "smp", "bulk", "replace-url", "--old", "https://ap-old.cli.test/as4", "--new", "https://ap-g3.cli.test/as4", "--dry-run")
	if !strings.Contains(out, "100 endpoints in 100 service metadata of 100 service groups would change") {
		t.Fatalf("replace-url dry run:\n%s", out)
	}
	out = run(false, "smp", "bulk", "replace-url", "--old", "https://ap-old.cli.test/as4", "--new", "https://ap-g3.cli.test/as4")
	if !strings.Contains(out, "replace-url: changed 100 endpoints") {
		t.Fatalf("replace-url:\n%s", out)
	}
	reopen := func() *smpapp.App {
		t.Helper()
		a, err := smpapp.New(ctx, c, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a2 := reopen()
	for i, b := range bulkDocs(t, a2.Service(), 110) {
		if i < 100 && (!bytes.Contains(b, []byte("https://ap-g3.cli.test/as4")) || !bytes.Contains(b, []byte(newB64))) {
			t.Errorf("group %d after replace-url:\n%s", i, b)
		}
		if i < 100 && i%25 == 0 {
			if ok, msg := xmlsecVerifies(t, filepath.Join(dir, "ca.pem"), b); !ok {
				t.Errorf("group %d does not verify: %s", i, msg)
			}
		}
	}
	_ = a2.Close()

	out, err = runSMPCLI(t, "smp", "restore", "--config", cfg, bak)
	if err != nil || !strings.Contains(out, "restored") || !strings.Contains(out, "pre-restore") {
		t.Fatalf("restore:\n%s", out)
	}
	a3 := reopen()
	defer a3.Close()
	for _, p := range ackedBefore {
		if _, err := a3.Service().GetServiceGroup(ctx, p); err != nil {
			t.Errorf("%s, acknowledged before the backup began, is not in the restored store: %v", p, err)
		}
	}
	for i, b := range bulkDocs(t, a3.Service(), 110) {
		if !bytes.Equal(b, afterCert[i]) {
			t.Errorf("group %d in the restored store differs from what it was at the backup", i)
		}
	}
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
