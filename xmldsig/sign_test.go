package xmldsig

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/internal/pki"
)

type signFixture struct {
	leaf   *pki.Leaf
	caFile string
	dir    string
}

func newSignFixture(t testing.TB) *signFixture {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("Sign Test CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "SMP sign test", Organization: "Signpost, \"test\"", Country: "BE",
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pki.EncodeCertPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return &signFixture{leaf: leaf, caFile: caFile, dir: dir}
}

// xmlsecVerify runs xmlsec1 against the fixture's CA and reports whether the signature verified.
func (f *signFixture) xmlsecVerify(t *testing.T, doc []byte) (bool, string) {
	t.Helper()
	p := filepath.Join(f.dir, "doc.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmlsec1", "--verify", "--enabled-reference-uris", "empty", "--enabled-key-data", "x509",
		"--trusted-pem", f.caFile, p).CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("xmlsec1: %v (install it: scripts/install-test-deps.sh)", err)
		}
		return false, string(out)
	}
	return true, string(out)
}

// tricky is a document whose values break naive serialisation.
const tricky = "<Root xmlns=\"urn:test:root\" xmlns:x=\"urn:test:x\"><First a=\"1\">head</First>" +
	"<x:Data attr=\"tab&#9;lf&#10;cr&#13;amp&amp;lt&lt;gt&gt;quot&quot;apos'\">text &amp; &lt;tag&gt; \"q\" 'a' cr&#13;lf\n tab\t äöü € 𝄞</x:Data>" +
	"<Ext><y:E xmlns:y=\"urn:test:y\"><!-- a comment --><y:F>in ext</y:F></y:E></Ext></Root>"

func TestSignEnvelopedVerifiesWithXMLSec(t *testing.T) {
	f := newSignFixture(t)
	for _, tc := range []struct {
		name    string
		profile Profile
		place   Placement
	}{
		{"smp1-second-child", ProfileSMP1, SecondChild},
		{"smp2-last-child", ProfileSMP2, LastChild},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner(f.leaf.Key, []*x509.Certificate{f.leaf.Cert}, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromString(`<?xml version="1.0" encoding="UTF-8"?>` + tricky); err != nil {
				t.Fatal(err)
			}
			out, err := s.SignEnveloped(doc, tc.place)
			if err != nil {
				t.Fatal(err)
			}
			if ok, msg := f.xmlsecVerify(t, out); !ok {
				t.Fatalf("xmlsec1 rejects the signature:\n%s\n%s", msg, out)
			}
			checkShape(t, out, tc.profile, tc.place)
			// One byte changed in a text node, and in an attribute: must fail.
			for _, tamper := range []struct{ from, to string }{{"head", "heaD"}, {`a="1"`, `a="2"`}, {"in ext", "in exT"}} {
				bad := bytes.Replace(out, []byte(tamper.from), []byte(tamper.to), 1)
				if bytes.Equal(bad, out) {
					t.Fatalf("tamper %q not applied", tamper.from)
				}
				if ok, _ := f.xmlsecVerify(t, bad); ok {
					t.Errorf("xmlsec1 accepts a document with %q changed to %q", tamper.from, tamper.to)
				}
			}
		})
	}
}

func checkShape(t *testing.T, out []byte, p Profile, place Placement) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	kids := doc.Root().ChildElements()
	idx := 1
	if place == LastChild {
		idx = len(kids) - 1
	}
	sig := kids[idx]
	if sig.Tag != "Signature" || sig.NamespaceURI() != NamespaceDSig {
		t.Fatalf("child %d is %s, want ds:Signature", idx, sig.FullTag())
	}
	ref := sig.FindElement("./SignedInfo/Reference")
	if ref.SelectAttrValue("URI", "x") != "" {
		t.Errorf("Reference URI = %q", ref.SelectAttrValue("URI", "x"))
	}
	var got []string
	for _, tr := range ref.FindElements("./Transforms/Transform") {
		got = append(got, tr.SelectAttrValue("Algorithm", ""))
	}
	if strings.Join(got, " ") != strings.Join(p.Transforms, " ") {
		t.Errorf("transforms %v, want %v", got, p.Transforms)
	}
	if c := sig.FindElement("./SignedInfo/CanonicalizationMethod").SelectAttrValue("Algorithm", ""); c != p.Canonicalization {
		t.Errorf("canonicalization %s, want %s", c, p.Canonicalization)
	}
	if sig.FindElement("./KeyInfo/X509Data/X509SubjectName") == nil || sig.FindElement("./KeyInfo/X509Data/X509Certificate") == nil {
		t.Error("KeyInfo lacks X509SubjectName or X509Certificate")
	}
	if bytes.Contains(out, []byte("\n  <")) {
		t.Error("signed output is indented")
	}
}

func TestNewSignerRefusesMismatchedCertificate(t *testing.T) {
	f := newSignFixture(t)
	g := newSignFixture(t)
	if _, err := NewSigner(f.leaf.Key, []*x509.Certificate{g.leaf.Cert}, ProfileSMP1); err == nil {
		t.Fatal("a certificate of another key was accepted")
	}
}
