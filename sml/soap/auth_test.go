package soap_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml/soap"
)

// The caller's domain is the one whose trusted issuers its certificate chains to; an issuer may be an
// intermediate (PEPPOL's SMP CA is one); validity is checked at the injected clock.
func TestCertAuthenticatorDomains(t *testing.T) {
	now := time.Now()
	root1, _ := pki.NewRoot("Root One", now.Add(-time.Hour), now.Add(48*time.Hour))
	root2, _ := pki.NewRoot("Root Two", now.Add(-time.Hour), now.Add(48*time.Hour))
	inter2, err := root2.NewIntermediate("SMP CA Two", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pool := func(c *x509.Certificate) *x509.CertPool { p := x509.NewCertPool(); p.AddCert(c); return p }
	leaf := func(a *pki.Authority, cn string) *pki.KeyPair {
		kp, err := a.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: cn, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	clock := now
	a := &soap.CertAuthenticator{Now: func() time.Time { return clock }, Domains: []soap.DomainTrust{
		{Zone: "one.test.", Issuers: pool(root1.Cert)},
		{Zone: "two.test.", Issuers: pool(inter2.Cert)}, // only the intermediate is trusted
	}}
	one, two := leaf(root1, "smp one"), leaf(inter2, "smp two")

	c, err := a.Verify(one.Cert, nil)
	if err != nil || c.Domain != "one.test." || c.Identity != pki.Identity(one.Cert) {
		t.Errorf("leaf of root one: %+v %v", c, err)
	}
	c, err = a.Verify(two.Cert, nil) // the client sends no chain: the trusted intermediate anchors it
	if err != nil || c.Domain != "two.test." {
		t.Errorf("leaf of the trusted intermediate: %+v %v", c, err)
	}
	c, err = a.Verify(two.Cert, []*x509.Certificate{inter2.Cert})
	if err != nil || c.Domain != "two.test." {
		t.Errorf("leaf with its chain: %+v %v", c, err)
	}
	// Trusting only root two does not make a leaf of root one acceptable, and vice versa.
	b := &soap.CertAuthenticator{Domains: []soap.DomainTrust{{Zone: "two.test.", Issuers: pool(root2.Cert)}}}
	if _, err := b.Verify(one.Cert, nil); err == nil || !strings.Contains(err.Error(), "not issued by a trusted") {
		t.Errorf("foreign leaf: %v", err)
	}
	if c, err := b.Verify(two.Cert, []*x509.Certificate{inter2.Cert}); err != nil || c.Domain != "two.test." {
		t.Errorf("leaf under root two with chain: %+v %v", c, err)
	}
	if _, err := b.Verify(two.Cert, nil); err == nil {
		t.Error("leaf under root two without its intermediate was accepted")
	}

	clock = now.Add(25 * time.Hour)
	if _, err := a.Verify(one.Cert, nil); err == nil || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("expired: %v", err)
	}
	clock = now.Add(-time.Hour)
	if _, err := a.Verify(one.Cert, nil); err == nil || !strings.Contains(err.Error(), "not valid before") {
		t.Errorf("not yet valid: %v", err)
	}
}

// A verified chain is remembered (one signature check per certificate, not per request), but its validity is
// judged again at every call: at a moment when the intermediate is not valid (and the leaf is), calls fail.
func TestCertAuthenticatorRemembersChainsNotValidity(t *testing.T) {
	now := time.Now()
	root, _ := pki.NewRoot("Root", now.Add(-5*time.Hour), now.Add(48*time.Hour))
	inter, err := root.NewIntermediate("SMP CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := inter.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "smp", NotBefore: now.Add(-3 * time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	a := &soap.CertAuthenticator{Now: func() time.Time { return clock }, Domains: []soap.DomainTrust{{Zone: "one.test.", Issuers: root.Pool()}}}
	for i := range 3 {
		if c, err := a.Verify(kp.Cert, []*x509.Certificate{inter.Cert}); err != nil || c.Domain != "one.test." {
			t.Fatalf("call %d: %+v %v", i, c, err)
		}
	}
	clock = now.Add(-2 * time.Hour) // the leaf is valid then, its issuer not yet
	if _, err := a.Verify(kp.Cert, []*x509.Certificate{inter.Cert}); err == nil || !strings.Contains(err.Error(), "expired or not yet valid") {
		t.Errorf("while the intermediate is not valid: %v, want refused", err)
	}
	// Without the intermediate the leaf does not chain, remembered or not.
	clock = now
	if _, err := a.Verify(kp.Cert, nil); err == nil {
		t.Error("leaf without its intermediate was accepted")
	}
}
