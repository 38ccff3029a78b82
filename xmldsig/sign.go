package xmldsig

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// Profile is what a flavour prescribes for an enveloped signature over the whole document (Reference URI="").
type Profile struct {
	// Name is for messages and metrics, e.g. "smp1".
	Name string
	// Canonicalization is the CanonicalizationMethod of SignedInfo: C14N10 or C14N11.
	Canonicalization string
	// Transforms of the one Reference, in order. The first must be EnvelopedSignature; a second, if any, is the
	// canonicalisation of the referenced document (C14N10 or C14N11). With the enveloped transform alone the
	// node-set is turned into octets with inclusive C14N 1.0, as XML-DSig prescribes.
	Transforms []string
	// DigestMethod of the Reference: DigestSHA256.
	DigestMethod string
}

// The profiles of the SMP flavours (spec/DIGEST.md 4.1).
var (
	// ProfileSMP1 is PEPPOL SMP 1.x and OASIS BDXR SMP 1.0: inclusive C14N 1.0, exactly one transform
	// (enveloped-signature), RSA-SHA256, SHA-256.
	ProfileSMP1 = Profile{Name: "smp1", Canonicalization: C14N10, Transforms: []string{EnvelopedSignature}, DigestMethod: DigestSHA256}
	// ProfileSMP2 is OASIS SMP 2.0: C14N 1.1 for SignedInfo and for the referenced document (enveloped-signature
	// then C14N 1.1 transforms), RSA-SHA256, SHA-256.
	ProfileSMP2 = Profile{Name: "smp2", Canonicalization: C14N11, Transforms: []string{EnvelopedSignature, C14N11}, DigestMethod: DigestSHA256}
)

// Placement says where the ds:Signature element goes in the root element.
type Placement int

const (
	// SecondChild puts the signature right after the root's first child element (PEPPOL and OASIS 1.0
	// SignedServiceMetadata).
	SecondChild Placement = iota
	// LastChild appends the signature to the root element (OASIS SMP 2.0).
	LastChild
)

// Signer makes enveloped signatures with one key. It is safe for concurrent use.
type Signer struct {
	key     crypto.Signer
	chain   []*x509.Certificate
	profile Profile
	method  string
}

// NewSigner returns a signer for key, whose certificate is chain[0]; further certificates of chain (intermediates)
// go into KeyInfo after it so verifiers can build the path to their trust anchor.
func NewSigner(key crypto.Signer, chain []*x509.Certificate, profile Profile) (*Signer, error) {
	if key == nil || len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("xmldsig: a signer needs a key and its certificate")
	}
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("xmldsig: signing key is %T; SMP signatures need an RSA key", key.Public())
	}
	if cpub, ok := chain[0].PublicKey.(*rsa.PublicKey); !ok || !cpub.Equal(pub) {
		return nil, errors.New("xmldsig: the certificate does not belong to the signing key")
	}
	if profile.Canonicalization != C14N10 && profile.Canonicalization != C14N11 {
		return nil, fmt.Errorf("xmldsig: unsupported canonicalization %q", profile.Canonicalization)
	}
	if len(profile.Transforms) == 0 || profile.Transforms[0] != EnvelopedSignature || len(profile.Transforms) > 2 {
		return nil, errors.New("xmldsig: transforms must be enveloped-signature, optionally followed by one canonicalization")
	}
	if len(profile.Transforms) == 2 && profile.Transforms[1] != C14N10 && profile.Transforms[1] != C14N11 {
		return nil, fmt.Errorf("xmldsig: unsupported transform %q", profile.Transforms[1])
	}
	if profile.DigestMethod != DigestSHA256 {
		return nil, fmt.Errorf("xmldsig: unsupported digest %q", profile.DigestMethod)
	}
	return &Signer{key: key, chain: chain, profile: profile, method: RSASHA256}, nil
}

// Certificate returns the signing certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.chain[0] }

// Profile returns the signer's profile.
func (s *Signer) Profile() Profile { return s.profile }

// WithProfile returns a signer with the same key and chain and another profile.
func (s *Signer) WithProfile(p Profile) (*Signer, error) { return NewSigner(s.key, s.chain, p) }

// c14nModeOf returns the verifier's canonicalisation mode for uri (C14N10 or C14N11, checked by NewSigner): signing
// and verifying use the same canonicaliser, which is tested against xmlsec1.
func c14nModeOf(uri string) c14nMode {
	m, _ := c14nModeFor(uri, "")
	return m
}

