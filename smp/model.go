// Package smp is the Service Metadata Publisher: a neutral model of service groups and service metadata, its
// renderings in the PEPPOL SMP 1.x, OASIS BDXR SMP 1.0 and OASIS SMP 2.0 flavours, the write path that signs each
// document once, when it is written, and stores the bytes, and the read API that serves those bytes.
package smp

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/signpost-project/signpost/identifier"
)

// ServiceGroup is one participant of this SMP.
type ServiceGroup struct {
	Participant identifier.ID
	// Owner is the user that manages the group (issue 6); empty: the administrators only.
	Owner string
	// Extensions are raw XML elements (each one element, with its namespace declarations), served in each
	// flavour's extension wrapper.
	Extensions []string
	// InSML says whether the participant is meant to be registered in the SML. Default true.
	InSML bool
}

// ServiceMetadata is what a participant receives for one document type: processes with endpoints, or a redirect
// to another SMP.
type ServiceMetadata struct {
	Participant  identifier.ID
	DocumentType identifier.ID
	Processes    []Process
	Redirect     *Redirect
	Extensions   []string
}

// Process is one process of a document type with its endpoints.
type Process struct {
	ID         identifier.ID
	Endpoints  []Endpoint
	Extensions []string
}

// Endpoint is one access point endpoint (spec/DIGEST.md 3.3 to 3.5).
type Endpoint struct {
	TransportProfile string
	Address          string
	// Certificate is the access point's certificate, DER.
	Certificate                   []byte
	ActivationDate                *time.Time
	ExpirationDate                *time.Time
	Description                   string
	TechnicalContactURL           string
	TechnicalInformationURL       string
	RequireBusinessLevelSignature bool
	MinimumAuthenticationLevel    string
	Extensions                    []string
}

// Redirect sends clients to another SMP.
type Redirect struct {
	// Href is the full URL of the metadata at the other SMP (SMP 2.0: its PublisherURI).
	Href string
	// CertificateUID is the subject unique identifier of the other SMP's signing certificate (SMP 1.x).
	CertificateUID string
	// Certificate is the other SMP's signing certificate, DER (optional; SMP 2.0).
	Certificate []byte
	Extensions  []string
}

// Validate checks what every rendering needs: non-empty identifiers, processes or a redirect (not both),
// endpoints with a transport profile and address, and only characters XML can carry.
func (sm *ServiceMetadata) Validate() error {
	if sm.Participant.IsZero() {
		return Invalid("participant", "missing")
	}
	if sm.DocumentType.IsZero() {
		return Invalid("document type", "missing")
	}
	if err := xmlChars("participant", sm.Participant.String()); err != nil {
		return err
	}
	if err := xmlChars("document type", sm.DocumentType.String()); err != nil {
		return err
	}
	if (sm.Redirect == nil) == (len(sm.Processes) == 0) {
		return Invalid("service metadata", "give either processes with endpoints or a redirect")
	}
	if r := sm.Redirect; r != nil {
		if r.Href == "" {
			return Invalid("Redirect href", "missing")
		}
		for name, v := range map[string]string{"Redirect href": r.Href, "CertificateUID": r.CertificateUID} {
			if err := xmlChars(name, v); err != nil {
				return err
			}
		}
	}
	for i, p := range sm.Processes {
		if p.ID.IsZero() {
			return Invalid(fmt.Sprintf("process %d", i+1), "identifier missing")
		}
		if err := xmlChars("process", p.ID.String()); err != nil {
			return err
		}
		if len(p.Endpoints) == 0 {
			return Invalid(fmt.Sprintf("process %s", p.ID), "has no endpoint")
		}
		for _, e := range p.Endpoints {
			if e.TransportProfile == "" {
				return Invalid("Endpoint transportProfile", "missing")
			}
			if e.Address == "" {
				return Invalid("Endpoint address", "missing")
			}
			if e.ActivationDate != nil && e.ExpirationDate != nil && e.ExpirationDate.Before(*e.ActivationDate) {
				return Invalid("ServiceExpirationDate", "is before ServiceActivationDate")
			}
			for name, v := range map[string]string{
				"transportProfile": e.TransportProfile, "address": e.Address, "ServiceDescription": e.Description,
				"TechnicalContactUrl": e.TechnicalContactURL, "TechnicalInformationUrl": e.TechnicalInformationURL,
				"MinimumAuthenticationLevel": e.MinimumAuthenticationLevel,
			} {
				if err := xmlChars(name, v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Validate checks a service group.
func (sg *ServiceGroup) Validate() error {
	if sg.Participant.IsZero() {
		return Invalid("participant", "missing")
	}
	return xmlChars("participant", sg.Participant.String())
}

// xmlChars refuses text XML 1.0 cannot carry (control characters other than TAB, CR, LF; invalid UTF-8).
func xmlChars(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return Invalid(field, fmt.Sprintf("contains the character U+%04X, which XML cannot carry", r))
		}
	}
	return nil
}
