package xmldsig

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/internal/pki"
)

// trickyTemplate returns testdata/xmldsig/tricky-template.xml (content that tests canonicalisation: namespace
// redeclarations, xmlns="", xml:* attributes, character references, literal TAB/LF/CR in attributes, CR in
// text, comments, processing instructions, CDATA) with the SignedInfo canonicalisation cm and the optional
// second transform tr filled in.
func trickyTemplate(t *testing.T, cm, tr string) []byte {
	t.Helper()
	b := readTestdata(t, "tricky-template.xml")
	b = bytes.Replace(b, []byte("C14NALG"), []byte(cm), 1)
	second := ""
	if tr != "" {
		second = `<Transform Algorithm="` + tr + `"/>`
	}
	return bytes.Replace(b, []byte("TRANSFORM"), []byte(second), 1)
}

// The verifier agrees with xmlsec1 on content that breaks naive canonicalisation, in every canonicalisation:
// what xmlsec1 signs verifies, and a one-character change fails.
func TestVerifyTrickyXmlsecSigned(t *testing.T) {
	tp := newTestPKI(t)
	key, cert := tp.files(t, "leaf")
	for _, cm := range []string{C14N10, C14N10Comments, ExcC14N, ExcC14NComments, C14N11, C14N11Comments} {
		for _, tr := range []string{"", C14N10, C14N10Comments, ExcC14N, C14N11} {
			t.Run(cm+" "+tr, func(t *testing.T) {
				doc := xmlsecSignBytes(t, trickyTemplate(t, cm, tr), key, cert)
				if _, _, err := tp.verifier().Verify(doc); err != nil {
					t.Fatalf("Verify rejects what xmlsec1 signed: %v\n%s", err, doc)
				}
				for _, tamper := range [][2]string{{">back<", ">bacK<"}, {`b="2"`, `b="3"`}, {"newline", "newlinE"}} {
					bad := bytes.Replace(doc, []byte(tamper[0]), []byte(tamper[1]), 1)
					if bytes.Equal(bad, doc) {
						t.Fatalf("tamper %q not applied", tamper[0])
					}
					if _, _, err := tp.verifier().Verify(bad); reasonOf(err) != BadDigest {
						t.Errorf("tampered %q: got %v, want bad-digest", tamper[0], err)
					}
				}
			})
		}
	}
}

