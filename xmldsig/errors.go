package xmldsig

import "fmt"

// Reason says why a signature did not verify; see [VerifyError].
type Reason int

// The reasons of a [VerifyError]. Their String forms are stable.
const (
	// Malformed: the input is not well-formed XML or the signature element lacks a required part.
	Malformed Reason = iota + 1
	// NoSignature: the document carries no ds:Signature as a child of its root element.
	NoSignature
	// WrongReference: the Reference is not the one enveloped signature over the whole document
	// (URI="" with enveloped-signature and at most one canonicalisation transform).
	WrongReference
	// UnsupportedAlgorithm: a canonicalisation, transform, digest or signature method this verifier
	// does not accept, or a key that does not fit the signature method.
	UnsupportedAlgorithm
	// BadDigest: the digest of the signed content does not match DigestValue: the content was changed.
	BadDigest
	// BadSignature: SignatureValue does not verify with the certificate's key over SignedInfo.
	BadSignature
	// NoCertificate: KeyInfo carries no usable X509Data/X509Certificate.
	NoCertificate
	// UntrustedCertificate: the signing certificate does not chain to a trust anchor.
	UntrustedCertificate
	// CertificateExpired: the signing certificate (or a certificate of its chain) is not valid at the
	// verification time (expired or not yet valid).
	CertificateExpired
)

var reasonNames = map[Reason]string{
	Malformed:            "malformed",
	NoSignature:          "no-signature",
	WrongReference:       "wrong-reference",
	UnsupportedAlgorithm: "unsupported-algorithm",
	BadDigest:            "bad-digest",
	BadSignature:         "bad-signature",
	NoCertificate:        "no-certificate",
	UntrustedCertificate: "untrusted-certificate",
	CertificateExpired:   "certificate-expired",
}

// String returns the reason's stable name, e.g. "bad-digest".
func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// VerifyError is every error of [Verifier.Verify]: the Reason, a message for people, and the underlying
// error where there is one (a crypto/x509 error for certificate reasons).
type VerifyError struct {
	Reason Reason
	Msg    string
	Err    error
}

func (e *VerifyError) Error() string {
	s := "xmldsig: " + e.Reason.String() + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *VerifyError) Unwrap() error { return e.Err }

func verifyErr(r Reason, err error, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: r, Msg: fmt.Sprintf(format, args...), Err: err}
}
