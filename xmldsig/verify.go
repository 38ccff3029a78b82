package xmldsig

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SHA-1 is read for legacy PEPPOL signatures (spec/DIGEST.md 4.1), never written.
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Verifier checks enveloped XML signatures over a whole document (Reference URI=""), as SMP responses carry
// them, and the signing certificate's chain to trust anchors. The zero value trusts nothing; set Roots. A
// Verifier is safe for concurrent use as long as its fields are not changed.
//
// Accepted: SignedInfo canonicalisation inclusive C14N 1.0 and 1.1 and exclusive C14N 1.0, each with or
// without comments; RSA-SHA1, RSA-SHA256 and RSA-SHA512; digests SHA-1, SHA-256 and SHA-512; exactly one
// Reference per signature, with URI="" and the transforms enveloped-signature alone (the node set is then
// canonicalised with inclusive C14N 1.0, as XML-DSig prescribes) or enveloped-signature followed by one
// canonicalisation. Comments are never part of what URI="" signs. Every ds:Signature that is a child of the
// document element is checked; all must verify.
//
// The key comes only from KeyInfo/X509Data/X509Certificate (other certificates there serve as
// intermediates); the certificate must chain to Roots, with any extended key usage, at Now(). Verify does no
// revocation checking.
type Verifier struct {
	// Roots are the trust anchors. Required: a nil pool fails every verification (the system roots are
	// never used).
	Roots *x509.CertPool
	// Intermediates are extra intermediate CA certificates; may be nil.
	Intermediates *x509.CertPool
	// Now returns the time at which certificates must be valid; nil means time.Now.
	Now func() time.Time
}

// minRSABits is the smallest RSA modulus accepted (the OASIS SMP 1.0 samples still use 1024 bits).
const minRSABits = 1024

// maxVerifyDepth bounds the nesting of documents the verifier parses.
const maxVerifyDepth = 256

// Verify parses data and verifies its signatures. It returns a copy of the verified document element
// without its ds:Signature elements and without comments (the signed content and nothing else), and the
// certificate of the first signature. Callers must use only the returned element. Every error is a
// *VerifyError.
func (v *Verifier) Verify(data []byte) (verified *etree.Element, signer *x509.Certificate, err error) {
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = maxVerifyDepth
	if err := doc.ReadFromBytes(normalizeAttrWhitespace(data)); err != nil {
		return nil, nil, verifyErr(Malformed, err, "document is not well-formed XML")
	}
	root := doc.Root()
	if root == nil {
		return nil, nil, verifyErr(Malformed, nil, "document has no root element")
	}
	return v.verifyRoot(root)
}

// VerifyElement verifies the signatures of the document that el belongs to (el must be its document
// element, as parsed, untouched since). encoding/xml does not normalise literal TAB, CR and LF in attribute
// values to spaces as XML requires, so a document with such values verifies with Verify but not here. It returns what Verify returns; the tree passed in is not modified.
func (v *Verifier) VerifyElement(el *etree.Element) (verified *etree.Element, signer *x509.Certificate, err error) {
	if el == nil {
		return nil, nil, verifyErr(Malformed, nil, "no element")
	}
	if p := el.Parent(); p != nil && !isDocumentNode(p) {
		return nil, nil, verifyErr(WrongReference, nil, "element <%s> is not the document element; URI=\"\" signs the whole document", el.Tag)
	}
	return v.verifyRoot(el)
}

func (v *Verifier) verifyRoot(root *etree.Element) (*etree.Element, *x509.Certificate, error) {
	var sigs []*etree.Element
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == NamespaceDSig {
			sigs = append(sigs, c)
		}
	}
	if len(sigs) == 0 {
		return nil, nil, verifyErr(NoSignature, nil, "document element <%s> has no ds:Signature child", root.Tag)
	}
	var first *x509.Certificate
	for _, sig := range sigs {
		cert, err := v.verifySignature(root, sig)
		if err != nil {
			if len(sigs) > 1 {
				err.Msg = "signature " + strconv.Itoa(indexOf(sigs, sig)+1) + " of " + strconv.Itoa(len(sigs)) + ": " + err.Msg
			}
			return nil, nil, err
		}
		if first == nil {
			first = cert
		}
	}
	return signedCopy(root), first, nil
}