// What the signer writes for the same tricky content verifies with xmlsec1 and with our verifier.
func TestSignTrickyVerifiesWithXmlsec(t *testing.T) {
	tp := newTestPKI(t)
	f := &signFixture{dir: t.TempDir()}
	f.caFile = filepath.Join(f.dir, "ca.pem")
	if err := os.WriteFile(f.caFile, pki.EncodeCertPEM(tp.root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl := trickyTemplate(t, C14N10, "")
	// The same content without the signature template.
	i, j := bytes.Index(tmpl, []byte("<Signature ")), bytes.Index(tmpl, []byte("</Signature>"))
	unsigned := append(append([]byte{}, tmpl[:i]...), tmpl[j+len("</Signature>"):]...)
	for _, p := range []Profile{ProfileSMP1, ProfileSMP2} {
		t.Run(p.Name, func(t *testing.T) {
			s, err := NewSigner(tp.leaf.Key, []*x509.Certificate{tp.leaf.Cert}, p)
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(unsigned); err != nil {
				t.Fatal(err)
			}
			out, err := s.SignEnveloped(doc, LastChild)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := tp.verifier().Verify(out); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if ok, msg := f.xmlsecVerify(t, out); !ok {
				t.Fatalf("xmlsec1 rejects the signed tricky document:\n%s\n%s", msg, out)
			}
			if _, _, err := tp.verifier().Verify(out); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			bad := bytes.Replace(out, []byte(">back<"), []byte(">bacK<"), 1)
			if ok, _ := f.xmlsecVerify(t, bad); ok {
				t.Error("xmlsec1 accepts a tampered document")
			}
		})
	}
}

// A key below 1024 bits is refused as such (unsupported-algorithm), not reported as a bad signature.
func TestVerifyRefusesSmallRSAKey(t *testing.T) {
	doc := readTestdata(t, "small-rsa-768.xml")
	_, _, err := anchoredVerifier(embeddedCert(t, doc)).Verify(doc)
	if reasonOf(err) != UnsupportedAlgorithm || !strings.Contains(err.Error(), "768-bit") {
		t.Fatalf("got %v, want unsupported-algorithm naming the 768-bit key", err)
	}
}

// Literal TAB, LF and CR LF in attribute values are whitespace the parser turns into spaces (XML 1.0 3.3.3);
// xmlsec1 writes them normalised, but a document signed elsewhere may carry them literally. xmlsec1 accepts
// such a document, and so must the verifier.
func TestVerifyLiteralWhitespaceInAttributes(t *testing.T) {
	tp := newTestPKI(t)
	key, cert := tp.files(t, "leaf")
	doc := xmlsecSignBytes(t, trickyTemplate(t, C14N10, ""), key, cert)
	lit := bytes.Replace(doc, []byte(`attr=" tab and newline"`), []byte("attr=\"\ttab and\r\nnewline\""), 1)
	if bytes.Equal(lit, doc) {
		t.Fatal("attribute not found")
	}
	f := &signFixture{dir: t.TempDir()}
	f.caFile = filepath.Join(f.dir, "ca.pem")
	if err := os.WriteFile(f.caFile, pki.EncodeCertPEM(tp.root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, msg := f.xmlsecVerify(t, lit); !ok {
		t.Fatalf("xmlsec1 rejects it:\n%s", msg)
	}
	el, _, err := tp.verifier().Verify(lit)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := el.FindElement("//child").SelectAttrValue("attr", ""); got != " tab and newline" {
		t.Errorf("attr = %q, want the normalised value", got)
	}
	// A character reference is not whitespace to normalise: changing one into the literal character (which
	// means a space) changes the signed content.
	bad := bytes.Replace(lit, []byte(`ref="&#9;`), []byte("ref=\"\t"), 1)
	if _, _, err := tp.verifier().Verify(bad); reasonOf(err) != BadDigest {
		t.Errorf("&#9; replaced by a literal TAB: got %v, want bad-digest", err)
	}
}

func TestNormalizeAttrWhitespace(t *testing.T) {
	cases := map[string]string{
		"<a b=\"x\ty\">t\tu</a>":                        "<a b=\"x y\">t\tu</a>",
		"<a b='x\r\ny\rz\n'/>":                          "<a b='x y z '/>",
		"<a b=\"'\t'\" c='\"\t\"'/>":                    "<a b=\"' '\" c='\" \"'/>",
		"<!-- \"\t' --><a/>":                            "<!-- \"\t' --><a/>",
		"<a><![CDATA[<b c=\"\t\">]]></a>":               "<a><![CDATA[<b c=\"\t\">]]></a>",
		"<?pi x=\"\t\"?><a/>":                           "<?pi x=\"\t\"?><a/>",
		"<!DOCTYPE a [<!ENTITY e \"\t>\">]><a b='\t'/>": "<!DOCTYPE a [<!ENTITY e \"\t>\">]><a b=' '/>",
		"<a b=\"&#9;\">\"\t\"</a>":                      "<a b=\"&#9;\">\"\t\"</a>",
	}
	for in, want := range cases {
		if got := string(normalizeAttrWhitespace([]byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// XPath and XSLT transforms are refused wherever they appear, and so is a KeyInfo certificate list that
// tries to lend a trusted certificate to a signature made with another key.
func TestVerifyRefusesTransformsAndBorrowedCertificates(t *testing.T) {
	tp := newTestPKI(t)
	good := xmlsecSign(t, defaultParams, "leaf")
	const xpath = `<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>not(ancestor-or-self::smp:Endpoint)</ds:XPath></ds:Transform>`
	const xslt = `<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"/></ds:Transform>`
	enveloped := `<ds:Transform Algorithm="` + EnvelopedSignature + `"/>`
	for name, tc := range map[string]struct {
		doc  []byte
		want Reason
	}{
		"xpath before enveloped": {bytes.Replace(good, []byte(enveloped), []byte(xpath+enveloped), 1), WrongReference},
		"xpath after enveloped":  {bytes.Replace(good, []byte(enveloped), []byte(enveloped+xpath), 1), UnsupportedAlgorithm},
		"xslt after enveloped":   {bytes.Replace(good, []byte(enveloped), []byte(enveloped+xslt), 1), UnsupportedAlgorithm},
		"three transforms": {bytes.Replace(good, []byte(enveloped),
			[]byte(enveloped+`<ds:Transform Algorithm="`+C14N10+`"/><ds:Transform Algorithm="`+C14N10+`"/>`), 1), WrongReference},
	} {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(tc.doc, good) {
				t.Fatal("not changed")
			}
			if _, _, err := tp.verifier().Verify(tc.doc); reasonOf(err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}

	certEl := func(c *x509.Certificate) []byte {
		return []byte("<ds:X509Certificate>" + base64.StdEncoding.EncodeToString(c.Raw) + "</ds:X509Certificate>")
	}
	// Signed by the trusted leaf, a foreign certificate listed first: the signer is the leaf.
	doc := bytes.Replace(good, []byte("<ds:X509Certificate>"), append(certEl(tp.foreign.Cert), "<ds:X509Certificate>"...), 1)
	if _, signer, err := tp.verifier().Verify(doc); err != nil || !signer.Equal(tp.leaf.Cert) {
		t.Fatalf("foreign certificate first: signer %v, err %v", signer, err)
	}
	// Signed by the foreign key, the trusted leaf's certificate listed first: not trusted.
	foreign := xmlsecSign(t, defaultParams, "foreign")
	doc = bytes.Replace(foreign, []byte("<ds:X509Certificate>"), append(certEl(tp.leaf.Cert), "<ds:X509Certificate>"...), 1)
	if _, _, err := tp.verifier().Verify(doc); reasonOf(err) != UntrustedCertificate {
		t.Fatalf("trusted certificate lent to a foreign signature: err = %v, want untrusted-certificate", err)
	}
	// Only the trusted certificate, the signature by the foreign key: a bad signature, not a trusted one.
	doc = removeBetween(t, foreign, "<ds:X509Certificate>", "</ds:X509Certificate>")
	doc = bytes.Replace(doc, []byte("<ds:X509Data>"), append([]byte("<ds:X509Data>"), certEl(tp.leaf.Cert)...), 1)
	if _, _, err := tp.verifier().Verify(doc); reasonOf(err) != BadSignature {
		t.Fatalf("trusted certificate swapped in: err = %v, want bad-signature", err)
	}
}

// Exclusive C14N with an InclusiveNamespaces PrefixList, for SignedInfo and for the reference, agrees with
// xmlsec1.
func TestVerifyExclusivePrefixListXmlsecSigned(t *testing.T) {
	tp := newTestPKI(t)
	key, cert := tp.files(t, "leaf")
	tmpl := trickyTemplate(t, ExcC14N, "")
	incl := func(list string) string {
		return `<InclusiveNamespaces xmlns="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="` + list + `"/>`
	}
	tmpl = bytes.Replace(tmpl, []byte(`<CanonicalizationMethod Algorithm="`+ExcC14N+`"/>`),
		[]byte(`<CanonicalizationMethod Algorithm="`+ExcC14N+`">`+incl("r unused #default")+`</CanonicalizationMethod>`), 1)
	tmpl = bytes.Replace(tmpl, []byte(`#enveloped-signature"/>`),
		[]byte(`#enveloped-signature"/><Transform Algorithm="`+ExcC14N+`">`+incl("a #default xml")+`</Transform>`), 1)
	if !bytes.Contains(tmpl, []byte(`PrefixList="a`)) || !bytes.Contains(tmpl, []byte(`PrefixList="r`)) {
		t.Fatal("template not changed")
	}
	doc := xmlsecSignBytes(t, tmpl, key, cert)
	if _, _, err := tp.verifier().Verify(doc); err != nil {
		t.Fatalf("Verify rejects what xmlsec1 signed: %v", err)
	}
	if _, _, err := tp.verifier().Verify(bytes.Replace(doc, []byte(">back<"), []byte(">bacK<"), 1)); reasonOf(err) != BadDigest {
		t.Errorf("tampered: got %v, want bad-digest", err)
	}
}
