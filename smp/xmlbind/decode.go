package xmlbind

import (
	"bytes"
	"encoding/base64"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/xmlcheck"
	"github.com/signpost-project/signpost/smp"
)

// DetectFlavour returns the flavour of an XML body by its root element's namespace.
func DetectFlavour(root *etree.Element) (smp.Flavour, error) {
	switch ns := root.NamespaceURI(); ns {
	case NSPeppol:
		return smp.PEPPOL, nil
	case NSOASIS1:
		return smp.OASIS1, nil
	case NSSMP2Group, NSSMP2Meta:
		return smp.SMP2, nil
	default:
		if ns == "" {
			return 0, smp.Invalidf("body", "root element <%s> has no namespace; expected PEPPOL SMP, OASIS SMP 1.0 or SMP 2.0", root.Tag)
		}
		return 0, smp.Invalidf("body", "unknown namespace %q of <%s>; expected PEPPOL SMP, OASIS SMP 1.0 or SMP 2.0", ns, root.Tag)
	}
}

// maxMarkup bounds the number of tags (start, end, comment, ...) of a body: a ServiceMetadata with a thousand
// endpoints has about 30,000.
const maxMarkup = 100_000

// Limits bound what a body may declare (namespace declarations per element and per body); zero fields take the
// defaults of internal/xmlcheck.
type Limits = xmlcheck.Limits

func parseBody(body []byte, lim Limits) (*etree.Element, error) {
	if err := checkBody(body, lim); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if bytes.Contains(body, []byte("<!DOCTYPE")) || bytes.Contains(body, []byte("<!ENTITY")) {
		return nil, smp.Invalid("body", "DOCTYPE and entity declarations are not accepted")
	}
	// A tree costs far more memory than its text: refuse bodies with more markup than any real document has
	// before building one (a 4 MiB body of empty elements would otherwise take hundreds of MB).
	if n := bytes.Count(body, []byte("<")); n > maxMarkup {
		return nil, smp.Invalidf("body", "has %d tags; at most %d are accepted", n, maxMarkup)
	}
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, smp.Invalidf("body", "not well-formed XML: %v", err)
	}
	root := doc.Root()
	if root == nil {
		return nil, smp.Invalid("body", "no root element")
	}
	return root, nil
}

// DecodeServiceGroup reads a ServiceGroup body of any flavour (recognised by its namespace) into the model.
// Service metadata references in the body are ignored: the SMP lists what it holds.
func DecodeServiceGroup(body []byte, policy identifier.Policy, lim Limits) (smp.ServiceGroup, error) {
	root, err := parseBody(body, lim)
	if err != nil {
		return smp.ServiceGroup{}, err
	}
	f, err := DetectFlavour(root)
	if err != nil {
		return smp.ServiceGroup{}, err
	}
	if root.Tag != "ServiceGroup" || (f == smp.SMP2 && root.NamespaceURI() != NSSMP2Group) {
		return smp.ServiceGroup{}, smp.Invalidf("body", "root element is <%s>; expected a ServiceGroup", root.Tag)
	}
	sg := smp.ServiceGroup{InSML: true}
	switch f {
	case smp.PEPPOL, smp.OASIS1:
		idNS := NSPeppolIDs
		if f == smp.OASIS1 {
			idNS = NSOASIS1
		}
		sg.Participant, err = decodeID(policy, identifier.Participant, child(root, idNS, "ParticipantIdentifier"), "scheme", "ParticipantIdentifier")
		if err != nil {
			return sg, err
		}
		sg.Extensions, err = extensions1(f, root)
	case smp.SMP2:
		sg.Participant, err = decodeID(policy, identifier.Participant, child(root, NSSMP2Basic, "ParticipantID"), "schemeID", "ParticipantID")
		if err != nil {
			return sg, err
		}
		sg.Extensions, err = extensions2(root)
	}
	if err != nil {
		return sg, err
	}
	return sg, sg.Validate()
}