// SignEnveloped is SignEnvelopedContext without a deadline.
func (s *Signer) SignEnveloped(doc *etree.Document, place Placement) ([]byte, error) {
	return s.SignEnvelopedContext(context.Background(), doc, place)
}

// SignEnvelopedContext signs doc (which must not contain a signature yet) with an enveloped signature over the
// whole document, inserts ds:Signature at place and returns the serialised document. doc is changed (it holds
// the signature afterwards). Both digests are computed with the canonicaliser the verifier uses (processing
// instructions outside the root element are signed too, comments never are). The output is written with
// canonical escaping (TAB, CR and LF in attributes and CR in text as character references) and is never
// indented, so what a conforming parser reads back canonicalises to exactly the bytes that were digested.
//
// Signing stops early when ctx ends: canonicalisation looks at ctx every few hundred elements and
// serialisation every few kilobytes, so a large document does not outlive the request it serves. The error
// then wraps ctx.Err() (errors.Is(err, context.DeadlineExceeded) or context.Canceled), and doc is left as it
// was given, without a signature; so is it after any other error.
func (s *Signer) SignEnvelopedContext(ctx context.Context, doc *etree.Document, place Placement) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, stopped(err)
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("xmldsig: empty document")
	}
	// The referenced node-set: the document without the signature (there is none yet), as octets.
	refC14N := C14N10
	if len(s.profile.Transforms) == 2 {
		refC14N = s.profile.Transforms[1]
	}
	// Comments are never part of the node-set of URI="".
	refOctets, err := c14nDocumentContext(ctx, c14nModeOf(refC14N), root, nil)
	if err != nil {
		return nil, stopped(err)
	}
	digest := sha256.Sum256(refOctets)
	refOctets = nil // may be large; not needed any more

	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NamespaceDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", s.profile.Canonicalization)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", s.method)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "")
	tr := ref.CreateElement("ds:Transforms")
	for _, t := range s.profile.Transforms {
		tr.CreateElement("ds:Transform").CreateAttr("Algorithm", t)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", s.profile.DigestMethod)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest[:]))
	sv := sig.CreateElement("ds:SignatureValue")
	x5 := sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
	x5.CreateElement("ds:X509SubjectName").SetText(s.chain[0].Subject.String())
	for _, c := range s.chain {
		x5.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}

	switch place {
	case SecondChild:
		kids := root.ChildElements()
		if len(kids) == 0 {
			return nil, errors.New("xmldsig: the root element has no child to put the signature after")
		}
		root.InsertChildAt(kids[0].Index()+1, sig)
	case LastChild:
		root.AddChild(sig)
	default:
		return nil, fmt.Errorf("xmldsig: unknown placement %d", place)
	}
	// From here on, an error takes the signature out again.
	fail := func(err error) ([]byte, error) {
		root.RemoveChild(sig)
		return nil, err
	}

	// SignedInfo is canonicalised in its place: inclusive canonicalisation carries the namespace declarations
	// (and xml:* attributes) in scope there.
	siOctets, err := c14nSubtreeContext(ctx, c14nModeOf(s.profile.Canonicalization), si)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return fail(stopped(err))
	}
	h := sha256.Sum256(siOctets)
	value, err := s.key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return fail(fmt.Errorf("xmldsig: sign: %w", err))
	}
	sv.SetText(base64.StdEncoding.EncodeToString(value))

	doc.WriteSettings.CanonicalAttrVal = true
	doc.WriteSettings.CanonicalText = true
	var out bytes.Buffer
	if _, err := doc.WriteTo(ctxWriter{ctx: ctx, w: &out}); err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return fail(stopped(err))
		}
		return fail(fmt.Errorf("xmldsig: serialise: %w", err))
	}
	return out.Bytes(), nil
}

// stopped is the error of signing cut short by the end of its context.
func stopped(err error) error {
	return fmt.Errorf("xmldsig: signing stopped before it was done: %w", err)
}

// ctxWriter writes to w until ctx ends, and then fails every write with ctx's error. etree writes through a
// 4 KiB buffer, so serialisation looks at ctx every 4 KiB. (etree goes on walking the tree after a failed
// write, but only to call a writer that has failed: no more output is made.)
type ctxWriter struct {
	ctx context.Context
	w   *bytes.Buffer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
