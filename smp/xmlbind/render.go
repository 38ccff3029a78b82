package xmlbind

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
)

// Namespaces of the flavours.
const (
	NSPeppol     = "http://busdox.org/serviceMetadata/publishing/1.0/"
	NSPeppolIDs  = "http://busdox.org/transport/identifiers/1.0/"
	NSWSA        = "http://www.w3.org/2005/08/addressing"
	NSOASIS1     = "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"
	NSSMP2Group  = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceGroup"
	NSSMP2Meta   = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"
	NSSMP2Basic  = "http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents"
	NSSMP2Aggr   = "http://docs.oasis-open.org/bdxr/ns/SMP/2/AggregateComponents"
	NSSMP2Ext    = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ExtensionComponents"
	smp2Version  = "2.0"
	smp2MimeCode = "application/base64"
)

// MetadataURL returns the absolute URL of a service metadata document on the root paths of an SMP at base.
func MetadataURL(base string, participant, docType identifier.ID) string {
	return strings.TrimRight(base, "/") + "/" + identifier.EncodeSegment(participant.String()) + "/services/" +
		identifier.EncodeSegment(docType.String())
}

func newXMLDoc() *etree.Document {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.WriteSettings.CanonicalAttrVal = true
	doc.WriteSettings.CanonicalText = true
	return doc
}

// RenderGroup builds the ServiceGroup document of flavour f; base is the public base URL its hrefs start with.
func RenderGroup(f smp.Flavour, sg *smp.ServiceGroup, refs []smp.Reference, base string) (*etree.Document, error) {
	doc := newXMLDoc()
	switch f {
	case smp.PEPPOL, smp.OASIS1:
		root := doc.CreateElement("ServiceGroup")
		if f == smp.PEPPOL {
			root.CreateAttr("xmlns", NSPeppol)
			root.CreateAttr("xmlns:ids", NSPeppolIDs)
			idElem(root, "ids:ParticipantIdentifier", "scheme", sg.Participant)
		} else {
			root.CreateAttr("xmlns", NSOASIS1)
			idElem(root, "ParticipantIdentifier", "scheme", sg.Participant)
		}
		coll := root.CreateElement("ServiceMetadataReferenceCollection")
		for _, r := range refs {
			coll.CreateElement("ServiceMetadataReference").CreateAttr("href", MetadataURL(base, sg.Participant, r.DocumentType))
		}
		if err := addExtensions1(f, root, sg.Extensions); err != nil {
			return nil, err
		}
	case smp.SMP2:
		root := smp2Root(doc, "ServiceGroup", NSSMP2Group)
		if err := addExtensions2(root, sg.Extensions); err != nil {
			return nil, err
		}
		text(root, "smb:SMPVersionID", smp2Version)
		idElem(root, "smb:ParticipantID", "schemeID", sg.Participant)
		for _, r := range refs {
			ref := root.CreateElement("sma:ServiceReference")
			idElem(ref, "smb:ID", "schemeID", r.DocumentType)
			for _, p := range r.Processes {
				idElem(ref.CreateElement("sma:Process"), "smb:ID", "schemeID", p)
			}
		}
	default:
		return nil, fmt.Errorf("smp: cannot render flavour %v", f)
	}
	return doc, nil
}

// RenderMetadata builds the unsigned metadata document of flavour f: SignedServiceMetadata without its signature
// for PEPPOL and OASIS 1.0, ServiceMetadata for SMP 2.0.
func RenderMetadata(f smp.Flavour, sm *smp.ServiceMetadata) (*etree.Document, error) {
	doc := newXMLDoc()
	switch f {
	case smp.PEPPOL, smp.OASIS1:
		return doc, render1(f, doc, sm)
	case smp.SMP2:
		return doc, render2(doc, sm)
	}
	return nil, fmt.Errorf("smp: cannot render flavour %v", f)
}

func render1(f smp.Flavour, doc *etree.Document, sm *smp.ServiceMetadata) error {
	signed := doc.CreateElement("SignedServiceMetadata")
	pfx := ""
	if f == smp.PEPPOL {
		signed.CreateAttr("xmlns", NSPeppol)
		signed.CreateAttr("xmlns:ids", NSPeppolIDs)
		signed.CreateAttr("xmlns:wsa", NSWSA)
		pfx = "ids:"
	} else {
		signed.CreateAttr("xmlns", NSOASIS1)
	}
	meta := signed.CreateElement("ServiceMetadata")
	if r := sm.Redirect; r != nil {
		red := meta.CreateElement("Redirect")
		red.CreateAttr("href", r.Href)
		text(red, "CertificateUID", r.CertificateUID)
		return addExtensions1(f, red, r.Extensions)
	}
	info := meta.CreateElement("ServiceInformation")
	idElem(info, pfx+"ParticipantIdentifier", "scheme", sm.Participant)
	idElem(info, pfx+"DocumentIdentifier", "scheme", sm.DocumentType)
	list := info.CreateElement("ProcessList")
	for _, p := range sm.Processes {
		pe := list.CreateElement("Process")
		idElem(pe, pfx+"ProcessIdentifier", "scheme", p.ID)
		el := pe.CreateElement("ServiceEndpointList")
		for i := range p.Endpoints {
			e := &p.Endpoints[i]
			ee := el.CreateElement("Endpoint")
			ee.CreateAttr("transportProfile", e.TransportProfile)
			if f == smp.PEPPOL {
				text(ee.CreateElement("wsa:EndpointReference"), "wsa:Address", e.Address)
			} else {
				text(ee, "EndpointURI", e.Address)
			}
			text(ee, "RequireBusinessLevelSignature", fmt.Sprint(e.RequireBusinessLevelSignature))
			if e.MinimumAuthenticationLevel != "" {
				text(ee, "MinimumAuthenticationLevel", e.MinimumAuthenticationLevel)
			}
			if e.ActivationDate != nil {
				text(ee, "ServiceActivationDate", e.ActivationDate.UTC().Format(time.RFC3339))
			}
			if e.ExpirationDate != nil {
				text(ee, "ServiceExpirationDate", e.ExpirationDate.UTC().Format(time.RFC3339))
			}
			text(ee, "Certificate", base64.StdEncoding.EncodeToString(e.Certificate))
			text(ee, "ServiceDescription", e.Description)
			text(ee, "TechnicalContactUrl", e.TechnicalContactURL)
			if e.TechnicalInformationURL != "" {
				text(ee, "TechnicalInformationUrl", e.TechnicalInformationURL)
			}
			if err := addExtensions1(f, ee, e.Extensions); err != nil {
				return err
			}
		}
		if err := addExtensions1(f, pe, p.Extensions); err != nil {
			return err
		}
	}
	return addExtensions1(f, info, sm.Extensions)
}

