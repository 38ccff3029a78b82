package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func TestWriteAndLoadKeyPair(t *testing.T) {
	dir := t.TempDir()
	ca := mustRoot(t, "Test Root")
	leaf := mustIssue(t, ca, SMPCert, "SMP-TEST")
	certPath, keyPath := filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem")
	if err := leaf.WriteFiles(certPath, keyPath); err != nil {
		t.Fatal(err)
	}
	assertMode(t, certPath, 0o644)
	assertMode(t, keyPath, 0o600)
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
	keyPEM, _ := os.ReadFile(keyPath)
	if !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key file is not PKCS#8 PEM: %.40q", keyPEM)
	}

	kp, err := LoadKeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Cert.Equal(leaf.Cert) || !keyMatches(kp.Key, leaf.Cert) {
		t.Error("loaded key pair differs from the one written")
	}
	if len(kp.Chain) != 0 {
		t.Errorf("leaf file carries %d chain certificates; a root-issued leaf should carry none", len(kp.Chain))
	}

	// Overwriting keeps the modes, even of a file that had looser ones.
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(certPath, keyPath, leaf.Key, leaf.Cert, ca.Cert); err != nil {
		t.Fatal(err)
	}
	assertMode(t, keyPath, 0o600)
	certs, err := LoadCertificates(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[1].Equal(ca.Cert) {
		t.Errorf("bundle has %d certificates, want leaf and CA", len(certs))
	}
}

func TestLoadKeyPairMismatch(t *testing.T) {
	dir := t.TempDir()
	ca := mustRoot(t, "Test Root")
	a, b := mustIssue(t, ca, SMPCert, "A"), mustIssue(t, ca, SMPCert, "B")
	certPath, keyPath := filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem")
	if err := WriteFiles(certPath, keyPath, b.Key, a.Cert); err != nil {
		t.Fatal(err)
	}
	_, err := LoadKeyPair(certPath, keyPath)
	wantErrContains(t, err, "pki: "+keyPath+": private key does not match certificate "+certPath)
}

func TestLoadKeyFormats(t *testing.T) {
	dir := t.TempDir()
	ca := mustRoot(t, "Test Root")
	leaf := mustIssue(t, ca, TLSClient, "client")
	certPath := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certPath, EncodeCertPEM(leaf.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

	rsaKey := leaf.Key.(*rsa.PrivateKey)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pkcs1 := write("pkcs1.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
	if _, err := LoadKeyPair(certPath, pkcs1); err != nil {
		t.Errorf("PKCS#1 key: %v", err)
	}
	// Certificate and key in one file.
	combined := write("combined.pem", append(EncodeCertPEM(leaf.Cert), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})...))
	if _, err := LoadKeyPair(combined, combined); err != nil {
		t.Errorf("combined file: %v", err)
	}
	ecPath := write("ec.pem", append([]byte(ecParams), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...))
	k, err := LoadPrivateKey(ecPath)
	if err != nil {
		t.Fatalf("EC key: %v", err)
	}
	if !ecKey.PublicKey.Equal(k.Public()) {
		t.Error("EC key loaded wrong")
	}
	_, err = LoadKeyPair(certPath, ecPath)
	wantErrContains(t, err, "does not match certificate")

	enc := write("enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	_, err = LoadPrivateKey(enc)
	wantErrContains(t, err, enc, "encrypted")

	_, err = LoadPrivateKey(certPath)
	wantErrContains(t, err, certPath, "no PRIVATE KEY")
	_, err = LoadPrivateKey(write("empty-key.pem", nil))
	wantErrContains(t, err, "empty-key.pem", "empty")
}

func TestLoadCertificatesErrors(t *testing.T) {
	dir := t.TempDir()
	leaf := mustIssue(t, mustRoot(t, "Test Root"), TLSClient, "c")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty.pem", []byte("\n \n"), "file is empty"},
		{"text.pem", []byte("hello, world\n"), "not a PEM file"},
		{"cert.der", leaf.Cert.Raw, "certificate is DER, expected PEM"},
		{"key-only.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0}}), "no CERTIFICATE PEM block"},
		{"broken.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), "PEM block 1: invalid certificate"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCertificates(p)
		wantErrContains(t, err, "pki: "+p+": ", tc.want)
	}
	_, err := LoadCertificates(filepath.Join(dir, "missing.pem"))
	wantErrContains(t, err, "missing.pem")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error %v is not ErrNotExist", err)
	}
}

// TestLoadPKCS12OpenSSL loads a .p12 made by the real openssl with OpenSSL 3's
// defaults (PBES2 with PBKDF2 and AES-256-CBC).
func TestLoadPKCS12OpenSSL(t *testing.T) {
	dir := t.TempDir()
	ca := mustRoot(t, "Test Root")
	leaf := mustIssue(t, ca, SMPCert, "SMP-P12")
	certPath, keyPath, caPath := filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem"), filepath.Join(dir, "ca.pem")
	if err := leaf.WriteFiles(certPath, keyPath); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caPath, EncodeCertPEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(dir, "smp.p12")
	if code, out := openssl(t, "pkcs12", "-export", "-in", certPath, "-inkey", keyPath, "-certfile", caPath,
		"-name", "smp", "-out", p12, "-passout", "pass:s3cret"); code != 0 {
		t.Fatalf("openssl pkcs12 -export: exit %d: %s", code, out)
	}
	// Make sure the file is what the test claims: PBKDF2 + AES-256-CBC.
	if code, out := openssl(t, "pkcs12", "-in", p12, "-info", "-noout", "-passin", "pass:s3cret"); code != 0 ||
		!strings.Contains(out, "PBKDF2") || !strings.Contains(out, "AES-256-CBC") {
		t.Fatalf("openssl pkcs12 -info: exit %d, want PBKDF2 and AES-256-CBC in: %s", code, out)
	}

	kp, err := LoadPKCS12(p12, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Cert.Equal(leaf.Cert) {
		t.Error("PKCS#12 certificate differs")
	}
	if !leaf.Key.(*rsa.PrivateKey).Equal(kp.Key) {
		t.Error("PKCS#12 key differs")
	}
	if len(kp.Chain) != 1 || !kp.Chain[0].Equal(ca.Cert) {
		t.Errorf("PKCS#12 chain has %d certificates, want the CA", len(kp.Chain))
	}
	if tc := kp.TLSCertificate(); len(tc.Certificate) != 1 {
		t.Errorf("TLS chain has %d certificates, want 1 (no self-signed root)", len(tc.Certificate))
	}

	_, err = LoadPKCS12(p12, "wrong")
	wantErrContains(t, err, "pki: "+p12+": wrong PKCS#12 password")
	if !errors.Is(err, pkcs12.ErrIncorrectPassword) {
		t.Errorf("wrong password error %v does not wrap pkcs12.ErrIncorrectPassword", err)
	}
	_, err = LoadPKCS12(certPath, "s3cret")
	wantErrContains(t, err, "pki: "+certPath+": cannot read PKCS#12 file")
}

func TestIdentity(t *testing.T) {
	leaf := mustIssue(t, mustRoot(t, "Test Root"), SMPCert, "SMP-ID")
	want := "CN=SMP-ID,O=Signpost Test,C=BE:" + leaf.Cert.SerialNumber.Text(16)
	if got := Identity(leaf.Cert); got != want {
		t.Errorf("Identity = %q, want %q", got, want)
	}
	if s := leaf.Cert.SerialNumber.Text(16); strings.HasPrefix(s, "0") || strings.ToLower(s) != s {
		t.Errorf("serial text %q has a leading zero or upper case", s)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
	}
}
