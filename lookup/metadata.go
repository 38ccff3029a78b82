package lookup

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Namespaces of the SMP documents.
const (
	nsPEPPOL      = "http://busdox.org/serviceMetadata/publishing/1.0/"
	nsOASIS1      = "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"
	nsOASIS2Meta  = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"
	nsOASIS2Group = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceGroup"
)

// rawID is an identifier as a document writes it.
type rawID struct{ scheme, value string }

// metadata is a verified ServiceMetadata, flavour-neutral. It is built once per fetched document and never
// changed afterwards (it may be shared between lookups through the cache).
type metadata struct {
	binding     Binding
	participant rawID
	docType     rawID
	redirect    *redirect
	processes   []process
}

type redirect struct {
	href         string   // PEPPOL / OASIS 1.0: the full URL
	certUID      string   // PEPPOL / OASIS 1.0: CertificateUID
	publisherURI string   // SMP 2.0
	certs        [][]byte // SMP 2.0: DER of the target's signing certificates
}

type process struct {
	ids       []rawID // empty = "no process" (SMP 2.0 ProcessMetadata without Process)
	endpoints []endpointData
}

type endpointData struct {
	transportProfile string
	address          string
	certDER          []byte
	certErr          string // why the certificate did not decode, if it did not
	activation       time.Time
	expiration       time.Time
	dateOnly         bool // SMP 2.0 xs:date: expiration exclusive
	description      string
	contact          string
	infoURL          string
	requireBLS       bool
}

// child returns the first child element of e with local name tag (nil if none, or if e is nil). The
// documents come from the verified element, whose root namespace has been checked.
func child(e *etree.Element, tag string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

func children(e *etree.Element, tag string) []*etree.Element {
	if e == nil {
		return nil
	}
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == tag {
			out = append(out, c)
		}
	}
	return out
}

func text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text())
}

func idOf(e *etree.Element, schemeAttr string) rawID {
	if e == nil {
		return rawID{}
	}
	return rawID{scheme: strings.TrimSpace(e.SelectAttrValue(schemeAttr, "")), value: text(e)}
}

// parseMetadata reads a verified ServiceMetadata document. It returns a message for a BadResponse when the
// document is not one.
func parseMetadata(root *etree.Element) (*metadata, string) {
	switch ns := root.NamespaceURI(); {
	case root.Tag == "SignedServiceMetadata" && (ns == nsPEPPOL || ns == nsOASIS1):
		return parseMetadata1(root, ns)
	case root.Tag == "ServiceMetadata" && ns == nsOASIS2Meta:
		return parseMetadata2(root)
	default:
		return nil, "the document is a {" + ns + "}" + root.Tag + ", not a signed service metadata"
	}
}

func parseMetadata1(root *etree.Element, ns string) (*metadata, string) {
	m := &metadata{binding: BindingPEPPOL}
	if ns == nsOASIS1 {
		m.binding = BindingOASIS1
	}
	sm := child(root, "ServiceMetadata")
	if sm == nil {
		return nil, "SignedServiceMetadata has no ServiceMetadata"
	}
	if r := child(sm, "Redirect"); r != nil {
		m.redirect = &redirect{href: strings.TrimSpace(r.SelectAttrValue("href", "")), certUID: text(child(r, "CertificateUID"))}
		if m.redirect.href == "" {
			return nil, "Redirect has no href"
		}
		return m, ""
	}
	si := child(sm, "ServiceInformation")
	if si == nil {
		return nil, "ServiceMetadata has neither ServiceInformation nor Redirect"
	}
	m.participant = idOf(child(si, "ParticipantIdentifier"), "scheme")
	m.docType = idOf(child(si, "DocumentIdentifier"), "scheme")
	for _, p := range children(child(si, "ProcessList"), "Process") {
		pr := process{}
		if id := child(p, "ProcessIdentifier"); id != nil {
			pr.ids = []rawID{idOf(id, "scheme")}
		}
		for _, e := range children(child(p, "ServiceEndpointList"), "Endpoint") {
			ep := endpointData{
				transportProfile: strings.TrimSpace(e.SelectAttrValue("transportProfile", "")),
				description:      text(child(e, "ServiceDescription")),
				contact:          text(child(e, "TechnicalContactUrl")),
				infoURL:          text(child(e, "TechnicalInformationUrl")),
				requireBLS:       parseBool(text(child(e, "RequireBusinessLevelSignature"))),
			}
			if ns == nsPEPPOL {
				ep.address = text(child(child(e, "EndpointReference"), "Address"))
			} else {
				ep.address = text(child(e, "EndpointURI"))
			}
			ep.activation = parseDateTime(text(child(e, "ServiceActivationDate")))
			ep.expiration = parseDateTime(text(child(e, "ServiceExpirationDate")))
			ep.certDER, ep.certErr = decodeCert(text(child(e, "Certificate")))
			pr.endpoints = append(pr.endpoints, ep)
		}
		m.processes = append(m.processes, pr)
	}
	return m, ""
}