// DecodeServiceMetadata reads a ServiceMetadata body of any flavour (a SignedServiceMetadata is accepted too; its
// signature is ignored) into the model.
func DecodeServiceMetadata(body []byte, policy identifier.Policy, lim Limits) (smp.ServiceMetadata, error) {
	root, err := parseBody(body, lim)
	if err != nil {
		return smp.ServiceMetadata{}, err
	}
	f, err := DetectFlavour(root)
	if err != nil {
		return smp.ServiceMetadata{}, err
	}
	var sm smp.ServiceMetadata
	switch f {
	case smp.PEPPOL, smp.OASIS1:
		if root.Tag == "SignedServiceMetadata" {
			root = child(root, root.NamespaceURI(), "ServiceMetadata")
			if root == nil {
				return sm, smp.Invalid("SignedServiceMetadata", "has no ServiceMetadata")
			}
		}
		if root.Tag != "ServiceMetadata" {
			return sm, smp.Invalidf("body", "root element is <%s>; expected a ServiceMetadata", root.Tag)
		}
		sm, err = decodeMetadata1(f, root, policy)
	case smp.SMP2:
		if root.Tag != "ServiceMetadata" || root.NamespaceURI() != NSSMP2Meta {
			return sm, smp.Invalidf("body", "root element is <%s>; expected a ServiceMetadata", root.Tag)
		}
		sm, err = decodeMetadata2(root, policy)
	}
	if err != nil {
		return sm, err
	}
	if sm.Redirect != nil && (sm.Participant.IsZero() || sm.DocumentType.IsZero()) {
		return sm, nil // the caller sets the identifiers from the request path; the write path validates
	}
	return sm, sm.Validate()
}

func decodeMetadata1(f smp.Flavour, meta *etree.Element, policy identifier.Policy) (smp.ServiceMetadata, error) {
	var sm smp.ServiceMetadata
	ns := meta.NamespaceURI()
	idNS := NSPeppolIDs
	if f == smp.OASIS1 {
		idNS = NSOASIS1
	}
	if red := child(meta, ns, "Redirect"); red != nil {
		sm.Redirect = &smp.Redirect{Href: red.SelectAttrValue("href", ""), CertificateUID: textOf(child(red, ns, "CertificateUID"))}
		var err error
		if sm.Redirect.Extensions, err = extensions1(f, red); err != nil {
			return sm, err
		}
		// A redirect names neither participant nor document type: the caller sets them from the request path.
		return sm, nil
	}
	info := child(meta, ns, "ServiceInformation")
	if info == nil {
		return sm, smp.Invalid("ServiceMetadata", "needs ServiceInformation or Redirect")
	}
	var err error
	if sm.Participant, err = decodeID(policy, identifier.Participant, child(info, idNS, "ParticipantIdentifier"), "scheme", "ParticipantIdentifier"); err != nil {
		return sm, err
	}
	if sm.DocumentType, err = decodeID(policy, identifier.DocumentType, child(info, idNS, "DocumentIdentifier"), "scheme", "DocumentIdentifier"); err != nil {
		return sm, err
	}
	if sm.Extensions, err = extensions1(f, info); err != nil {
		return sm, err
	}
	list := child(info, ns, "ProcessList")
	if list == nil {
		return sm, smp.Invalid("ProcessList", "missing")
	}
	for _, pe := range children(list, ns, "Process") {
		var p smp.Process
		if p.ID, err = decodeID(policy, identifier.Process, child(pe, idNS, "ProcessIdentifier"), "scheme", "ProcessIdentifier"); err != nil {
			return sm, err
		}
		if p.Extensions, err = extensions1(f, pe); err != nil {
			return sm, err
		}
		for _, ee := range children(child(pe, ns, "ServiceEndpointList"), ns, "Endpoint") {
			e := smp.Endpoint{TransportProfile: ee.SelectAttrValue("transportProfile", "")}
			if f == smp.PEPPOL {
				e.Address = strings.TrimSpace(textOf(child(child(ee, NSWSA, "EndpointReference"), NSWSA, "Address")))
			} else {
				e.Address = strings.TrimSpace(textOf(child(ee, ns, "EndpointURI")))
			}
			e.RequireBusinessLevelSignature = strings.TrimSpace(textOf(child(ee, ns, "RequireBusinessLevelSignature"))) == "true"
			e.MinimumAuthenticationLevel = textOf(child(ee, ns, "MinimumAuthenticationLevel"))
			if e.ActivationDate, err = dateTime(child(ee, ns, "ServiceActivationDate")); err != nil {
				return sm, err
			}
			if e.ExpirationDate, err = dateTime(child(ee, ns, "ServiceExpirationDate")); err != nil {
				return sm, err
			}
			if e.Certificate, err = base64Text(child(ee, ns, "Certificate"), "Certificate"); err != nil {
				return sm, err
			}
			e.Description = textOf(child(ee, ns, "ServiceDescription"))
			e.TechnicalContactURL = strings.TrimSpace(textOf(child(ee, ns, "TechnicalContactUrl")))
			e.TechnicalInformationURL = strings.TrimSpace(textOf(child(ee, ns, "TechnicalInformationUrl")))
			if e.Extensions, err = extensions1(f, ee); err != nil {
				return sm, err
			}
			p.Endpoints = append(p.Endpoints, e)
		}
		sm.Processes = append(sm.Processes, p)
	}
	return sm, nil
}

