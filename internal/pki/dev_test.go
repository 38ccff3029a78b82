package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEnsureDevCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	f, created, err := EnsureDev(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first EnsureDev: created = false")
	}
	if f.Dir != filepath.Join(dir, "pki") || f.SMP != filepath.Join(dir, "pki", "smp.pem") || f.APKey != filepath.Join(dir, "pki", "ap-key.pem") {
		t.Errorf("paths: %+v", f)
	}
	assertMode(t, f.Dir, 0o700)
	for _, p := range []string{f.CAKey, f.SMLKey, f.SMPKey, f.APKey} {
		assertMode(t, p, 0o600)
	}
	for _, p := range []string{f.CA, f.SML, f.SMP, f.AP} {
		assertMode(t, p, 0o644)
	}

	ca, err := LoadKeyPair(f.CA, f.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Cert.Subject.String(); got != "CN=Signpost Dev Root CA,O=Signpost Development" {
		t.Errorf("CA subject %q", got)
	}
	if d := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore); d < 10*365*24*time.Hour {
		t.Errorf("CA valid for %v, want 10 years", d)
	}
	for _, tc := range []struct {
		cert, key, subject string
		usage              x509.ExtKeyUsage
	}{
		{f.SML, f.SMLKey, "CN=Signpost Dev SML,O=Signpost Development", x509.ExtKeyUsageServerAuth},
		{f.SMP, f.SMPKey, "CN=SMP-DEV,O=Signpost Development", x509.ExtKeyUsageClientAuth},
		{f.SMP, f.SMPKey, "CN=SMP-DEV,O=Signpost Development", x509.ExtKeyUsageServerAuth},
		{f.AP, f.APKey, "CN=Signpost Demo AP,O=Signpost Development", x509.ExtKeyUsageClientAuth},
	} {
		kp, err := LoadKeyPair(tc.cert, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		c := kp.Cert
		if got := c.Subject.String(); got != tc.subject {
			t.Errorf("%s: subject %q, want %q", tc.cert, got, tc.subject)
		}
		if !bytes.Equal(c.RawIssuer, ca.Cert.RawSubject) || len(kp.Chain) != 0 {
			t.Errorf("%s: not issued directly by ca.pem", tc.cert)
		}
		if d := c.NotAfter.Sub(c.NotBefore); d < 2*365*24*time.Hour || d > 2*366*24*time.Hour+2*time.Hour {
			t.Errorf("%s: valid for %v, want 2 years (+1h back-dating)", tc.cert, d)
		}
		if time.Until(c.NotBefore) > -59*time.Minute {
			t.Errorf("%s: NotBefore %v is not back-dated an hour", tc.cert, c.NotBefore)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(ca.Cert), KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
			t.Errorf("%s: Verify for %v: %v", tc.cert, tc.usage, err)
		}
	}
	sml, _ := LoadCertificates(f.SML)
	for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
		if err := sml[0].VerifyHostname(h); err != nil {
			t.Errorf("sml.pem: %v", err)
		}
	}
}

