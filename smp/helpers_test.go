package smp_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// fixture is an SMP on a throwaway store with a test CA, served on a real loopback listener.
type fixture struct {
	t      testing.TB
	ca     *pki.Authority
	caFile string
	leaf   *pki.Leaf
	dir    string
	svc    *smp.Service
	reg    *prometheus.Registry
	srv    *http.Server
	base   string // http://127.0.0.1:PORT
}

type fixtureOpts struct {
	prefix  string // public URL path prefix
	flavour smp.Flavour
	policy  *identifier.Policy
	cache   int
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("SMP Test CA", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &fixture{t: t, ca: ca, dir: dir, caFile: filepath.Join(dir, "ca.pem"), reg: prometheus.NewRegistry()}
	if err := os.WriteFile(f.caFile, pki.EncodeCertPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	f.leaf = f.issue("SMP test signer")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.base = "http://" + ln.Addr().String()
	if o.flavour == 0 {
		o.flavour = smp.PEPPOL
	}
	policy := identifier.PEPPOL
	if o.policy != nil {
		policy = *o.policy
	}
	repo := testRepo(t)
	f.svc, err = smp.New(context.Background(), repo, smp.Options{
		PublicURL: f.base + o.prefix, Flavour: o.flavour, SMP2: true, Policy: policy, Binding: xmlbind.Binding{},
		Key: f.leaf.Key, Chain: []*x509.Certificate{f.leaf.Cert}, Registerer: f.reg, CacheEntries: o.cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = &http.Server{Handler: httpapi.Public(httpapi.Options{SMP: f.svc, Creds: auth.New(repo, nil), Registerer: f.reg}), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

func (f *fixture) issue(cn string) *pki.Leaf {
	f.t.Helper()
	now := time.Now()
	leaf, err := f.ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: cn, Organization: "Signpost", Country: "BE",
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		f.t.Fatal(err)
	}
	return leaf
}

// get fetches a path (already escaped) from the fixture's listener.
func (f *fixture) get(path string, hdr ...string) (*http.Response, []byte) {
	f.t.Helper()
	return f.do(http.MethodGet, path, hdr...)
}

func (f *fixture) do(method, path string, hdr ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+"/", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.URL.Opaque = "//" + req.URL.Host + path // send the path exactly as given
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readAll(f.t, resp)
	return resp, body
}

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return []byte(b.String())
}

// xmlsecVerify reports whether xmlsec1 verifies doc against the fixture's CA.
func xmlsecVerify(t *testing.T, caFile string, doc []byte) (bool, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmlsec1", "--verify", "--enabled-reference-uris", "empty", "--enabled-key-data", "x509",
		"--trusted-pem", caFile, p).CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("xmlsec1: %v (install it: scripts/install-test-deps.sh)", err)
		}
		return false, string(out)
	}
	return true, string(out)
}

// schemaFor returns the official schema entry point of a flavour's document.
func schemaFor(f smp.Flavour, group bool) string {
	switch {
	case f == smp.PEPPOL:
		return "../testdata/xsd/peppol-smp1/validate.xsd"
	case f == smp.OASIS1:
		return "../testdata/xsd/bdxr-smp1/validate.xsd"
	case group:
		return "../testdata/xsd/bdxr-smp2/ServiceGroup-2.0.xsd"
	default:
		return "../testdata/xsd/bdxr-smp2/ServiceMetadata-2.0.xsd"
	}
}

// xmllint validates doc against schema and fails the test with xmllint's message otherwise.
func xmllint(t *testing.T, schema string, doc []byte) error {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--nonet", "--schema", schema, p).CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("xmllint: %v (install it: scripts/install-test-deps.sh)", err)
		}
		return &lintError{string(out)}
	}
	return nil
}

type lintError struct{ msg string }

func (e *lintError) Error() string { return e.msg }

// verifier verifies each distinct body once (by hash) with xmlsec1.
type verifier struct {
	mu   sync.Mutex
	seen map[[32]byte]bool
}

func (v *verifier) add(body []byte) bool {
	h := sha256.Sum256(body)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[[32]byte]bool{}
	}
	if _, ok := v.seen[h]; ok {
		return false
	}
	v.seen[h] = true
	return true
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// counter reads a counter (summed over labels) from the fixture's registry.
func counter(t *testing.T, f *fixture, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