func decodeMetadata2(root *etree.Element, policy identifier.Policy) (smp.ServiceMetadata, error) {
	var sm smp.ServiceMetadata
	var err error
	if sm.DocumentType, err = decodeID(policy, identifier.DocumentType, child(root, NSSMP2Basic, "ID"), "schemeID", "ID"); err != nil {
		return sm, err
	}
	if sm.Participant, err = decodeID(policy, identifier.Participant, child(root, NSSMP2Basic, "ParticipantID"), "schemeID", "ParticipantID"); err != nil {
		return sm, err
	}
	if sm.Extensions, err = extensions2(root); err != nil {
		return sm, err
	}
	for _, pm := range children(root, NSSMP2Aggr, "ProcessMetadata") {
		if red := child(pm, NSSMP2Aggr, "Redirect"); red != nil {
			sm.Redirect = &smp.Redirect{Href: strings.TrimSpace(textOf(child(red, NSSMP2Basic, "PublisherURI")))}
			if c := child(red, NSSMP2Aggr, "Certificate"); c != nil {
				if sm.Redirect.Certificate, err = base64Text(child(c, NSSMP2Basic, "ContentBinaryObject"), "Certificate"); err != nil {
					return sm, err
				}
			}
			if sm.Redirect.Extensions, err = extensions2(red); err != nil {
				return sm, err
			}
			continue
		}
		var eps []smp.Endpoint
		for _, ee := range children(pm, NSSMP2Aggr, "Endpoint") {
			e := smp.Endpoint{
				TransportProfile:    strings.TrimSpace(textOf(child(ee, NSSMP2Basic, "TransportProfileID"))),
				Description:         textOf(child(ee, NSSMP2Basic, "Description")),
				TechnicalContactURL: strings.TrimSpace(textOf(child(ee, NSSMP2Basic, "Contact"))),
				Address:             strings.TrimSpace(textOf(child(ee, NSSMP2Basic, "AddressURI"))),
			}
			if e.ActivationDate, err = date(child(ee, NSSMP2Basic, "ActivationDate")); err != nil {
				return sm, err
			}
			if e.ExpirationDate, err = date(child(ee, NSSMP2Basic, "ExpirationDate")); err != nil {
				return sm, err
			}
			if c := child(ee, NSSMP2Aggr, "Certificate"); c != nil {
				if e.Certificate, err = base64Text(child(c, NSSMP2Basic, "ContentBinaryObject"), "Certificate"); err != nil {
					return sm, err
				}
			}
			if e.Extensions, err = extensions2(ee); err != nil {
				return sm, err
			}
			eps = append(eps, e)
		}
		procs := children(pm, NSSMP2Aggr, "Process")
		if len(procs) == 0 {
			return sm, smp.Invalid("ProcessMetadata", "needs a Process (this SMP does not serve endpoints without a process)")
		}
		for _, pe := range procs {
			p := smp.Process{Endpoints: eps}
			if p.ID, err = decodeID(policy, identifier.Process, child(pe, NSSMP2Basic, "ID"), "schemeID", "Process ID"); err != nil {
				return sm, err
			}
			if p.Extensions, err = extensions2(pe); err != nil {
				return sm, err
			}
			sm.Processes = append(sm.Processes, p)
		}
	}
	return sm, nil
}

