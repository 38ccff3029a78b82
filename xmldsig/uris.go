// Package xmldsig signs and verifies XML documents the way SMP responses need: enveloped signatures over the
// whole document (Reference URI=""), with the canonicalisation and algorithms each flavour prescribes, and
// verification that checks the certificate chain to configured trust anchors and returns only the verified element.
package xmldsig

// Algorithm and transform identifiers (XML-DSig 1.0/1.1, RFC 6931).
const (
	NamespaceDSig = "http://www.w3.org/2000/09/xmldsig#"

	C14N10          = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	C14N10Comments  = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	C14N11          = "http://www.w3.org/2006/12/xml-c14n11"
	C14N11Comments  = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
	ExcC14N         = "http://www.w3.org/2001/10/xml-exc-c14n#"
	ExcC14NComments = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"

	EnvelopedSignature = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

	RSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	RSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"

	DigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	DigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)