// normalizeAttrWhitespace returns data with every literal TAB, LF, CR and CR LF inside an attribute value
// replaced by one space: the attribute-value normalisation of XML 1.0 (3.3.3) that encoding/xml leaves
// out, and without which a document signed elsewhere would canonicalise differently here ("&#9;" and the
// other character references are text and stay as they are). Markup is recognised just enough to find
// attribute values: comments, CDATA sections, processing instructions and declarations are skipped. data is
// returned unchanged when there is nothing to do, or when it is not in an ASCII-compatible encoding.
func normalizeAttrWhitespace(data []byte) []byte {
	if bytes.IndexByte(data, 0) >= 0 {
		return data // UTF-16 or binary: leave it to the parser
	}
	var out []byte // nil until a change is needed; then data[:last] is in it
	last := 0
	skipTo := func(i int, end string) int {
		if j := bytes.Index(data[i:], []byte(end)); j >= 0 {
			return i + j + len(end)
		}
		return len(data)
	}
	i := 0
	for i < len(data) {
		if data[i] != '<' {
			i++
			continue
		}
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipTo(i+4, "-->")
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipTo(i+9, "]]>")
			continue
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipTo(i+2, "?>")
			continue
		case bytes.HasPrefix(rest, []byte("<!")):
			// A declaration (DOCTYPE with an internal subset): up to the '>' outside brackets and quotes.
			depth, quote := 0, byte(0)
			for i++; i < len(data); i++ {
				c := data[i]
				switch {
				case quote != 0:
					if c == quote {
						quote = 0
					}
				case c == '"' || c == '\'':
					quote = c
				case c == '[':
					depth++
				case c == ']':
					depth--
				case c == '>' && depth <= 0:
					i++
					goto next
				}
			}
		next:
			continue
		}
		// A start or end tag: quotes inside it delimit attribute values.
		quote := byte(0)
		for i++; i < len(data); i++ {
			c := data[i]
			if quote == 0 {
				if c == '"' || c == '\'' {
					quote = c
				} else if c == '>' {
					i++
					break
				}
				continue
			}
			switch c {
			case quote:
				quote = 0
			case '\t', '\n', '\r':
				out = append(out, data[last:i]...)
				out = append(out, ' ')
				last = i + 1
				if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
					i++ // CR LF is one line end, hence one space
					last = i + 1
				}
			}
		}
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

// signedCopy returns a detached copy of root without ds:Signature children and without comments.
func signedCopy(root *etree.Element) *etree.Element {
	cp := root.Copy()
	for i := 0; i < len(cp.Child); {
		if e, ok := cp.Child[i].(*etree.Element); ok && e.Tag == "Signature" && e.NamespaceURI() == NamespaceDSig {
			cp.RemoveChildAt(i)
			continue
		}
		i++
	}
	stripComments(cp)
	out := etree.NewDocument()
	out.SetRoot(cp)
	return cp
}

func stripComments(e *etree.Element) {
	for i := 0; i < len(e.Child); {
		switch t := e.Child[i].(type) {
		case *etree.Comment:
			e.RemoveChildAt(i)
			continue
		case *etree.Element:
			stripComments(t)
		}
		i++
	}
}

func indexOf(list []*etree.Element, e *etree.Element) int {
	for i, x := range list {
		if x == e {
			return i
		}
	}
	return -1
}

var signatureHashes = map[string]crypto.Hash{
	RSASHA1:   crypto.SHA1,
	RSASHA256: crypto.SHA256,
	RSASHA512: crypto.SHA512,
}

var digestHashes = map[string]crypto.Hash{
	DigestSHA1:   crypto.SHA1,
	DigestSHA256: crypto.SHA256,
	DigestSHA512: crypto.SHA512,
}

func hashSum(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA1:
		s := sha1.Sum(data) //nolint:gosec // see import
		return s[:]
	case crypto.SHA256:
		s := sha256.Sum256(data)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(data)
		return s[:]
	}
	return nil
}

