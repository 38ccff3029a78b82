package soap

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml"
)

// Authenticator finds the caller of a request. The TLS implementation is CertAuthenticator; ProxyAuthenticator
// reads the certificate from a proxy header (only from configured proxy addresses) and verifies it the same way.
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
	// CRL, when set, refuses the certificates its lists revoke.
	CRL *CRLSet
}

// CertAuthenticator authenticates a request by its TLS client certificate: the certificate must chain to the
// trusted issuers of one domain (tried in configuration order; the first that verifies is the caller's domain),
// be within its validity at Now, allow client authentication (a certificate with an extended-key-usage extension
// must list clientAuth or anyExtendedKeyUsage, as OpenSSL's client verification requires; one without the
// extension is accepted, as PEPPOL's are), and not be revoked by the domain's CRLs. The caller's identity is
// pki.Identity(cert).
type CertAuthenticator struct {
	Domains []DomainTrust
	// Now is the clock for validity checks. Default time.Now.
	Now func() time.Time

	chains chainCache // chains already verified (their signatures), per certificate and intermediates sent
}

// chainCache remembers, for a client certificate and the intermediates sent with it, the domain whose issuers it
// chains to and the chains found. Signatures do not change, so a cached chain only needs its validity times (and
// the CRLs) checked again: an SMP that calls thousands of times costs one signature check, not thousands. The trust
// anchors are fixed when the authenticator is made. Bounded: when full it starts again empty.
type chainCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedChains
}

type verifiedChains struct {
	domain int
	chains [][]*x509.Certificate
}

const chainCacheMax = 4096

func chainKey(leaf *x509.Certificate, intermediates []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range append([]*x509.Certificate{leaf}, intermediates...) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *chainCache) get(k [sha256.Size]byte) (verifiedChains, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *chainCache) put(k [sha256.Size]byte, v verifiedChains) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= chainCacheMax {
		c.m = map[[sha256.Size]byte]verifiedChains{}
	}
	c.m[k] = v
}

// valid reports whether every certificate of some chain is within its validity at now.
func (v verifiedChains) valid(now time.Time) bool {
	for _, chain := range v.chains {
		ok := true
		for _, c := range chain {
			if now.Before(c.NotBefore) || now.After(c.NotAfter) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// NewCertAuthenticator loads each domain's trusted issuers (PEM bundle paths, all of a domain's files in one pool)
// into a CertAuthenticator, with the domain's CRLs (which must load and verify now; crl reports their later
// problems; nil: a log-only one).
func NewCertAuthenticator(domains []sml.Domain, now func() time.Time) (*CertAuthenticator, error) {
	return NewCertAuthenticatorCRL(domains, now, nil)
}

// NewCertAuthenticatorCRL is NewCertAuthenticator with the CRL alarm (log and metrics).
func NewCertAuthenticatorCRL(domains []sml.Domain, now func() time.Time, alarm *CRLAlarm) (*CertAuthenticator, error) {
	a := &CertAuthenticator{Now: now}
	for _, d := range domains {
		if len(d.TrustedIssuers) == 0 {
			continue // a domain without issuers has no SMPs that can call
		}
		var (
			certs []*x509.Certificate
			err   error
		)
		for _, f := range d.TrustedIssuers { // several files: several CA chains at once
			var fc []*x509.Certificate
			if fc, err = pki.LoadCertificates(f); err != nil {
				return nil, fmt.Errorf("soap: trusted issuers of domain %s: %w", d.Zone, err)
			}
			certs = append(certs, fc...)
		}
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		dt := DomainTrust{Zone: d.Zone, Issuers: pool}
		if len(d.CRL) > 0 {
			if dt.CRL, err = NewCRLSet(d.Zone, d.CRL, certs, a.now(), alarm); err != nil {
				return nil, err
			}
		}
		a.Domains = append(a.Domains, dt)
	}
	return a, nil
}

func (a *CertAuthenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
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
	now := a.now()
	return a.verify(leaf, intermediates, now, now)
}

// verify checks leaf at the moment now; the CRL files are reread (and their freshness judged) at the clock's
// time, which differs from now when a successor certificate is verified at its future migration date.
func (a *CertAuthenticator) verify(leaf *x509.Certificate, intermediates []*x509.Certificate, now, clock time.Time) (sml.Caller, error) {
	if err := checkClientUsage(leaf); err != nil {
		return sml.Caller{}, err
	}
	if now.Before(leaf.NotBefore) {
		return sml.Caller{}, fmt.Errorf("the client certificate %s is not valid before %s; use a currently valid certificate",
			pki.Identity(leaf), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return sml.Caller{}, fmt.Errorf("the client certificate %s expired at %s; renew it (and move your SMPs to the new certificate)",
			pki.Identity(leaf), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	key := chainKey(leaf, intermediates)
	if v, ok := a.chains.get(key); ok && v.domain < len(a.Domains) && v.valid(now) {
		d := a.Domains[v.domain]
		if d.CRL != nil {
			if err := d.CRL.Check(v.chains, clock); err != nil {
				return sml.Caller{}, err
			}
		}
		return sml.Caller{Identity: pki.Identity(leaf), Domain: d.Zone, NotAfter: leaf.NotAfter}, nil
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	var lastErr error
	for i, d := range a.Domains {
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots:         d.Issuers,
			Intermediates: inter,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err == nil {
			a.chains.put(key, verifiedChains{domain: i, chains: chains})
			if d.CRL != nil {
				if err := d.CRL.Check(chains, clock); err != nil {
					return sml.Caller{}, err
				}
			}
			return sml.Caller{Identity: pki.Identity(leaf), Domain: d.Zone, NotAfter: leaf.NotAfter}, nil
		}
		lastErr = err
	}
	var ci x509.CertificateInvalidError
	if errors.As(lastErr, &ci) && ci.Reason == x509.Expired {
		return sml.Caller{}, fmt.Errorf("a certificate in the chain of %s is expired or not yet valid; renew it", pki.Identity(leaf))
	}
	if errors.As(lastErr, &ci) && ci.Reason == x509.IncompatibleUsage {
		return sml.Caller{}, fmt.Errorf("an issuer in the chain of %s does not allow the clientAuth extended key usage; "+
			"call with a certificate whose chain allows client authentication", pki.Identity(leaf))
	}
	return sml.Caller{}, fmt.Errorf("the client certificate %s (issuer %s) is not issued by a trusted SMP certificate issuer of this SML",
		pki.Identity(leaf), leaf.Issuer.String())
}

// checkClientUsage applies OpenSSL's rule for client certificates: a certificate with an extended-key-usage
// extension must list clientAuth (or anyExtendedKeyUsage); one without the extension may be used for anything.
func checkClientUsage(leaf *x509.Certificate) error {
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return nil
	}
	var has []string
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return nil
		}
		has = append(has, ekuName(u))
	}
	for _, o := range leaf.UnknownExtKeyUsage {
		has = append(has, o.String())
	}
	return fmt.Errorf("the client certificate %s lacks the clientAuth extended key usage (it has %s): it is not a client "+
		"certificate; call with your SMP certificate", pki.Identity(leaf), strings.Join(has, ", "))
}

func ekuName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	}
	return fmt.Sprintf("usage %d", int(u))
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
