package lookup

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/identifier"
)

// DocumentTypeRef is one document type a service group lists.
type DocumentTypeRef struct {
	// ID is the parsed identifier (zero when it does not parse under the policy; Raw still says it).
	ID identifier.ID
	// Raw is the identifier as the SMP wrote it ("scheme::value").
	Raw string
}

// ServiceGroup is the list of a participant's document types.
type ServiceGroup struct {
	Participant   identifier.ID
	DocumentTypes []DocumentTypeRef
	// Signed is true when the SMP signed the group (SMP 2.0 may; PEPPOL and OASIS 1.0 service groups are
	// unsigned by their schema, so their list is informative only: each document type's metadata is
	// verified when it is looked up).
	Signed bool
	Trace  Trace
}

// ServiceGroup fetches the participant's service group and lists its document types.
func (c *Client) ServiceGroup(ctx context.Context, pid identifier.ID) (*ServiceGroup, error) {
	if pid.IsZero() {
		return nil, errors.New("lookup: participant is required")
	}
	loc, err := c.locate(ctx, pid)
	if err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	tr := loc.trace
	u := smpURL(loc.base, loc.binding, pid, nil)
	tr.URL = u
	e, cached, err := c.fetch(ctx, u)
	if err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	tr.HTTPCached = cached
	if e.status == http.StatusNotFound {
		return nil, errorf(BadResponse, nil, "DNS points participant %s to the SMP at %s, which has no service group for it (404)", pid, hostOf(u))
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = 256
	if err := doc.ReadFromBytes(e.body); err != nil || doc.Root() == nil {
		return nil, errorf(BadResponse, err, "the SMP at %s sent a service group that is not well-formed XML", hostOf(u))
	}
	signed := false
	var g *serviceGroup
	if hasSignature(doc.Root()) {
		v, signer, err := c.verified(e, u, func(root any) (any, string) { return parseServiceGroup(root.(*etreeElement)) })
		if err != nil {
			return nil, err
		}
		g, signed, tr.Signer = v.(*serviceGroup), true, signer
	} else {
		var msg string
		if g, msg = parseServiceGroup(doc.Root()); msg != "" {
			return nil, errorf(BadResponse, nil, "the SMP at %s: %s", hostOf(u), msg)
		}
	}
	tr.Binding = g.binding
	if err := c.sameID(identifier.Participant, g.participant, pid, u); err != nil {
		return nil, err
	}
	out := &ServiceGroup{Participant: pid, Signed: signed, Trace: tr}
	for _, d := range g.docTypes {
		ref := DocumentTypeRef{Raw: joinRaw(d)}
		if id, err := c.cfg.Policy.New(identifier.DocumentType, d.scheme, d.value); err == nil {
			ref.ID = id
		}
		out.DocumentTypes = append(out.DocumentTypes, ref)
	}
	for _, href := range g.refs {
		i := strings.LastIndex(href, "/services/")
		if i < 0 {
			continue
		}
		seg := href[i+len("/services/"):]
		raw, err := identifier.DecodeSegment(seg)
		if err != nil {
			raw = seg
		}
		ref := DocumentTypeRef{Raw: raw}
		if id, err := c.cfg.Policy.Parse(identifier.DocumentType, raw); err == nil {
			ref.ID = id
		}
		out.DocumentTypes = append(out.DocumentTypes, ref)
	}
	return out, nil
}

func joinRaw(id rawID) string {
	if id.scheme == "" {
		return id.value
	}
	return id.scheme + identifier.Separator + id.value
}

func hasSignature(root *etree.Element) bool {
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == "http://www.w3.org/2000/09/xmldsig#" {
			return true
		}
	}
	return false
}
