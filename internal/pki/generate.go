package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// rsaBits is the size of every key this package generates.
const rsaBits = 2048

// Authority is a certificate authority that can issue certificates: a root
// made by NewRoot or an intermediate made by Authority.NewIntermediate.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the issuer chain of Cert, nearest issuer first, without Cert
	// itself; empty for a root.
	Chain []*x509.Certificate
}

// Profile says what a leaf certificate is for; it fixes the key usage and
// extended key usage of the certificates Authority.Issue makes.
type Profile int

const (
	// TLSServer: DigitalSignature|KeyEncipherment, EKU serverAuth.
	TLSServer Profile = iota + 1
	// TLSClient: DigitalSignature, EKU clientAuth.
	TLSClient
	// Signing: DigitalSignature|ContentCommitment, no EKU.
	Signing
	// SMPCert: DigitalSignature|KeyEncipherment, EKU clientAuth and serverAuth.
	// A PEPPOL SMP certificate is both the SMP's mutual-TLS client identity
	// towards the SML and the key that signs its responses.
	SMPCert
	// AccessPoint: DigitalSignature|KeyEncipherment, EKU clientAuth and
	// serverAuth, like a PEPPOL AP certificate.
	AccessPoint
)

// String returns the profile's name.
func (p Profile) String() string {
	switch p {
	case TLSServer:
		return "tls-server"
	case TLSClient:
		return "tls-client"
	case Signing:
		return "signing"
	case SMPCert:
		return "smp"
	case AccessPoint:
		return "access-point"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// usages returns the key usage and extended key usages of p.
func (p Profile) usages() (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	switch p {
	case TLSServer:
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil
	case TLSClient:
		return x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	case Signing:
		return x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, nil, nil
	case SMPCert, AccessPoint:
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, nil
	}
	return 0, nil, fmt.Errorf("pki: unknown certificate profile %d", int(p))
}

// LeafSpec describes a leaf certificate for Authority.Issue.
type LeafSpec struct {
	Profile      Profile
	CommonName   string
	Organization string // optional
	Country      string // optional, ISO 3166 two-letter code
	// Hosts become subject alternative names: IP addresses as IP SANs,
	// everything else as DNS names.
	Hosts     []string
	NotBefore time.Time
	NotAfter  time.Time // clamped to the issuer's NotAfter
}

// Leaf is a certificate issued by an Authority, with its new private key;
// Chain is the issuer chain (nearest issuer first, ending with the root).
type Leaf = KeyPair

// NewRoot creates a self-signed root CA with subject CN=commonName.
func NewRoot(commonName string, notBefore, notAfter time.Time) (*Authority, error) {
	return NewRootSubject(pkix.Name{CommonName: commonName}, notBefore, notAfter)
}

// NewRootSubject is NewRoot with a full subject name.
func NewRootSubject(subject pkix.Name, notBefore, notAfter time.Time) (*Authority, error) {
	if subject.CommonName == "" {
		return nil, errors.New("pki: root CA needs a common name")
	}
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("pki: generating CA key: %w", err)
	}
	tmpl, err := caTemplate(subject, key.Public(), notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	cert, err := create(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// NewIntermediate creates a CA certificate issued by a, which may issue leaf
// certificates but no further CAs (path length 0).
func (a *Authority) NewIntermediate(commonName string, notBefore, notAfter time.Time) (*Authority, error) {
	if commonName == "" {
		return nil, errors.New("pki: intermediate CA needs a common name")
	}
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("pki: generating CA key: %w", err)
	}
	tmpl, err := caTemplate(pkix.Name{CommonName: commonName}, key.Public(), notBefore, a.clamp(notAfter))
	if err != nil {
		return nil, err
	}
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true
	tmpl.AuthorityKeyId = a.Cert.SubjectKeyId
	cert, err := create(tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key, Chain: a.chainBelow()}, nil
}

// Issue creates a new key and a certificate for it, signed by a.
func (a *Authority) Issue(spec LeafSpec) (*Leaf, error) {
	ku, eku, err := spec.Profile.usages()
	if err != nil {
		return nil, err
	}
	if spec.CommonName == "" {
		return nil, errors.New("pki: leaf certificate needs a common name")
	}
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("pki: generating key for %q: %w", spec.CommonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subjectName(spec.CommonName, spec.Organization, spec.Country),
		NotBefore:             spec.NotBefore,
		NotAfter:              a.clamp(spec.NotAfter),
		KeyUsage:              ku,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski,
		AuthorityKeyId:        a.Cert.SubjectKeyId,
	}
	for _, h := range spec.Hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if !tmpl.NotAfter.After(tmpl.NotBefore) {
		return nil, fmt.Errorf("pki: certificate %q: NotAfter %s is not after NotBefore %s",
			spec.CommonName, tmpl.NotAfter.Format(time.RFC3339), tmpl.NotBefore.Format(time.RFC3339))
	}
	cert, err := create(tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key, Chain: a.chainBelow()}, nil
}

// Pool returns a certificate pool holding a's root (the last certificate of
// its chain, or a itself for a root), for verifying what a issued.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	chain := a.chainBelow()
	p.AddCert(chain[len(chain)-1])
	return p
}

// chainBelow is the chain of a certificate a issues: a, then a's issuers.
func (a *Authority) chainBelow() []*x509.Certificate {
	return append([]*x509.Certificate{a.Cert}, a.Chain...)
}

// clamp keeps t within a's own validity.
func (a *Authority) clamp(t time.Time) time.Time {
	if t.After(a.Cert.NotAfter) {
		return a.Cert.NotAfter
	}
	return t
}

func caTemplate(subject pkix.Name, pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("pki: CA %q: NotAfter %s is not after NotBefore %s", subject.CommonName,
			notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski,
	}, nil
}

func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("pki: creating certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing new certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}

func subjectName(cn, org, country string) pkix.Name {
	n := pkix.Name{CommonName: cn}
	if org != "" {
		n.Organization = []string{org}
	}
	if country != "" {
		n.Country = []string{country}
	}
	return n
}

// serialLimit is 2^128: serials are random, positive and at most 128 bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

func newSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("pki: generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID is the truncated SHA-256 of the subjectPublicKey bit string
// (RFC 7093 section 2, method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("pki: decoding public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
