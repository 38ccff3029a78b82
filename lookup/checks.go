package lookup

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/signpost-project/signpost/identifier"
)

// This file holds the checks a lookup makes that other tools (an operator's health check) reuse on their own:
// each returns an *Error with its Kind, or nil.

// CheckSMPURL checks an SMP base URL taken from a NAPTR record, the legacy CNAME fallback or a Redirect: an
// absolute http or https URL with a host, and https when requireHTTPS is set (the PEPPOL networks, where plain
// HTTP is no longer allowed since 2026-02-01). It returns a BadResponse or HTTPRefused *Error, or nil. from
// says where the URL came from, for the message ("the NAPTR record of ...").
func CheckSMPURL(u string, requireHTTPS bool, from string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return errorf(BadResponse, err, "%s gives %q, which is not an http(s) URL", from, u)
	}
	if requireHTTPS && p.Scheme != "https" {
		return errorf(HTTPRefused, nil, "%s gives the plain-HTTP SMP URL %s; PEPPOL SMPs must be served over HTTPS since 2026-02-01 (the SMP's operator must move to https; --allow-http accepts it anyway)", from, u)
	}
	return nil
}

// MatchIdentifier checks that an identifier an SMP answered with (scheme and value as the document writes
// them) is the one asked for, under the case rules of the PEPPOL Policy for use of Identifiers (POLICY 2, as
// peppol-commons applies it to SMP answers since 12.6.1): a participant value compares case-insensitively,
// a document type or process value exactly. Schemes compare case-insensitively. A mismatch is a BadResponse
// *Error whose Field names the identifier; an identifier the policy rejects is a BadResponse too.
func MatchIdentifier(p identifier.Policy, k identifier.Kind, scheme, value string, want identifier.ID) error {
	field := fieldOf(k)
	got, err := p.New(k, scheme, value)
	if err != nil {
		e := errorf(BadResponse, err, "the SMP answers with an invalid %s", k)
		e.Field = field
		return e
	}
	same := strings.EqualFold(got.Scheme, want.Scheme)
	if k == identifier.Participant {
		same = same && strings.EqualFold(got.Value, want.Value)
	} else {
		same = same && got.Value == want.Value
	}
	if same {
		return nil
	}
	how := ""
	if strings.EqualFold(got.String(), want.String()) {
		how = fmt.Sprintf(" (they differ in case only, and %s values are case-sensitive)", k)
	}
	e := errorf(BadResponse, nil, "the SMP answers with %s %s, but %s was asked for%s; do not use it", k, got, want, how)
	e.Field = field
	return e
}

func fieldOf(k identifier.Kind) string {
	switch k {
	case identifier.Participant:
		return FieldParticipant
	case identifier.DocumentType:
		return FieldDocumentType
	case identifier.Process:
		return FieldProcess
	}
	return k.String()
}

// IsTLSUntrusted reports whether err (from an HTTPS request) is a failed verification of the server's
// certificate: an unknown authority, a name the certificate does not cover, an expired or otherwise invalid
// certificate.
func IsTLSUntrusted(err error) bool {
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// WildcardCandidates returns, for a document type of scheme peppol-doctype-wildcard, the registrations that
// answer it, best first, following the Policy for use of Identifiers 4.3.0 (valid from 2025-05-15) for the
// PINT document types: the value is rootNS::localName##customizationID::version; the exact value comes first
// (an exact registration wins over a wildcard), then the customization ID with "*" appended, then, for each
// "@" part removed from its end, the shorter customization ID with "*" appended. A trailing "*" in the
// request is ignored; a "*" anywhere else is an error. For any other scheme the result is doc alone: a
// busdox-docid-qns document type is looked up as it is.
//
// Example: ...##urn:peppol:pint:billing-1@jp-1@x::1.0 yields ...@jp-1@x::1.0, ...@jp-1@x*::1.0,
// ...@jp-1*::1.0 and ...billing-1*::1.0, all under peppol-doctype-wildcard.
func WildcardCandidates(doc identifier.ID) ([]identifier.ID, error) {
	if !strings.EqualFold(doc.Scheme, identifier.SchemeDocTypeWild) {
		return []identifier.ID{doc}, nil
	}
	v := doc.Value
	i := strings.Index(v, "##")
	if i < 0 {
		return nil, fmt.Errorf("lookup: document type %s: a %s value is rootNS::localName##customizationID::version, and it has no ##", doc, identifier.SchemeDocTypeWild)
	}
	head, rest := v[:i+2], v[i+2:]
	j := strings.LastIndex(rest, "::")
	if j < 0 {
		return nil, fmt.Errorf("lookup: document type %s: a %s value ends in ::version, and it has none after the customization ID", doc, identifier.SchemeDocTypeWild)
	}
	cust, ver := strings.TrimSuffix(rest[:j], "*"), rest[j:]
	if cust == "" || strings.Contains(cust, "*") {
		return nil, fmt.Errorf("lookup: document type %s: the customization ID must be non-empty and may end in one \"*\" only", doc)
	}
	mk := func(c string) identifier.ID { return identifier.ID{Scheme: doc.Scheme, Value: head + c + ver} }
	out := []identifier.ID{mk(cust), mk(cust + "*")}
	for {
		k := strings.LastIndex(cust, "@")
		if k < 0 {
			break
		}
		cust = cust[:k]
		out = append(out, mk(cust+"*"))
	}
	return out, nil
}