// dsChildren returns the children of e in the XML-DSig namespace named tag.
func dsChildren(e *etree.Element, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == NamespaceDSig {
			out = append(out, c)
		}
	}
	return out
}

// dsOne returns the one child of e named tag, or an error naming what is missing or repeated.
func dsOne(e *etree.Element, tag string, r Reason) (*etree.Element, *VerifyError) {
	cs := dsChildren(e, tag)
	switch len(cs) {
	case 1:
		return cs[0], nil
	case 0:
		return nil, verifyErr(r, nil, "<%s> has no ds:%s", e.Tag, tag)
	}
	return nil, verifyErr(r, nil, "<%s> has %d ds:%s elements, want one", e.Tag, len(cs), tag)
}

// decodeBase64 decodes base64 text that may be wrapped with spaces, tabs, CR and LF (Santuario writes
// "&#13;" line ends).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

// prefixListOf returns the InclusiveNamespaces PrefixList of an exclusive canonicalisation element.
func prefixListOf(e *etree.Element) string {
	for _, c := range e.ChildElements() {
		if c.Tag == "InclusiveNamespaces" {
			return c.SelectAttrValue("PrefixList", "")
		}
	}
	return ""
}

// verifySignature checks one ds:Signature enveloped in root and returns its certificate.
func (v *Verifier) verifySignature(root, sig *etree.Element) (*x509.Certificate, *VerifyError) {
	signedInfo, verr := dsOne(sig, "SignedInfo", Malformed)
	if verr != nil {
		return nil, verr
	}
	sigValueEl, verr := dsOne(sig, "SignatureValue", Malformed)
	if verr != nil {
		return nil, verr
	}
	cmEl, verr := dsOne(signedInfo, "CanonicalizationMethod", Malformed)
	if verr != nil {
		return nil, verr
	}
	smEl, verr := dsOne(signedInfo, "SignatureMethod", Malformed)
	if verr != nil {
		return nil, verr
	}
	refs := dsChildren(signedInfo, "Reference")
	if len(refs) != 1 {
		return nil, verifyErr(WrongReference, nil, "SignedInfo has %d references; an SMP signature has exactly one (URI=\"\")", len(refs))
	}
	ref := refs[0]

	cmURI := cmEl.SelectAttrValue("Algorithm", "")
	siMode, ok := c14nModeFor(cmURI, prefixListOf(cmEl))
	if !ok {
		return nil, verifyErr(UnsupportedAlgorithm, nil, "canonicalization method %q", cmURI)
	}
	smURI := smEl.SelectAttrValue("Algorithm", "")
	sigHash, ok := signatureHashes[smURI]
	if !ok {
		return nil, verifyErr(UnsupportedAlgorithm, nil, "signature method %q", smURI)
	}

	// The reference: the whole document, enveloped.
	uri := ref.SelectAttr("URI")
	if uri == nil || uri.Value != "" {
		got := "no URI attribute"
		if uri != nil {
			got = "URI=\"" + uri.Value + "\""
		}
		return nil, verifyErr(WrongReference, nil, "reference has %s; want URI=\"\" (the whole document)", got)
	}
	refMode, _ := c14nModeFor(C14N10, "")
	var transforms []string
	if ts := dsChildren(ref, "Transforms"); len(ts) > 1 {
		return nil, verifyErr(Malformed, nil, "reference has %d Transforms elements", len(ts))
	} else if len(ts) == 1 {
		for i, t := range dsChildren(ts[0], "Transform") {
			alg := t.SelectAttrValue("Algorithm", "")
			transforms = append(transforms, alg)
			switch {
			case i == 0 && alg == EnvelopedSignature:
			case i == 1:
				m, ok := c14nModeFor(alg, prefixListOf(t))
				if !ok {
					return nil, verifyErr(UnsupportedAlgorithm, nil, "transform %q after enveloped-signature; want a canonicalization", alg)
				}
				refMode = m
			default:
				return nil, verifyErr(WrongReference, nil, "transforms %q; want enveloped-signature, optionally followed by one canonicalization", transforms)
			}
		}
	}
	if len(transforms) == 0 || transforms[0] != EnvelopedSignature {
		return nil, verifyErr(WrongReference, nil, "reference has no enveloped-signature transform")
	}
	if len(transforms) > 2 {
		return nil, verifyErr(WrongReference, nil, "transforms %q; want enveloped-signature, optionally followed by one canonicalization", transforms)
	}
	dmEl, verr := dsOne(ref, "DigestMethod", Malformed)
	if verr != nil {
		return nil, verr
	}
	dmURI := dmEl.SelectAttrValue("Algorithm", "")
	digestHash, ok := digestHashes[dmURI]
	if !ok {
		return nil, verifyErr(UnsupportedAlgorithm, nil, "digest method %q", dmURI)
	}
	dvEl, verr := dsOne(ref, "DigestValue", Malformed)
	if verr != nil {
		return nil, verr
	}
	wantDigest, err := decodeBase64(dvEl.Text())
	if err != nil {
		return nil, verifyErr(Malformed, err, "DigestValue is not base64")
	}
	sigValue, err := decodeBase64(sigValueEl.Text())
	if err != nil {
		return nil, verifyErr(Malformed, err, "SignatureValue is not base64")
	}

	// Certificates: only KeyInfo/X509Data/X509Certificate.
	var certs []*x509.Certificate
	if ki := dsChildren(sig, "KeyInfo"); len(ki) == 1 {
		for _, xd := range dsChildren(ki[0], "X509Data") {
			for _, xc := range dsChildren(xd, "X509Certificate") {
				der, err := decodeBase64(xc.Text())
				if err != nil {
					return nil, verifyErr(NoCertificate, err, "X509Certificate is not base64")
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, verifyErr(NoCertificate, err, "X509Certificate does not parse")
				}
				certs = append(certs, c)
			}
		}
	}
	if len(certs) == 0 {
		return nil, verifyErr(NoCertificate, nil, "KeyInfo has no X509Data/X509Certificate")
	}

	// Digest of the signed content.
	got := hashSum(digestHash, c14nDocument(refMode, root, sig))
	if subtle.ConstantTimeCompare(got, wantDigest) != 1 {
		return nil, verifyErr(BadDigest, nil, "digest of the document does not match DigestValue: the signed content was changed")
	}

	// The signature over SignedInfo, by the certificate whose key verifies it.
	siDigest := hashSum(sigHash, c14nSubtree(siMode, signedInfo))
	var leaf *x509.Certificate
	rsaSeen, smallBits := false, 0
	for _, c := range certs {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			continue
		}
		rsaSeen = true
		if n := pub.N.BitLen(); n < minRSABits {
			// Refused whatever GODEBUG says (crypto/rsa refuses them too unless rsa1024min=0), and named
			// as such: "does not verify" would send an operator looking for tampering.
			smallBits = n
			continue
		}
		if rsa.VerifyPKCS1v15(pub, sigHash, siDigest, sigValue) == nil {
			leaf = c
			break
		}
	}
	if !rsaSeen {
		return nil, verifyErr(UnsupportedAlgorithm, nil, "signature method %q needs an RSA key; KeyInfo has none", smURI)
	}
	if leaf == nil && smallBits > 0 {
		return nil, verifyErr(UnsupportedAlgorithm, nil, "the KeyInfo certificate has a %d-bit RSA key; at least %d bits are required", smallBits, minRSABits)
	}
	if leaf == nil {
		return nil, verifyErr(BadSignature, nil, "SignatureValue does not verify with the key of the KeyInfo certificate")
	}

	// The chain to the trust anchors.
	if v.Roots == nil {
		return nil, verifyErr(UntrustedCertificate, nil, "no trust anchors configured")
	}
	var inter *x509.CertPool
	if v.Intermediates != nil {
		inter = v.Intermediates.Clone()
	} else {
		inter = x509.NewCertPool()
	}
	for _, c := range certs {
		if c != leaf {
			inter.AddCert(c)
		}
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, verifyErr(CertificateExpired, err, "signing certificate %q is not valid at %s",
				leaf.Subject.String(), now.UTC().Format(time.RFC3339))
		}
		return nil, verifyErr(UntrustedCertificate, err, "signing certificate %q does not chain to a trust anchor", leaf.Subject.String())
	}
	return leaf, nil
}