func child(e *etree.Element, ns, local string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func children(e *etree.Element, ns, local string) []*etree.Element {
	if e == nil {
		return nil
	}
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

func textOf(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return e.Text()
}

func decodeID(policy identifier.Policy, k identifier.Kind, e *etree.Element, attr, field string) (identifier.ID, error) {
	if e == nil {
		return identifier.ID{}, smp.Invalid(field, "missing")
	}
	id, err := policy.New(k, strings.TrimSpace(e.SelectAttrValue(attr, "")), strings.TrimSpace(e.Text()))
	if err != nil {
		return id, &smp.Error{Kind: smp.KindInvalid, Field: field, Msg: err.Error(), Err: err}
	}
	return id, nil
}

func dateTime(e *etree.Element) (*time.Time, error) {
	if e == nil {
		return nil, nil
	}
	s := strings.TrimSpace(e.Text())
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, smp.Invalidf(e.Tag, "%q is not an xs:dateTime", s)
}

func date(e *etree.Element) (*time.Time, error) {
	if e == nil {
		return nil, nil
	}
	s := strings.TrimSpace(e.Text())
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return &t, nil
		}
	}
	return nil, smp.Invalidf(e.Tag, "%q is not an xs:date", s)
}

func base64Text(e *etree.Element, field string) ([]byte, error) {
	if e == nil {
		return nil, nil
	}
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, e.Text())
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, smp.Invalidf(field, "not base64: %v", err)
	}
	return b, nil
}

// oasisExtensionMeta are the OASIS 1.0 Extension metadata children (in the SMP namespace) before the custom element.
var oasisExtensionMeta = map[string]bool{"ExtensionID": true, "ExtensionName": true, "ExtensionAgencyID": true,
	"ExtensionAgencyName": true, "ExtensionAgencyURI": true, "ExtensionVersionID": true, "ExtensionURI": true,
	"ExtensionReasonCode": true, "ExtensionReason": true}

// extensions1 collects the custom element of each Extension child of e (PEPPOL, OASIS 1.0).
func extensions1(f smp.Flavour, e *etree.Element) ([]string, error) {
	ns := NSPeppol
	if f == smp.OASIS1 {
		ns = NSOASIS1
	}
	var out []string
	for _, x := range children(e, ns, "Extension") {
		for _, c := range x.ChildElements() {
			if f == smp.OASIS1 && c.NamespaceURI() == NSOASIS1 && oasisExtensionMeta[c.Tag] {
				continue
			}
			s, err := standalone(c)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			break
		}
	}
	return out, nil
}

// extensions2 collects the content of each ext:SMPExtension of e (SMP 2.0).
func extensions2(e *etree.Element) ([]string, error) {
	var out []string
	for _, x := range children(child(e, NSSMP2Ext, "SMPExtensions"), NSSMP2Ext, "SMPExtension") {
		if cs := child(x, NSSMP2Ext, "ExtensionContent").NotNil().ChildElements(); len(cs) > 0 {
			s, err := standalone(cs[0])
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// standalone serialises el with every namespace declaration in scope at its place, so it parses on its own.
func standalone(el *etree.Element) (string, error) {
	c := el.Copy()
	have := map[string]bool{}
	for _, a := range c.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			have[a.FullKey()] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && !have[a.FullKey()] {
				have[a.FullKey()] = true
				c.CreateAttr(a.FullKey(), a.Value)
			}
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(c)
	doc.WriteSettings.CanonicalAttrVal = true
	doc.WriteSettings.CanonicalText = true
	s, err := doc.WriteToString()
	if err != nil {
		return "", smp.Internal("serialise extension", err)
	}
	if _, err := smp.ParseExtension(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkBody refuses, before a tree is built, XML that breaks well-formedness or Namespaces in XML in ways the tree
// would hide (an unbound prefix, xmlns:p="", a repeated attribute, a second root, ...) or that declares more
// namespaces than the limits allow: a 400 naming the problem and where it is.
func checkBody(body []byte, lim Limits) error {
	if err := xmlcheck.Check(body, lim); err != nil {
		return &smp.Error{Kind: smp.KindInvalid, Field: "body", Msg: err.Error(), Err: err}
	}
	return nil
}
