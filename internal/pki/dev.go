package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names and lifetimes of the development PKI.
const (
	DevCACommonName  = "Signpost Dev Root CA"
	DevOrganization  = "Signpost Development"
	DevSMLCommonName = "Signpost Dev SML"
	DevSMPCommonName = "SMP-DEV"
	DevAPCommonName  = "Signpost Demo AP"

	devBackdate = time.Hour // allowance for clock skew between processes and hosts
)

// devHosts are the subject alternative names of the dev SML's TLS certificate.
var devHosts = []string{"127.0.0.1", "localhost", "::1"}

// DevFiles holds the paths of the development PKI under DIR/pki.
type DevFiles struct {
	Dir       string // DIR/pki
	CA, CAKey string // ca.pem, ca-key.pem: the dev root, playing the network's SMP CA and AP CA
	SML       string // sml.pem: TLS server certificate of the SML management API
	SMLKey    string // sml-key.pem
	SMP       string // smp.pem: the SMP's mTLS client identity towards the SML and its signing key
	SMPKey    string // smp-key.pem
	AP        string // ap.pem: the demo access point's certificate
	APKey     string // ap-key.pem
}

// DevPaths returns the paths of the development PKI of the dev directory dir,
// without touching the file system.
func DevPaths(dir string) DevFiles {
	p := filepath.Join(dir, "pki")
	j := func(name string) string { return filepath.Join(p, name) }
	return DevFiles{
		Dir: p,
		CA:  j("ca.pem"), CAKey: j("ca-key.pem"),
		SML: j("sml.pem"), SMLKey: j("sml-key.pem"),
		SMP: j("smp.pem"), SMPKey: j("smp-key.pem"),
		AP: j("ap.pem"), APKey: j("ap-key.pem"),
	}
}

// devLeaf describes one leaf of the development PKI.
type devLeaf struct {
	cert, key string
	spec      LeafSpec
	usage     x509.ExtKeyUsage // what the leaf must verify for
	hosts     []string         // names the leaf must be valid for
}

func (f DevFiles) leaves() []devLeaf {
	return []devLeaf{
		{cert: f.SML, key: f.SMLKey, usage: x509.ExtKeyUsageServerAuth, hosts: devHosts,
			spec: LeafSpec{Profile: TLSServer, CommonName: DevSMLCommonName, Organization: DevOrganization, Hosts: devHosts}},
		{cert: f.SMP, key: f.SMPKey, usage: x509.ExtKeyUsageClientAuth,
			spec: LeafSpec{Profile: SMPCert, CommonName: DevSMPCommonName, Organization: DevOrganization}},
		{cert: f.AP, key: f.APKey, usage: x509.ExtKeyUsageClientAuth,
			spec: LeafSpec{Profile: AccessPoint, CommonName: DevAPCommonName, Organization: DevOrganization}},
	}
}

// EnsureDev makes sure the development PKI of DESIGN.md 1.2 exists under
// DIR/pki and is usable at time now, and returns its paths.
//
// On first use it creates DIR/pki (mode 0700) with the root CA ca.pem
// (ca-key.pem; valid 10 years) and three leaves issued directly by it, valid
// 2 years: sml.pem (TLS server for 127.0.0.1, localhost and ::1), smp.pem
// (SMPCert profile, CN "SMP-DEV") and ap.pem (AccessPoint profile, CN
// "Signpost Demo AP"), each with its -key.pem; created is then true. All
// certificates are back-dated one hour for clock skew.
//
// Afterwards it reuses the files (created is false) after checking them:
// each leaf must match its key, chain to ca.pem, be within its validity and
// fit its use. A leaf whose certificate or key file is missing (deleted by the
// user, or a write cut short) is issued anew from ca.pem and ca-key.pem, both
// of its files replaced, and created is true. Everything else is an error that
// says what to delete: a leaf that fails its checks (delete its two files to
// have it reissued), a missing, unreadable or expired ca.pem (delete DIR/pki
// to start a new PKI). The CA is never overwritten.
func EnsureDev(dir string, now time.Time) (files DevFiles, created bool, err error) {
	files = DevPaths(dir)
	if err := os.MkdirAll(files.Dir, 0o700); err != nil {
		return files, false, fmt.Errorf("pki: creating development PKI directory: %w", err)
	}
	all := []string{files.CA, files.CAKey, files.SML, files.SMLKey, files.SMP, files.SMPKey, files.AP, files.APKey}
	exists := make(map[string]bool, len(all))
	var present []string
	for _, p := range all {
		ok, err := fileExists(p)
		if err != nil {
			return files, false, err
		}
		exists[p] = ok
		if ok {
			present = append(present, filepath.Base(p))
		}
	}

	if len(present) == 0 {
		if err := createDev(files, now); err != nil {
			return files, false, err
		}
		return files, true, nil
	}

	if !exists[files.CA] {
		return files, false, fmt.Errorf("pki: %s is missing but %s exist in %s; the development PKI is incomplete and the CA cannot be restored: delete the directory %s to create a new one",
			files.CA, strings.Join(present, ", "), files.Dir, files.Dir)
	}
	ca, err := loadDevCA(files, exists[files.CAKey], now)
	if err != nil {
		return files, false, err
	}

	// Check every leaf that is there before writing anything.
	var problems []error
	var missing []devLeaf
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, l := range files.leaves() {
		if !exists[l.cert] || !exists[l.key] {
			missing = append(missing, l)
			continue
		}
		if err := checkDevLeaf(l, files.CA, pool, now); err != nil {
			problems = append(problems, fmt.Errorf("%w; delete %s and %s to have them issued anew from %s",
				err, l.cert, l.key, filepath.Base(files.CA)))
		}
	}
	if len(missing) > 0 && ca.Key == nil {
		var names []string
		for _, l := range missing {
			names = append(names, filepath.Base(l.cert))
		}
		problems = append(problems, fmt.Errorf("pki: %s must be issued anew but the CA key %s is missing; restore %s, or delete the directory %s to create a new development PKI",
			strings.Join(names, ", "), files.CAKey, files.CAKey, files.Dir))
	}
	if len(problems) > 0 {
		return files, false, errors.Join(problems...)
	}
	for _, l := range missing {
		if err := issueDevLeaf(ca, l, now); err != nil {
			return files, false, err
		}
	}
	return files, len(missing) > 0, nil
}

