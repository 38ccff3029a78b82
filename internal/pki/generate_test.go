package pki

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

func TestNewRoot(t *testing.T) {
	ca := mustRoot(t, "Test Root")
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("root: IsCA=%v BasicConstraintsValid=%v, want both true", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("root key usage = %b, want CertSign|CRLSign", c.KeyUsage)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("root has no SubjectKeyId")
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if k, ok := ca.Key.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		t.Errorf("root key = %T, want RSA-2048", ca.Key)
	}
	if c.Subject.CommonName != "Test Root" {
		t.Errorf("root CN = %q", c.Subject.CommonName)
	}
}

func TestIssueProfiles(t *testing.T) {
	ca := mustRoot(t, "Test Root")
	roots := ca.Pool()
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth
	tests := []struct {
		profile Profile
		ku      x509.KeyUsage
		eku     []x509.ExtKeyUsage
		valid   []x509.ExtKeyUsage // usages Verify must accept
		invalid []x509.ExtKeyUsage // usages Verify must refuse
	}{
		{TLSServer, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{server},
			[]x509.ExtKeyUsage{server}, []x509.ExtKeyUsage{client}},
		{TLSClient, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{client},
			[]x509.ExtKeyUsage{client}, []x509.ExtKeyUsage{server}},
		{Signing, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, nil,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageAny}, nil},
		{SMPCert, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{client, server},
			[]x509.ExtKeyUsage{client, server}, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}},
		{AccessPoint, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{client, server},
			[]x509.ExtKeyUsage{client, server}, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}},
	}
	for _, tt := range tests {
		t.Run(tt.profile.String(), func(t *testing.T) {
			l := mustIssue(t, ca, tt.profile, "leaf-"+tt.profile.String(), "127.0.0.1", "leaf.test")
			c := l.Cert
			if c.KeyUsage != tt.ku {
				t.Errorf("key usage = %b, want %b", c.KeyUsage, tt.ku)
			}
			if !slices.Equal(c.ExtKeyUsage, tt.eku) {
				t.Errorf("EKU = %v, want %v", c.ExtKeyUsage, tt.eku)
			}
			if c.IsCA {
				t.Error("leaf is a CA")
			}
			if !bytes.Equal(c.AuthorityKeyId, ca.Cert.SubjectKeyId) {
				t.Errorf("AuthorityKeyId %x != issuer SubjectKeyId %x", c.AuthorityKeyId, ca.Cert.SubjectKeyId)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("leaf has no SubjectKeyId")
			}
			if len(l.Chain) != 1 || !l.Chain[0].Equal(ca.Cert) {
				t.Errorf("chain = %d certificates, want [root]", len(l.Chain))
			}
			if !keyMatches(l.Key, c) {
				t.Error("leaf key does not match certificate")
			}
			if got := c.Subject.String(); got != "CN=leaf-"+tt.profile.String()+",O=Signpost Test,C=BE" {
				t.Errorf("subject = %q", got)
			}
			if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) || !slices.Equal(c.DNSNames, []string{"leaf.test"}) {
				t.Errorf("SANs = %v %v", c.IPAddresses, c.DNSNames)
			}
			for _, u := range tt.valid {
				if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
					t.Errorf("Verify for EKU %v: %v", u, err)
				}
			}
			for _, u := range tt.invalid {
				if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{u}}); err == nil {
					t.Errorf("Verify for EKU %v succeeded, want failure", u)
				}
			}
			foreign := mustRoot(t, "Foreign Root").Pool()
			if _, err := c.Verify(x509.VerifyOptions{Roots: foreign, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
				t.Error("leaf verifies against a foreign root")
			}
		})
	}
}

func TestSerials(t *testing.T) {
	ca := mustRoot(t, "Test Root")
	seen := map[string]bool{ca.Cert.SerialNumber.String(): true}
	for range 8 {
		s := mustIssue(t, ca, TLSClient, "c").Cert.SerialNumber
		if s.Sign() <= 0 || s.BitLen() > 128 {
			t.Errorf("serial %x: want positive, at most 128 bits", s)
		}
		if seen[s.String()] {
			t.Errorf("serial %x repeated", s)
		}
		seen[s.String()] = true
	}
}

func TestIntermediateChain(t *testing.T) {
	root := mustRoot(t, "Test Root")
	inter, err := root.NewIntermediate("Test Intermediate", testNow.Add(-time.Hour), testNow.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !inter.Cert.IsCA || !inter.Cert.MaxPathLenZero || inter.Cert.MaxPathLen != 0 {
		t.Errorf("intermediate: IsCA=%v MaxPathLen=%d zero=%v", inter.Cert.IsCA, inter.Cert.MaxPathLen, inter.Cert.MaxPathLenZero)
	}
	leaf := mustIssue(t, inter, TLSServer, "server", "localhost")
	if len(leaf.Chain) != 2 || !leaf.Chain[0].Equal(inter.Cert) || !leaf.Chain[1].Equal(root.Cert) {
		t.Fatalf("leaf chain = %d certificates, want [intermediate root]", len(leaf.Chain))
	}
	if !inter.Pool().Equal(root.Pool()) {
		t.Error("intermediate's Pool is not its root")
	}
	inters := x509.NewCertPool()
	inters.AddCert(inter.Cert)
	chains, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inters, CurrentTime: testNow, DNSName: "localhost"})
	if err != nil {
		t.Fatalf("Verify through intermediate: %v", err)
	}
	if len(chains[0]) != 3 {
		t.Errorf("chain length %d, want 3", len(chains[0]))
	}
	// Without the intermediate the leaf does not chain to the root.
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), CurrentTime: testNow}); err == nil {
		t.Error("leaf verified without its intermediate")
	}
	// An intermediate with path length 0 cannot make another CA that verifies.
	sub, err := inter.NewIntermediate("Too Deep", testNow.Add(-time.Hour), testNow.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	deep := mustIssue(t, sub, TLSClient, "deep")
	inters.AddCert(sub.Cert)
	if _, err := deep.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inters, CurrentTime: testNow,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Error("leaf under a path-length-0 intermediate's sub-CA verified")
	}
	// TLS chain: leaf and intermediate, not the root.
	if got := len(leaf.TLSCertificate().Certificate); got != 2 {
		t.Errorf("TLS certificate chain has %d certificates, want 2", got)
	}
}

func TestIssueClampsAndRejects(t *testing.T) {
	ca := mustRoot(t, "Test Root")
	l, err := ca.Issue(LeafSpec{Profile: TLSClient, CommonName: "long", NotBefore: testNow, NotAfter: testNow.AddDate(50, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("NotAfter %v not clamped to CA's %v", l.Cert.NotAfter, ca.Cert.NotAfter)
	}
	_, err = ca.Issue(LeafSpec{Profile: Profile(99), CommonName: "x", NotBefore: testNow, NotAfter: testNow.Add(time.Hour)})
	wantErrContains(t, err, "unknown certificate profile")
	_, err = ca.Issue(LeafSpec{Profile: TLSClient, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)})
	wantErrContains(t, err, "common name")
	_, err = ca.Issue(LeafSpec{Profile: TLSClient, CommonName: "x", NotBefore: testNow, NotAfter: testNow.Add(-time.Hour)})
	wantErrContains(t, err, "not after NotBefore")
}
