package certreload_test

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/certreload"
	"github.com/signpost-project/signpost/internal/pki"
)

func leaf(t *testing.T, ca *pki.Authority, cn string) *pki.Leaf {
	t.Helper()
	now := time.Now()
	l, err := ca.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: cn, Hosts: []string{"smp.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPollFollowsFiles: the poller takes a new pair once both files are in place; a certificate written before
// its key (a mismatch for a moment) keeps the old one and counts a failure, and the key arriving completes the
// change. Unchanged files are not read again.
func TestPollFollowsFiles(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewRoot("certreload CA", now.Add(-time.Hour), now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	one := leaf(t, ca, "one")
	if err := one.WriteFiles(cf, kf); err != nil {
		t.Fatal(err)
	}
	var loads, reloaded, failed atomic.Int32
	load := func() (*tls.Certificate, error) {
		loads.Add(1)
		kp, err := pki.LoadKeyPair(cf, kf)
		if err != nil {
			return nil, err
		}
		c := kp.TLSCertificate()
		return &c, nil
	}
	r, err := certreload.New("test", []string{cf, kf}, load, nil, certreload.Metrics{
		Reloaded: func() { reloaded.Add(1) }, Failed: func() { failed.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background(), 5*time.Millisecond)
	defer r.Stop()
	wait := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; i < 2000; i++ {
			if ok() {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("never: %s", what)
	}
	// Unchanged files: after many ticks, still the one load of New.
	for i := 0; i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if loads.Load() != 1 {
		t.Fatalf("unchanged files were read %d times", loads.Load())
	}

	two := leaf(t, ca, "two")
	certPEM := pki.EncodeCertPEM(two.Cert)
	if err := os.WriteFile(cf, certPEM, 0o600); err != nil { // the certificate first: it does not match the old key
		t.Fatal(err)
	}
	wait("the mismatch is reported", func() bool { return failed.Load() >= 1 })
	if got, _ := r.GetCertificate(nil); !got.Leaf.Equal(one.Cert) {
		t.Fatal("a mismatched pair replaced the certificate")
	}
	if r.Err() == nil {
		t.Fatal("Err is nil after a failed reload")
	}
	keyPEM, err := pki.EncodeKeyPEM(two.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	wait("the new pair is taken", func() bool { c, _ := r.GetCertificate(nil); return c.Leaf.Equal(two.Cert) })
	if reloaded.Load() != 1 || r.Err() != nil {
		t.Fatalf("reloaded %d, Err %v; want 1, nil", reloaded.Load(), r.Err())
	}
	// Reload (SIGHUP) with unchanged files: read, nothing changes.
	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
}

// TestNewRefusesBadFiles: the first read is the configuration's: an error names the files and stops the start.
func TestNewRefusesBadFiles(t *testing.T) {
	_, err := certreload.New("http.tls", nil, func() (*tls.Certificate, error) { return nil, errors.New("no such file") }, nil, certreload.Metrics{})
	if err == nil || err.Error() != "http.tls: no such file" {
		t.Fatalf("err = %v", err)
	}
}
