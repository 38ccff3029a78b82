package smp

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// The JSON shapes below are both the store's record format and the import/export format (docs/smp-import.md):
// one JSON object per line, each with exactly one of "service_group", "service_metadata" or "owner".

// Record is one line of an import or export file.
type Record struct {
	Group    *GroupJSON    `json:"service_group,omitempty"`
	Metadata *MetadataJSON `json:"service_metadata,omitempty"`
	Owner    *OwnerJSON    `json:"owner,omitempty"`
}

// OwnerJSON names a user that owns service groups (users and their credentials are managed by the write API).
type OwnerJSON struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin,omitempty"`
}

// GroupJSON is a ServiceGroup.
type GroupJSON struct {
	Participant string   `json:"participant"`
	Owner       string   `json:"owner,omitempty"`
	InSML       *bool    `json:"in_sml,omitempty"`
	Extensions  []string `json:"extensions,omitempty"`
}

// MetadataJSON is a ServiceMetadata.
type MetadataJSON struct {
	Participant  string        `json:"participant"`
	DocumentType string        `json:"document_type"`
	Processes    []ProcessJSON `json:"processes,omitempty"`
	Redirect     *RedirectJSON `json:"redirect,omitempty"`
	Extensions   []string      `json:"extensions,omitempty"`
}

// ProcessJSON is a Process.
type ProcessJSON struct {
	ID         string         `json:"id"`
	Endpoints  []EndpointJSON `json:"endpoints"`
	Extensions []string       `json:"extensions,omitempty"`
}

// EndpointJSON is an Endpoint; Certificate is base64 DER.
type EndpointJSON struct {
	TransportProfile              string     `json:"transport_profile"`
	Address                       string     `json:"address"`
	Certificate                   []byte     `json:"certificate,omitempty"`
	ActivationDate                *time.Time `json:"activation_date,omitempty"`
	ExpirationDate                *time.Time `json:"expiration_date,omitempty"`
	Description                   string     `json:"description,omitempty"`
	TechnicalContactURL           string     `json:"technical_contact_url,omitempty"`
	TechnicalInformationURL       string     `json:"technical_information_url,omitempty"`
	RequireBusinessLevelSignature bool       `json:"require_business_level_signature,omitempty"`
	MinimumAuthenticationLevel    string     `json:"minimum_authentication_level,omitempty"`
	Extensions                    []string   `json:"extensions,omitempty"`
}

// RedirectJSON is a Redirect; Certificate is base64 DER.
type RedirectJSON struct {
	Href           string   `json:"href"`
	CertificateUID string   `json:"certificate_uid,omitempty"`
	Certificate    []byte   `json:"certificate,omitempty"`
	Extensions     []string `json:"extensions,omitempty"`
}

// ToJSON converts the model.
func (sg *ServiceGroup) ToJSON() *GroupJSON {
	g := &GroupJSON{Participant: sg.Participant.String(), Owner: sg.Owner, Extensions: sg.Extensions}
	if !sg.InSML {
		f := false
		g.InSML = &f
	}
	return g
}

// ToJSON converts the model.
func (sm *ServiceMetadata) ToJSON() *MetadataJSON {
	m := &MetadataJSON{Participant: sm.Participant.String(), DocumentType: sm.DocumentType.String(), Extensions: sm.Extensions}
	if r := sm.Redirect; r != nil {
		m.Redirect = &RedirectJSON{Href: r.Href, CertificateUID: r.CertificateUID, Certificate: r.Certificate, Extensions: r.Extensions}
	}
	for _, p := range sm.Processes {
		pj := ProcessJSON{ID: p.ID.String(), Extensions: p.Extensions}
		for _, e := range p.Endpoints {
			pj.Endpoints = append(pj.Endpoints, EndpointJSON(e)) // same fields; the JSON form only adds tags
		}
		m.Processes = append(m.Processes, pj)
	}
	return m
}

// idParser turns identifier strings into IDs: a policy for input, or a plain split for stored (already
// canonical) records.
type idParser func(k identifier.Kind, s, field string) (identifier.ID, error)