func TestEnsureDevOpenSSLVerify(t *testing.T) {
	f, _, err := EnsureDev(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign-ca.pem")
	if err := os.WriteFile(foreign, EncodeCertPEM(mustRoot(t, "Foreign Root").Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want int // 0: must verify; 2: must not
	}{
		{[]string{"-CAfile", f.CA, f.SMP}, 0},
		{[]string{"-CAfile", f.CA, "-purpose", "sslclient", f.SMP}, 0},
		{[]string{"-CAfile", f.CA, "-purpose", "sslclient", f.AP}, 0},
		{[]string{"-CAfile", f.CA, f.AP}, 0},
		{[]string{"-CAfile", f.CA, "-verify_ip", "127.0.0.1", "-purpose", "sslserver", f.SML}, 0},
		{[]string{"-CAfile", f.CA, "-verify_hostname", "localhost", "-purpose", "sslserver", f.SML}, 0},
		{[]string{"-CAfile", f.CA, "-verify_ip", "::1", "-purpose", "sslserver", f.SML}, 0},
		// Negative cases: foreign CA, wrong IP, wrong purpose.
		{[]string{"-CAfile", foreign, f.SMP}, 2},
		{[]string{"-CAfile", foreign, f.AP}, 2},
		{[]string{"-CAfile", foreign, "-verify_ip", "127.0.0.1", "-purpose", "sslserver", f.SML}, 2},
		{[]string{"-CAfile", f.CA, "-verify_ip", "127.0.0.2", "-purpose", "sslserver", f.SML}, 2},
		{[]string{"-CAfile", f.CA, "-purpose", "sslclient", f.SML}, 2},
	} {
		code, out := openssl(t, append([]string{"verify"}, tc.args...)...)
		if (code == 0) != (tc.want == 0) {
			t.Errorf("openssl verify %s: exit %d, want %s\n%s", strings.Join(tc.args, " "), code,
				map[bool]string{true: "0", false: "failure"}[tc.want == 0], out)
		}
	}
}

func TestEnsureDevReuses(t *testing.T) {
	dir := t.TempDir()
	f, _, err := EnsureDev(dir, testNow)
	if err != nil {
		t.Fatal(err)
	}
	before := readAll(t, f)
	f2, created, err := EnsureDev(dir, testNow.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second EnsureDev: created = true")
	}
	if f2 != f {
		t.Errorf("paths changed: %+v != %+v", f2, f)
	}
	for p, data := range readAll(t, f) {
		if !bytes.Equal(data, before[p]) {
			t.Errorf("%s changed on reuse", p)
		}
	}
}

func TestEnsureDevReissuesDeletedLeaf(t *testing.T) {
	dir := t.TempDir()
	f, _, err := EnsureDev(dir, testNow)
	if err != nil {
		t.Fatal(err)
	}
	before := readAll(t, f)
	// Deleting both files, or only the certificate or only the key, has the leaf issued anew.
	for _, del := range [][]string{{f.SMP, f.SMPKey}, {f.AP}, {f.SMLKey}} {
		for _, p := range del {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		later := testNow.Add(24 * time.Hour)
		_, created, err := EnsureDev(dir, later)
		if err != nil {
			t.Fatalf("after deleting %v: %v", del, err)
		}
		if !created {
			t.Errorf("after deleting %v: created = false", del)
		}
	}
	after := readAll(t, f)
	for _, p := range []string{f.CA, f.CAKey} {
		if !bytes.Equal(after[p], before[p]) {
			t.Errorf("%s changed when a leaf was reissued", filepath.Base(p))
		}
	}
	for _, p := range []string{f.SMP, f.SMPKey, f.AP, f.APKey, f.SML, f.SMLKey} {
		if bytes.Equal(after[p], before[p]) {
			t.Errorf("%s not reissued", filepath.Base(p))
		}
	}
	if _, created, err := EnsureDev(dir, testNow.Add(48*time.Hour)); err != nil || created {
		t.Errorf("after reissue: created=%v err=%v, want reuse", created, err)
	}
	// The new leaves still verify against the old CA, with openssl too.
	if code, out := openssl(t, "verify", "-CAfile", f.CA, "-attime", strconv.FormatInt(testNow.Add(48*time.Hour).Unix(), 10), f.SMP); code != 0 {
		t.Errorf("reissued smp.pem: openssl verify exit %d: %s", code, out)
	}
}

func TestEnsureDevErrors(t *testing.T) {
	t.Run("CA missing", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		if err := os.Remove(f.CA); err != nil {
			t.Fatal(err)
		}
		_, _, err := EnsureDev(dir, testNow)
		wantErrContains(t, err, f.CA+" is missing", "ca-key.pem, sml.pem", "delete the directory "+f.Dir)
		if _, statErr := os.Stat(f.CA); statErr == nil {
			t.Error("ca.pem was recreated")
		}
	})
	t.Run("CA key missing and a leaf to issue", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		for _, p := range []string{f.CAKey, f.AP, f.APKey} {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := EnsureDev(dir, testNow)
		wantErrContains(t, err, "ap.pem must be issued anew", "CA key "+f.CAKey+" is missing", "delete the directory "+f.Dir)
	})
	t.Run("CA key missing, leaves fine", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		if err := os.Remove(f.CAKey); err != nil {
			t.Fatal(err)
		}
		if _, created, err := EnsureDev(dir, testNow); err != nil || created {
			t.Errorf("created=%v err=%v, want reuse", created, err)
		}
	})
	t.Run("leaf expired", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		_, _, err := EnsureDev(dir, testNow.AddDate(3, 0, 0))
		wantErrContains(t, err, f.SML+" expired on", "delete "+f.SML+" and "+f.SMLKey+" to have them issued anew", f.SMP+" expired on", f.AP)
	})
	t.Run("CA expired", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		_, _, err := EnsureDev(dir, testNow.AddDate(11, 0, 0))
		wantErrContains(t, err, f.CA+" expired on", "delete the directory "+f.Dir)
	})
	t.Run("leaf from another CA", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		foreign := mustIssue(t, mustRoot(t, "Foreign Root"), SMPCert, "SMP-DEV")
		if err := foreign.WriteFiles(f.SMP, f.SMPKey); err != nil {
			t.Fatal(err)
		}
		before := readAll(t, f)
		_, _, err := EnsureDev(dir, testNow)
		wantErrContains(t, err, f.SMP+" does not verify against "+f.CA, "delete "+f.SMP+" and "+f.SMPKey)
		for p, data := range readAll(t, f) {
			if !bytes.Equal(data, before[p]) {
				t.Errorf("%s changed although EnsureDev failed", p)
			}
		}
	})
	t.Run("leaf key mismatch", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		if err := os.WriteFile(f.APKey, must(os.ReadFile(f.SMPKey)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := EnsureDev(dir, testNow)
		wantErrContains(t, err, "pki: "+f.APKey+": private key does not match certificate "+f.AP, "delete "+f.AP+" and "+f.APKey)
	})
	t.Run("sml not for the loopback address", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		ca := mustLoadAuthority(t, f)
		l, err := ca.Issue(LeafSpec{Profile: TLSServer, CommonName: "sml", Hosts: []string{"localhost"},
			NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.AddDate(1, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.WriteFiles(f.SML, f.SMLKey); err != nil {
			t.Fatal(err)
		}
		_, _, err = EnsureDev(dir, testNow)
		wantErrContains(t, err, f.SML, "127.0.0.1", "delete "+f.SML)
	})
	t.Run("garbage CA", func(t *testing.T) {
		dir := t.TempDir()
		f := mustDev(t, dir)
		if err := os.WriteFile(f.CA, []byte("not a certificate"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := EnsureDev(dir, testNow)
		wantErrContains(t, err, f.CA, "not a PEM file", "delete the directory "+f.Dir)
	})
}

func mustDev(t *testing.T, dir string) DevFiles {
	t.Helper()
	f, created, err := EnsureDev(dir, testNow)
	if err != nil || !created {
		t.Fatalf("EnsureDev: created=%v err=%v", created, err)
	}
	return f
}

func mustLoadAuthority(t *testing.T, f DevFiles) *Authority {
	t.Helper()
	kp, err := LoadKeyPair(f.CA, f.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return &Authority{Cert: kp.Cert, Key: kp.Key}
}

func readAll(t *testing.T, f DevFiles) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, p := range []string{f.CA, f.CAKey, f.SML, f.SMLKey, f.SMP, f.SMPKey, f.AP, f.APKey} {
		m[p] = must(os.ReadFile(p))
	}
	return m
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
