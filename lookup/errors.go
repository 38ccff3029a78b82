package lookup

import (
	"errors"
	"fmt"

	"github.com/signpost-project/signpost/xmldsig"
)

// Kind classifies every failure of a lookup. The kinds never blur: a DNS timeout is a DNSFailure, never
// NotRegistered; an SMP that cannot be reached is SMPUnreachable, never DocumentTypeNotSupported.
type Kind int

// The kinds of [Error]. Their String forms are stable (the CLI's --json output uses them).
const (
	// NotRegistered: DNS answered NXDOMAIN for the participant's name (and for its legacy CNAME name when
	// the fallback is on). Nothing else is reported as not registered.
	NotRegistered Kind = iota + 1
	// DNSFailure: no name server gave an answer: timeout, SERVFAIL, REFUSED, network error, bad reply.
	DNSFailure
	// SMPUnreachable: the SMP could not be reached or failed: connection refused or reset, timeout, TLS
	// failure other than an untrusted certificate (SMPTLSUntrusted), HTTP 5xx.
	SMPUnreachable
	// DocumentTypeNotSupported: the SMP answered 404 for the participant's document type.
	DocumentTypeNotSupported
	// SignatureInvalid: the SMP response has no valid signature (missing, changed content, bad value,
	// unsupported algorithm).
	SignatureInvalid
	// CertificateUntrusted: the signature is intact but the signing certificate does not chain to a trust
	// anchor, is expired or not yet valid, or is not the one a Redirect names.
	CertificateUntrusted
	// NoMatchingEndpoint: the participant supports the document type, but no endpoint matches the process
	// and transport profiles asked for at this time (activation and expiration dates).
	NoMatchingEndpoint
	// BadResponse: a reply that makes no sense: malformed XML, an unexpected root element, another
	// participant or document type than asked for, no usable NAPTR record, a second Redirect, HTTP 4xx
	// other than 404, a body over the size limit. Error.Field names the identifier that differs.
	BadResponse
	// HTTPRefused: Config.RequireHTTPS is set (the PEPPOL networks) and the SMP URL is plain http: from the
	// NAPTR record, the legacy CNAME fallback or a Redirect.
	HTTPRefused
	// SMPTLSUntrusted: the SMP's HTTPS certificate does not verify against the system roots (or
	// Config.TLSRoots): unknown CA, wrong host name, expired. This is the web PKI of the transport, separate
	// from the trust anchors of the signature (CertificateUntrusted).
	SMPTLSUntrusted
)

var kindNames = map[Kind]string{
	NotRegistered:            "not-registered",
	DNSFailure:               "dns-failure",
	SMPUnreachable:           "smp-unreachable",
	DocumentTypeNotSupported: "document-type-not-supported",
	SignatureInvalid:         "signature-invalid",
	CertificateUntrusted:     "certificate-untrusted",
	NoMatchingEndpoint:       "no-matching-endpoint",
	BadResponse:              "bad-response",
	HTTPRefused:              "http-refused",
	SMPTLSUntrusted:          "smp-tls-untrusted",
}

// String returns the kind's stable name, e.g. "not-registered".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Kinds lists every kind in order.
func Kinds() []Kind {
	return []Kind{NotRegistered, DNSFailure, SMPUnreachable, DocumentTypeNotSupported, SignatureInvalid,
		CertificateUntrusted, NoMatchingEndpoint, BadResponse, HTTPRefused, SMPTLSUntrusted}
}

// Error is every error a lookup returns (except a cancelled or invalid request): the Kind, a message that
// says what is wrong and what to do, and the underlying error, if any (for logs; a *xmldsig.VerifyError for
// signature and certificate kinds).
type Error struct {
	Kind Kind
	Msg  string
	Err  error
	// Field is, for a BadResponse about an identifier, which one differs: FieldParticipant, FieldDocumentType
	// or FieldProcess; "" otherwise.
	Field string
}

// The values of Error.Field.
const (
	FieldParticipant  = "participant"
	FieldDocumentType = "document type"
	FieldProcess      = "process"
)

func (e *Error) Error() string {
	s := "lookup: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err if it is (or wraps) an *Error, and 0 otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func errorf(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// fromVerify translates an xmldsig verification error (the one place this happens).
func fromVerify(err error, url string) *Error {
	var ve *xmldsig.VerifyError
	if !errors.As(err, &ve) {
		return errorf(SignatureInvalid, err, "the signature of the response of the SMP at %s did not verify", url)
	}
	switch ve.Reason {
	case xmldsig.UntrustedCertificate:
		return errorf(CertificateUntrusted, err, "the SMP at %s signs with a certificate that does not chain to the trust anchors (check --trust)", url)
	case xmldsig.CertificateExpired:
		return errorf(CertificateUntrusted, err, "the SMP at %s signs with a certificate that is expired or not yet valid", url)
	case xmldsig.Malformed:
		return errorf(BadResponse, err, "the SMP at %s sent a document that is not well-formed", url)
	}
	return errorf(SignatureInvalid, err, "the response of the SMP at %s has no valid signature; do not use it", url)
}