func parseMetadata2(root *etree.Element) (*metadata, string) {
	m := &metadata{binding: BindingOASIS2}
	m.docType = idOf(child(root, "ID"), "schemeID")
	m.participant = idOf(child(root, "ParticipantID"), "schemeID")
	for _, pm := range children(root, "ProcessMetadata") {
		if r := child(pm, "Redirect"); r != nil {
			rd := &redirect{publisherURI: text(child(r, "PublisherURI"))}
			for _, c := range children(r, "Certificate") {
				if der, msg := decodeCert(text(child(c, "ContentBinaryObject"))); msg == "" {
					rd.certs = append(rd.certs, der)
				}
			}
			if rd.publisherURI == "" {
				return nil, "Redirect has no PublisherURI"
			}
			m.redirect = rd
			return m, ""
		}
		pr := process{}
		for _, p := range children(pm, "Process") {
			pr.ids = append(pr.ids, idOf(child(p, "ID"), "schemeID"))
		}
		for _, e := range children(pm, "Endpoint") {
			ep := endpointData{
				transportProfile: text(child(e, "TransportProfileID")),
				address:          text(child(e, "AddressURI")),
				description:      text(child(e, "Description")),
				contact:          text(child(e, "Contact")),
				dateOnly:         true,
				activation:       parseDateTime(text(child(e, "ActivationDate"))),
				expiration:       parseDateTime(text(child(e, "ExpirationDate"))),
			}
			for _, c := range children(e, "Certificate") {
				ep.certDER, ep.certErr = decodeCert(text(child(c, "ContentBinaryObject")))
				if ep.certErr == "" {
					break
				}
			}
			pr.endpoints = append(pr.endpoints, ep)
		}
		m.processes = append(m.processes, pr)
	}
	return m, ""
}

func parseBool(s string) bool { return s == "true" || s == "1" }

// parseDateTime reads xs:dateTime or xs:date; a value without a zone is taken as UTC. It returns the zero
// time for "" and for what it cannot read (an unreadable date does not restrict the endpoint; the schema
// check is the SMP's job).
func parseDateTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// decodeCert decodes base64 DER (PEM armour and wrapped lines tolerated) and checks that it parses.
func decodeCert(s string) ([]byte, string) {
	if s == "" {
		return nil, "no certificate"
	}
	if b, _ := pem.Decode([]byte(s)); b != nil {
		s = base64.StdEncoding.EncodeToString(b.Bytes)
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, "certificate is not base64: " + err.Error()
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, "certificate does not parse: " + err.Error()
	}
	return der, ""
}

// serviceGroup is a ServiceGroup, flavour-neutral.
type serviceGroup struct {
	binding     Binding
	participant rawID
	refs        []string // PEPPOL / OASIS 1.0: ServiceMetadataReference hrefs
	docTypes    []rawID  // SMP 2.0: ServiceReference IDs
}

func parseServiceGroup(root *etree.Element) (*serviceGroup, string) {
	ns := root.NamespaceURI()
	if root.Tag != "ServiceGroup" {
		return nil, "the document is a {" + ns + "}" + root.Tag + ", not a service group"
	}
	switch ns {
	case nsPEPPOL, nsOASIS1:
		g := &serviceGroup{binding: BindingPEPPOL, participant: idOf(child(root, "ParticipantIdentifier"), "scheme")}
		if ns == nsOASIS1 {
			g.binding = BindingOASIS1
		}
		for _, r := range children(child(root, "ServiceMetadataReferenceCollection"), "ServiceMetadataReference") {
			g.refs = append(g.refs, strings.TrimSpace(r.SelectAttrValue("href", "")))
		}
		return g, ""
	case nsOASIS2Group:
		g := &serviceGroup{binding: BindingOASIS2, participant: idOf(child(root, "ParticipantID"), "schemeID")}
		for _, r := range children(root, "ServiceReference") {
			g.docTypes = append(g.docTypes, idOf(child(r, "ID"), "schemeID"))
		}
		return g, ""
	}
	return nil, "the document is a {" + ns + "}ServiceGroup, not one this client reads"
}
