package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"software.sslmate.com/src/go-pkcs12"
)

// KeyPair is a certificate with its private key and the issuer chain that
// came with it (nearest issuer first, without the certificate itself; it may
// or may not end with a root).
type KeyPair struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// TLSCertificate returns kp for crypto/tls: the certificate followed by its
// chain, leaving out self-signed roots, which a peer must already have.
func (kp *KeyPair) TLSCertificate() tls.Certificate {
	tc := tls.Certificate{
		Certificate: [][]byte{kp.Cert.Raw},
		PrivateKey:  kp.Key,
		Leaf:        kp.Cert,
	}
	for _, c := range withoutRoots(kp.Chain) {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// WriteFiles writes kp to certPath (the certificate followed by its chain
// without self-signed roots) and keyPath, as WriteFiles does.
func (kp *KeyPair) WriteFiles(certPath, keyPath string) error {
	return WriteFiles(certPath, keyPath, kp.Key, append([]*x509.Certificate{kp.Cert}, withoutRoots(kp.Chain)...)...)
}

// WriteFiles writes the certificate authority's certificate (followed by its
// chain without self-signed roots) to certPath and its key to keyPath, as the
// function WriteFiles does.
func (a *Authority) WriteFiles(certPath, keyPath string) error {
	return WriteFiles(certPath, keyPath, a.Key, append([]*x509.Certificate{a.Cert}, withoutRoots(a.Chain)...)...)
}

// Identity returns the identity the SML stores for a client certificate
// (DESIGN.md 1.3, as BDMSL does): the subject DN in RFC 4514 form, a colon and
// the serial number in lower-case hexadecimal without leading zeros, e.g.
// "CN=SMP-DEV,O=Signpost Development:1f3a...".
func Identity(cert *x509.Certificate) string {
	return cert.Subject.String() + ":" + cert.SerialNumber.Text(16)
}

// EncodeCertPEM returns certs as a PEM bundle of CERTIFICATE blocks.
func EncodeCertPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to a bytes.Buffer do not fail
	}
	return b.Bytes()
}

// EncodeKeyPEM returns key as an unencrypted PKCS#8 "PRIVATE KEY" PEM block.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteFiles writes key to keyPath (PKCS#8 PEM, mode 0600) and then certs to
// certPath (PEM bundle, mode 0644). Each file is written to a temporary file in
// the same directory and renamed into place, so a reader never sees half a
// file. The key is written first: after a crash there may be a key without its
// certificate, never a certificate whose key is missing.
func WriteFiles(certPath, keyPath string, key crypto.Signer, certs ...*x509.Certificate) error {
	if len(certs) == 0 {
		return fmt.Errorf("pki: %s: no certificate to write", certPath)
	}
	if key == nil {
		return fmt.Errorf("pki: %s: no private key to write", keyPath)
	}
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, EncodeCertPEM(certs...), 0o644)
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*") // created with mode 0600
	if err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil { // make the rename durable; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LoadCertificates reads a PEM file of one or more certificates, in file
// order. Blocks other than CERTIFICATE (a private key in the same file, say)
// are skipped.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return parseCertificates(path, data)
}

// LoadCertPool reads a PEM file of trust anchors into a certificate pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	certs, err := LoadCertificates(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func parseCertificates(path string, data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("pki: %s: file is empty, expected PEM certificates", path)
	}
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: %s: PEM block %d: invalid certificate: %w", path, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if _, err := x509.ParseCertificate(data); err == nil {
			return nil, fmt.Errorf("pki: %s: certificate is DER, expected PEM (convert with: openssl x509 -inform der -in %s -out cert.pem)", path, path)
		}
		if bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, fmt.Errorf("pki: %s: no CERTIFICATE PEM block in file", path)
		}
		return nil, fmt.Errorf("pki: %s: not a PEM file, expected -----BEGIN CERTIFICATE-----", path)
	}
	return certs, nil
}

// LoadKeyPair reads a certificate (PEM; the first certificate is the
// holder's, any further ones its chain) and its private key (PEM: PKCS#8
// "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY",
// unencrypted), and checks that the key belongs to the certificate.
func LoadKeyPair(certPath, keyPath string) (*KeyPair, error) {
	certs, err := LoadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	key, err := LoadPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !keyMatches(key, certs[0]) {
		return nil, fmt.Errorf("pki: %s: private key does not match certificate %s", keyPath, certPath)
	}
	return &KeyPair{Cert: certs[0], Key: key, Chain: certs[1:]}, nil
}

// LoadPrivateKey reads the first private key of a PEM file (PKCS#8, PKCS#1 or
// SEC 1 EC, unencrypted).
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("pki: %s: file is empty, expected a PEM private key", path)
	}
	rest := data
	sawPEM := false
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sawPEM = true
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, enc := block.Headers["DEK-Info"]; enc {
				return nil, fmt.Errorf("pki: %s: private key is encrypted; decrypt it first (openssl pkey -in %s -out key.pem)", path, path)
			}
			if block.Type == "RSA PRIVATE KEY" {
				key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
			} else {
				key, err = x509.ParseECPrivateKey(block.Bytes)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("pki: %s: private key is encrypted; decrypt it first (openssl pkey -in %s -out key.pem)", path, path)
		default:
			continue // EC PARAMETERS, CERTIFICATE, ...
		}
		if err != nil {
			return nil, fmt.Errorf("pki: %s: PEM block %d (%s): invalid private key: %w", path, n, block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok || !supportedKey(signer) {
			return nil, fmt.Errorf("pki: %s: unsupported private key type %T", path, key)
		}
		return signer, nil
	}
	if sawPEM {
		return nil, fmt.Errorf("pki: %s: no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY PEM block in file", path)
	}
	return nil, fmt.Errorf("pki: %s: not a PEM file, expected -----BEGIN PRIVATE KEY-----", path)
}

// LoadPKCS12 reads a PKCS#12 (.p12, .pfx) file holding one private key, its
// certificate and optionally its chain. Files made by OpenSSL 3 with its
// defaults (PBES2, AES-256-CBC, PBKDF2, HMAC-SHA256 MAC) and legacy ones
// (3DES, RC2) are both read.
func LoadPKCS12(path, password string) (*KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("pki: %s: file is empty, expected PKCS#12", path)
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
			return nil, fmt.Errorf("pki: %s: wrong PKCS#12 password: %w", path, err)
		}
		return nil, fmt.Errorf("pki: %s: cannot read PKCS#12 file: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !supportedKey(signer) {
		return nil, fmt.Errorf("pki: %s: unsupported private key type %T", path, key)
	}
	if !keyMatches(signer, cert) {
		return nil, fmt.Errorf("pki: %s: private key does not match its certificate %q", path, cert.Subject.String())
	}
	return &KeyPair{Cert: cert, Key: signer, Chain: chain}, nil
}

func supportedKey(k crypto.Signer) bool {
	switch k.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return true
	}
	return false
}

func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// withoutRoots returns certs without the self-signed ones.
func withoutRoots(certs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if !isSelfSigned(c) {
			out = append(out, c)
		}
	}
	return out
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}