func policyParser(p identifier.Policy) idParser {
	return func(k identifier.Kind, s, field string) (identifier.ID, error) {
		id, err := p.Parse(k, s)
		if err != nil {
			return id, &Error{Kind: KindInvalid, Field: field, Msg: err.Error(), Err: err}
		}
		return id, nil
	}
}

func storedParser(_ identifier.Kind, s, _ string) (identifier.ID, error) {
	if i := strings.Index(s, identifier.Separator); i >= 0 {
		return identifier.ID{Scheme: s[:i], Value: s[i+len(identifier.Separator):]}, nil
	}
	return identifier.ID{Value: s}, nil
}

// Model converts and validates a GroupJSON with policy.
func (g *GroupJSON) Model(policy identifier.Policy) (ServiceGroup, error) {
	sg, err := g.model(policyParser(policy))
	if err != nil {
		return sg, err
	}
	for _, x := range sg.Extensions {
		if _, err := ParseExtension(x); err != nil {
			return sg, err
		}
	}
	return sg, sg.Validate()
}

func (g *GroupJSON) model(parse idParser) (ServiceGroup, error) {
	p, err := parse(identifier.Participant, g.Participant, "participant")
	sg := ServiceGroup{Participant: p, Owner: g.Owner, Extensions: g.Extensions, InSML: g.InSML == nil || *g.InSML}
	return sg, err
}

// Model converts and validates a MetadataJSON with policy.
func (m *MetadataJSON) Model(policy identifier.Policy) (ServiceMetadata, error) {
	sm, err := m.model(policyParser(policy))
	if err != nil {
		return sm, err
	}
	if err := checkExtensions(&sm); err != nil {
		return sm, err
	}
	return sm, sm.Validate()
}

func (m *MetadataJSON) model(parse idParser) (ServiceMetadata, error) {
	var sm ServiceMetadata
	var err error
	if sm.Participant, err = parse(identifier.Participant, m.Participant, "participant"); err != nil {
		return sm, err
	}
	if sm.DocumentType, err = parse(identifier.DocumentType, m.DocumentType, "document_type"); err != nil {
		return sm, err
	}
	sm.Extensions = m.Extensions
	if r := m.Redirect; r != nil {
		sm.Redirect = &Redirect{Href: r.Href, CertificateUID: r.CertificateUID, Certificate: r.Certificate, Extensions: r.Extensions}
	}
	for _, pj := range m.Processes {
		p := Process{Extensions: pj.Extensions}
		if p.ID, err = parse(identifier.Process, pj.ID, "process id"); err != nil {
			return sm, err
		}
		for _, e := range pj.Endpoints {
			p.Endpoints = append(p.Endpoints, Endpoint{
				TransportProfile: e.TransportProfile, Address: e.Address, Certificate: e.Certificate,
				ActivationDate: utcPtr(e.ActivationDate), ExpirationDate: utcPtr(e.ExpirationDate), Description: e.Description,
				TechnicalContactURL: e.TechnicalContactURL, TechnicalInformationURL: e.TechnicalInformationURL,
				RequireBusinessLevelSignature: e.RequireBusinessLevelSignature,
				MinimumAuthenticationLevel:    e.MinimumAuthenticationLevel, Extensions: e.Extensions,
			})
		}
		sm.Processes = append(sm.Processes, p)
	}
	return sm, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// MarshalGroup encodes a service group as a repository stores it (the import format's JSON).
func MarshalGroup(sg *ServiceGroup) ([]byte, error) { return json.Marshal(sg.ToJSON()) }

// MarshalMetadata encodes a service metadata as a repository stores it.
func MarshalMetadata(sm *ServiceMetadata) ([]byte, error) { return json.Marshal(sm.ToJSON()) }

// UnmarshalGroup decodes what MarshalGroup encoded (identifiers are taken as stored: canonical already).
func UnmarshalGroup(b []byte) (ServiceGroup, error) {
	var g GroupJSON
	if err := json.Unmarshal(b, &g); err != nil {
		return ServiceGroup{}, Internal("decode stored service group", err)
	}
	return g.model(storedParser)
}

// UnmarshalMetadata decodes what MarshalMetadata encoded.
func UnmarshalMetadata(b []byte) (ServiceMetadata, error) {
	var m MetadataJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return ServiceMetadata{}, Internal("decode stored service metadata", err)
	}
	return m.model(storedParser)
}
