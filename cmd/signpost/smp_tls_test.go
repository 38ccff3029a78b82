package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSMPServeSIGHUPReloadsTLSOnly runs `signpost smp serve` with http.tls (and a file check interval of an hour,
// so only the signal can make it read the files), replaces both the HTTPS and the signing files, and sends SIGHUP:
// the next handshakes show the new HTTPS certificate, while the SMP still signs with the key it started with
// (`smp status` through the admin listener). SIGHUP no longer switches the signing key.
func TestSMPServeSIGHUPReloadsTLSOnly(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	now := time.Now()
	ca, err := pki.NewRoot("SIGHUP Test CA", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	issue := func(p pki.Profile, cn string) *pki.Leaf {
		l, err := ca.Issue(pki.LeafSpec{Profile: p, CommonName: cn, Hosts: []string{"smp.test", "127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sc, sk, hc, hk := filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem"), filepath.Join(dir, "https.pem"), filepath.Join(dir, "https-key.pem")
	if err := issue(pki.SMPCert, "SMP signer one").WriteFiles(sc, sk); err != nil {
		t.Fatal(err)
	}
	first := issue(pki.TLSServer, "smp.test one")
	if err := first.WriteFiles(hc, hk); err != nil {
		t.Fatal(err)
	}
	listen, admin := testnet.FreeAddr(t), testnet.FreeAddr(t)
	cfgFile := filepath.Join(dir, "smp.yaml")
	cfg := fmt.Sprintf(`store: {path: %s}
ops: {addr: ""}
http: {listen: "%s", tls: {cert: %s, key: %s}, tls_check_interval: 1h}
admin: {listen: "%s"}
smp_id: SMP-HUP
public_url: https://smp.test
signing: {cert: %s, key: %s}
`, filepath.Join(dir, "smp.db"), listen, hc, hk, admin, sc, sk)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "smp", "serve", "--config", cfgFile)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("smp serve stderr:\n%s", stderr.String())
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	servedSerial := func() (string, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", listen, &tls.Config{RootCAs: pool, ServerName: "smp.test"})
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
	}
	waitSerial := func(want string) {
		t.Helper()
		var got string
		var err error
		for i := 0; i < 600; i++ {
			if got, err = servedSerial(); err == nil && got == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("served serial %s (%v); want %s", got, err, want)
	}
	waitSerial(first.Cert.SerialNumber.String())

	second := issue(pki.TLSServer, "smp.test two")
	if err := second.WriteFiles(hc, hk); err != nil {
		t.Fatal(err)
	}
	if err := issue(pki.SMPCert, "SMP signer two").WriteFiles(sc, sk); err != nil {
		t.Fatal(err)
	}
	if got, _ := servedSerial(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("the new files were taken before SIGHUP (check interval 1h): serial %s", got)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSerial(second.Cert.SerialNumber.String())
	out, err := exec.Command(bin, "smp", "status", "--config", cfgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("smp status: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CN=SMP signer one") || strings.Contains(string(out), "signer two") {
		t.Fatalf("after SIGHUP the SMP signs with another key:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "SIGHUP: new HTTPS certificate in use") {
		t.Errorf("no log line for the reload:\n%s", stderr.String())
	}
}
