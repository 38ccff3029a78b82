package smp

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"time"
)

// ExpiredCertificates says what CheckPublishable does with an endpoint certificate that has expired.
type ExpiredCertificates int

const (
	// RefuseExpired refuses the document.
	RefuseExpired ExpiredCertificates = iota
	// WarnExpired accepts it with a warning.
	WarnExpired
)

// CheckPublishable applies the management API's checks beyond the model's: every certificate is base64 DER
// X.509 (an expired one refused or warned about), every address and redirect an absolute URL, activation before
// expiration. It returns the warnings of an accepted document.
func CheckPublishable(sm *ServiceMetadata, now time.Time, expired ExpiredCertificates) ([]string, error) {
	var warns []string
	cert := func(field string, der []byte) error {
		if len(der) == 0 {
			return nil
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return Invalidf(field, "not a base64 DER X.509 certificate: %v", err)
		}
		if now.After(c.NotAfter) {
			msg := fmt.Sprintf("certificate %q expired on %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
			if expired == RefuseExpired {
				return Invalid(field, msg)
			}
			warns = append(warns, field+": "+msg)
		}
		return nil
	}
	if r := sm.Redirect; r != nil {
		if err := absoluteURL("Redirect href", r.Href); err != nil {
			return nil, err
		}
		if err := cert("Redirect Certificate", r.Certificate); err != nil {
			return nil, err
		}
	}
	for _, p := range sm.Processes {
		for _, e := range p.Endpoints {
			if err := absoluteURL("Endpoint address", e.Address); err != nil {
				return nil, err
			}
			if e.TechnicalInformationURL != "" {
				if err := absoluteURL("TechnicalInformationUrl", e.TechnicalInformationURL); err != nil {
					return nil, err
				}
			}
			if err := cert("Endpoint Certificate", e.Certificate); err != nil {
				return nil, err
			}
			if e.ActivationDate != nil && e.ExpirationDate != nil && !e.ExpirationDate.After(*e.ActivationDate) {
				return nil, Invalid("ServiceExpirationDate", "must be after ServiceActivationDate")
			}
		}
	}
	return warns, nil
}

func absoluteURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || (u.Host == "" && u.Opaque == "") {
		return Invalidf(field, "%q is not an absolute URL", s)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return Invalidf(field, "%q has no host", s)
	}
	return nil
}