func render2(doc *etree.Document, sm *smp.ServiceMetadata) error {
	root := smp2Root(doc, "ServiceMetadata", NSSMP2Meta)
	if err := addExtensions2(root, sm.Extensions); err != nil {
		return err
	}
	text(root, "smb:SMPVersionID", smp2Version)
	idElem(root, "smb:ID", "schemeID", sm.DocumentType)
	idElem(root, "smb:ParticipantID", "schemeID", sm.Participant)
	if r := sm.Redirect; r != nil {
		pm := root.CreateElement("sma:ProcessMetadata")
		red := pm.CreateElement("sma:Redirect")
		if err := addExtensions2(red, r.Extensions); err != nil {
			return err
		}
		text(red, "smb:PublisherURI", r.Href)
		if len(r.Certificate) > 0 {
			cert2(red, r.Certificate)
		}
		return nil
	}
	for _, p := range sm.Processes {
		pm := root.CreateElement("sma:ProcessMetadata")
		pe := pm.CreateElement("sma:Process")
		if err := addExtensions2(pe, p.Extensions); err != nil {
			return err
		}
		idElem(pe, "smb:ID", "schemeID", p.ID)
		for i := range p.Endpoints {
			e := &p.Endpoints[i]
			ee := pm.CreateElement("sma:Endpoint")
			if err := addExtensions2(ee, e.Extensions); err != nil {
				return err
			}
			text(ee, "smb:TransportProfileID", e.TransportProfile)
			if e.Description != "" {
				text(ee, "smb:Description", e.Description)
			}
			if e.TechnicalContactURL != "" {
				text(ee, "smb:Contact", e.TechnicalContactURL)
			}
			text(ee, "smb:AddressURI", e.Address)
			if e.ActivationDate != nil {
				text(ee, "smb:ActivationDate", e.ActivationDate.UTC().Format(time.DateOnly))
			}
			if e.ExpirationDate != nil {
				text(ee, "smb:ExpirationDate", e.ExpirationDate.UTC().Format(time.DateOnly))
			}
			if len(e.Certificate) > 0 {
				cert2(ee, e.Certificate)
			}
		}
	}
	return nil
}

func smp2Root(doc *etree.Document, tag, ns string) *etree.Element {
	root := doc.CreateElement(tag)
	root.CreateAttr("xmlns", ns)
	root.CreateAttr("xmlns:smb", NSSMP2Basic)
	root.CreateAttr("xmlns:sma", NSSMP2Aggr)
	root.CreateAttr("xmlns:ext", NSSMP2Ext)
	return root
}

func cert2(parent *etree.Element, der []byte) {
	c := parent.CreateElement("sma:Certificate")
	b := c.CreateElement("smb:ContentBinaryObject")
	b.CreateAttr("mimeCode", smp2MimeCode)
	b.SetText(base64.StdEncoding.EncodeToString(der))
}

func text(parent *etree.Element, tag, s string) *etree.Element {
	e := parent.CreateElement(tag)
	if s != "" {
		e.SetText(s)
	}
	return e
}

func idElem(parent *etree.Element, tag, attr string, id identifier.ID) {
	e := parent.CreateElement(tag)
	if id.Scheme != "" {
		e.CreateAttr(attr, id.Scheme)
	}
	e.SetText(id.Value)
}

// addExtensions1 wraps each extension in an Extension element; PEPPOL allows one, so only the first is served
// there.
func addExtensions1(f smp.Flavour, parent *etree.Element, exts []string) error {
	if f == smp.PEPPOL && len(exts) > 1 {
		exts = exts[:1]
	}
	for _, x := range exts {
		el, err := smp.ParseExtension(x)
		if err != nil {
			return err
		}
		parent.CreateElement("Extension").AddChild(el)
	}
	return nil
}

// addExtensions2 adds ext:SMPExtensions with one ext:SMPExtension/ext:ExtensionContent per extension.
func addExtensions2(parent *etree.Element, exts []string) error {
	if len(exts) == 0 {
		return nil
	}
	all := parent.CreateElement("ext:SMPExtensions")
	for _, x := range exts {
		el, err := smp.ParseExtension(x)
		if err != nil {
			return err
		}
		all.CreateElement("ext:SMPExtension").CreateElement("ext:ExtensionContent").AddChild(el)
	}
	return nil
}
