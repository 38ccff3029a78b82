package soap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml"
)

// Authenticator finds the caller of a request. The TLS implementation is CertAuthenticator; a later one reads the
// certificate from a proxy header (only from configured proxy addresses) and checks CRLs, then verifies it the
// same way.
type Authenticator interface {
	// Authenticate returns the caller, or an error whose message is safe to send (it becomes an
	// UnauthorizedFault). ErrNoCertificate means the request carries no client certificate.
	Authenticate(r *http.Request) (sml.Caller, error)
}

// ErrNoCertificate is returned by an Authenticator for a request without a client certificate.
var ErrNoCertificate = errors.New("no client certificate was presented; call with your SMP certificate (mutual TLS)")

// DomainTrust is one domain's trust anchors: client certificates chaining to one of Issuers belong to Zone.
type DomainTrust struct {
	Zone    string // FQDN
	Issuers *x509.CertPool
}

// CertAuthenticator authenticates a request by its TLS client certificate: the certificate must chain to the
// trusted issuers of one domain (tried in configuration order; the first that verifies is the caller's domain)
// and be within its validity at Now. The caller's identity is pki.Identity(cert). It does not check revocation.
type CertAuthenticator struct {
	Domains []DomainTrust
	// Now is the clock for validity checks. Default time.Now.
	Now func() time.Time
}

// NewCertAuthenticator loads each domain's trusted issuers (PEM bundle paths, all of a domain's files in one pool)
// into a CertAuthenticator.
func NewCertAuthenticator(domains []sml.Domain, now func() time.Time) (*CertAuthenticator, error) {
	a := &CertAuthenticator{Now: now}
	for _, d := range domains {
		if len(d.TrustedIssuers) == 0 {
			continue // a domain without issuers has no SMPs that can call
		}
		pool := x509.NewCertPool()
		for _, f := range d.TrustedIssuers { // several files: several CA chains at once
			certs, err := pki.LoadCertificates(f)
			if err != nil {
				return nil, fmt.Errorf("soap: trusted issuers of domain %s: %w", d.Zone, err)
			}
			for _, c := range certs {
				pool.AddCert(c)
			}
		}
		a.Domains = append(a.Domains, DomainTrust{Zone: d.Zone, Issuers: pool})
	}
	return a, nil
}

// Authenticate implements Authenticator for requests over TLS.
func (a *CertAuthenticator) Authenticate(r *http.Request) (sml.Caller, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return sml.Caller{}, ErrNoCertificate
	}
	return a.Verify(r.TLS.PeerCertificates[0], r.TLS.PeerCertificates[1:])
}

// Verify checks leaf (with the intermediates the client sent) against every domain and returns the caller.
func (a *CertAuthenticator) Verify(leaf *x509.Certificate, intermediates []*x509.Certificate) (sml.Caller, error) {
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if now.Before(leaf.NotBefore) {
		return sml.Caller{}, fmt.Errorf("the client certificate %s is not valid before %s; use a currently valid certificate",
			pki.Identity(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return sml.Caller{}, fmt.Errorf("the client certificate %s expired at %s; renew it (and move your SMPs to the new certificate)",
			pki.Identity(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	var lastErr error
	for _, d := range a.Domains {
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots:         d.Issuers,
			Intermediates: inter,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			return sml.Caller{Identity: pki.Identity(leaf), Domain: d.Zone}, nil
		}
		lastErr = err
	}
	var ci x509.CertificateInvalidError
	if errors.As(lastErr, &ci) && ci.Reason == x509.Expired {
		return sml.Caller{}, fmt.Errorf("a certificate in the chain of %s is expired or not yet valid; renew it", pki.Identity(leaf))
	}
	return sml.Caller{}, fmt.Errorf("the client certificate %s (issuer %s) is not issued by a trusted SMP certificate issuer of this SML",
		pki.Identity(leaf), leaf.Issuer.String())
}

// TLSConfig returns the management listener's TLS configuration: it serves cert and asks every client for a
// certificate without requiring one at the handshake (IsAlive needs none, and a refused certificate gets a SOAP
// UnauthorizedFault instead of a failed handshake). The Authenticator verifies the certificate per request.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}