// createDev creates the whole development PKI: the CA first, so that an
// interrupted run leaves a CA from which the leaves can be issued next time.
func createDev(files DevFiles, now time.Time) error {
	ca, err := NewRootSubject(pkix.Name{CommonName: DevCACommonName, Organization: []string{DevOrganization}},
		now.Add(-devBackdate), now.AddDate(10, 0, 0))
	if err != nil {
		return err
	}
	if err := ca.WriteFiles(files.CA, files.CAKey); err != nil {
		return err
	}
	for _, l := range files.leaves() {
		if err := issueDevLeaf(ca, l, now); err != nil {
			return err
		}
	}
	return nil
}

func issueDevLeaf(ca *Authority, l devLeaf, now time.Time) error {
	spec := l.spec
	spec.NotBefore = now.Add(-devBackdate)
	spec.NotAfter = now.AddDate(2, 0, 0)
	leaf, err := ca.Issue(spec)
	if err != nil {
		return err
	}
	return leaf.WriteFiles(l.cert, l.key)
}

// loadDevCA loads ca.pem (and ca-key.pem if it exists; otherwise Key is nil)
// and checks that it is a CA valid at now.
func loadDevCA(files DevFiles, haveKey bool, now time.Time) (*Authority, error) {
	startOver := fmt.Sprintf("delete the directory %s to create a new development PKI (clients must then trust the new ca.pem)", files.Dir)
	var ca *Authority
	if haveKey {
		kp, err := LoadKeyPair(files.CA, files.CAKey)
		if err != nil {
			return nil, fmt.Errorf("%w; restore the matching files, or %s", err, startOver)
		}
		ca = &Authority{Cert: kp.Cert, Key: kp.Key}
	} else {
		certs, err := LoadCertificates(files.CA)
		if err != nil {
			return nil, fmt.Errorf("%w; %s", err, startOver)
		}
		ca = &Authority{Cert: certs[0]}
	}
	c := ca.Cert
	if !c.BasicConstraintsValid || !c.IsCA {
		return nil, fmt.Errorf("pki: %s: %q is not a CA certificate; %s", files.CA, c.Subject.String(), startOver)
	}
	if err := checkValidity(files.CA, c, now); err != nil {
		return nil, fmt.Errorf("%w; %s", err, startOver)
	}
	return ca, nil
}

// checkDevLeaf checks a leaf of the development PKI against the CA.
func checkDevLeaf(l devLeaf, caPath string, roots *x509.CertPool, now time.Time) error {
	kp, err := LoadKeyPair(l.cert, l.key)
	if err != nil {
		return err
	}
	if err := checkValidity(l.cert, kp.Cert, now); err != nil {
		return err
	}
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{l.usage}}
	if _, err := kp.Cert.Verify(opts); err != nil {
		return fmt.Errorf("pki: %s does not verify against %s: %w", l.cert, caPath, err)
	}
	for _, h := range l.hosts {
		if err := kp.Cert.VerifyHostname(h); err != nil {
			return fmt.Errorf("pki: %s: %w", l.cert, err)
		}
	}
	return nil
}

func checkValidity(path string, c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("pki: %s expired on %s", path, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("pki: %s is not valid before %s (is the clock right?)", path, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("pki: %w", err)
}
