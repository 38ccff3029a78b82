package soap_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
	"github.com/signpost-project/signpost/store/storetest"
)

// authEnv is a management listener (no DNS server) whose authenticator the test builds: env's helpers (send,
// post, fault) work on it.
type authEnvOptions struct {
	crl   []string                                                       // domains[0].crl
	clock func() time.Time                                               // the authenticator's clock
	wrap  func(*soap.CertAuthenticator, *slog.Logger) soap.Authenticator // e.g. a ProxyAuthenticator
	plain bool                                                           // plain HTTP (behind a proxy)
	extra map[string]*pki.KeyPair                                        // more clients
	reg   *prometheus.Registry                                           // CRL metrics
	pki   *testPKI                                                       // default newPKI
}

func newAuthEnv(t *testing.T, o authEnvOptions) *env {
	t.Helper()
	p := o.pki
	if p == nil {
		p = newPKI(t)
	}
	e := &env{pki: p, log: &syncBuffer{}, clients: map[string]*http.Client{}}
	log := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.db = storetest.Open(t)
	domains := testDomains(t, p.caFile)
	domains[0].CRL = o.crl
	svc, err := sml.New(boltrepo.New(e.db), domains, sml.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	var reg prometheus.Registerer // a nil *Registry is not a nil Registerer
	if o.reg != nil {
		reg = o.reg
	}
	alarm, err := soap.NewCRLAlarm(log, reg)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := soap.NewCertAuthenticatorCRL(svc.Domains(), o.clock, alarm)
	if err != nil {
		t.Fatal(err)
	}
	var auth soap.Authenticator = cert
	if o.wrap != nil {
		auth = o.wrap(cert, log)
	}
	h := soap.NewHandler(svc, auth, soap.Options{Log: log})
	kp := p.server
	if o.plain {
		kp = nil
	}
	hs := soap.NewHTTP("127.0.0.1:0", kp, h, soap.Timeouts{}, log, func(err error) { t.Errorf("serve: %v", err) })
	if err := hs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hs.Shutdown(context.Background()) })
	e.base = "https://" + hs.Addr().String()
	if o.plain {
		e.base = "http://" + hs.Addr().String()
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	mk := func(kp *pki.KeyPair) *http.Client {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if kp != nil {
			tc.Certificates = []tls.Certificate{kp.TLSCertificate()}
		}
		tr := &http.Transport{TLSClientConfig: tc}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	e.mk = mk
	e.clients["none"] = mk(nil)
	for name, kp := range p.clients {
		e.clients[name] = mk(kp)
	}
	for name, kp := range o.extra {
		e.clients[name] = mk(kp)
	}
	return e
}

// metricValue returns the value of the metric name{zone=zoneName} in reg, or -1 when it is absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "zone" && l.GetValue() == zoneName {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return m.Gauge.GetValue()
				}
			}
		}
	}
	return -1
}

// openSSLCA is an `openssl ca` set-up over the test CA: a minimal configuration and its database in dir.
type openSSLCA struct {
	t    *testing.T
	dir  string
	conf string
}

func newOpenSSLCA(t *testing.T, ca *pki.Authority) *openSSLCA {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed")
	}
	dir := t.TempDir()
	if err := ca.WriteFiles(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	o := &openSSLCA{t: t, dir: dir, conf: filepath.Join(dir, "ca.cnf")}
	cnf := "[ ca ]\ndefault_ca = test_ca\n[ test_ca ]\ndir = " + dir + "\ndatabase = $dir/index.txt\ncrlnumber = $dir/crlnumber\n" +
		"certificate = $dir/ca.pem\nprivate_key = $dir/ca-key.pem\ndefault_md = sha256\ndefault_crl_hours = 2\n"
	if err := os.WriteFile(o.conf, []byte(cnf), 0o600); err != nil {
		t.Fatal(err)
	}
	o.reset()
	return o
}

// reset empties the database: the next CRL revokes nothing.
func (o *openSSLCA) reset() {
	o.t.Helper()
	if err := os.WriteFile(filepath.Join(o.dir, "index.txt"), nil, 0o600); err != nil {
		o.t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.dir, "crlnumber")); err != nil {
		if err := os.WriteFile(filepath.Join(o.dir, "crlnumber"), []byte("01\n"), 0o600); err != nil {
			o.t.Fatal(err)
		}
	}
}

func (o *openSSLCA) run(args ...string) {
	o.t.Helper()
	out, err := exec.Command("openssl", append([]string{"ca", "-batch", "-config", o.conf}, args...)...).CombinedOutput()
	if err != nil {
		o.t.Fatalf("openssl ca %v: %v\n%s", args, err, out)
	}
}

// revoke records kp's certificate as revoked.
func (o *openSSLCA) revoke(kp *pki.KeyPair) {
	o.t.Helper()
	f := filepath.Join(o.dir, "revoke.pem")
	if err := os.WriteFile(f, pki.EncodeCertPEM(kp.Cert), 0o600); err != nil {
		o.t.Fatal(err)
	}
	o.run("-revoke", f)
}

// crl writes a CRL of the database to path, atomically (written beside it, then renamed); extra are more
// openssl ca options (-crl_lastupdate, -crl_nextupdate).
func (o *openSSLCA) crl(path string, extra ...string) {
	o.t.Helper()
	tmp := filepath.Join(o.dir, "new.crl")
	o.run(append([]string{"-gencrl", "-out", tmp}, extra...)...)
	if err := os.Rename(tmp, path); err != nil {
		o.t.Fatal(err)
	}
}

// A certificate revoked by a CRL that openssl makes is refused for every operation; a fresh CRL without it lets
// it back in; an expired CRL, or one whose signature fails, raises the alarm (log and metrics) and the last good
// list stays in force.
func TestCRLRevocation(t *testing.T) {
	p := newPKI(t)
	osca := newOpenSSLCA(t, p.ca)
	crlFile := filepath.Join(t.TempDir(), "smp-ca.crl")
	osca.revoke(p.clients["smp-b"])
	osca.crl(crlFile)

	reg := prometheus.NewRegistry()
	e := newAuthEnv(t, authEnvOptions{pki: p, crl: []string{crlFile}, reg: reg})
	if v := metricValue(t, reg, "signpost_sml_crl_ok"); v != 1 {
		t.Errorf("signpost_sml_crl_ok = %v with a good CRL", v)
	}
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	for _, f := range []string{"smp-create-b.xml", "smp-read.xml", "participant-list.xml"} {
		r := e.send(t, "smp-b", f, nil)
		fl := r.fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
		if !strings.Contains(fl.String, "revoked") {
			t.Errorf("%s: %q does not say revoked", f, fl.String)
		}
	}
	e.send(t, "smp-a", "smp-read.xml", nil).ok(t) // only the revoked one is refused

	// A fresh CRL without it lets it back in (the file is replaced on disk; no restart).
	osca.reset()
	osca.crl(crlFile)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)

	// Revoked again, then the file is replaced by an expired CRL that does not list it: alarm, and the list that
	// revokes it stays in force.
	osca.revoke(p.clients["smp-b"])
	osca.crl(crlFile)
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
	if v := metricValue(t, reg, "signpost_sml_crl_problems_total"); v > 0 {
		t.Fatalf("problems counted before any problem: %v", v)
	}
	osca.reset()
	past := time.Now().Add(-48 * time.Hour).UTC()
	osca.crl(crlFile, "-crl_lastupdate", past.Format("060102150405Z"), "-crl_nextupdate", past.Add(time.Hour).Format("060102150405Z"))
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
	if v := metricValue(t, reg, "signpost_sml_crl_problems_total"); v != 1 {
		t.Errorf("signpost_sml_crl_problems_total = %v after an expired CRL, want 1", v)
	}
	if v := metricValue(t, reg, "signpost_sml_crl_ok"); v != 0 {
		t.Errorf("signpost_sml_crl_ok = %v after an expired CRL, want 0", v)
	}
	if !strings.Contains(e.log.String(), `"msg":"soap: CRL problem: the last good list stays in force"`) ||
		!strings.Contains(e.log.String(), "past its next update") {
		t.Errorf("no alarm in the log:\n%s", e.log.String())
	}
	e.send(t, "smp-a", "smp-read.xml", nil).ok(t)

	// A CRL signed by another key under the same issuer name fails its signature check: alarm, still refused.
	impostor, err := pki.NewRoot(p.ca.Cert.Subject.CommonName, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	osca2 := newOpenSSLCA(t, impostor)
	osca2.crl(crlFile)
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
	if !strings.Contains(e.log.String(), "fails its signature check") {
		t.Errorf("no signature alarm in the log:\n%s", e.log.String())
	}
	if v := metricValue(t, reg, "signpost_sml_crl_problems_total"); v != 2 {
		t.Errorf("signpost_sml_crl_problems_total = %v, want 2", v)
	}
	// A good current list again clears the alarm gauge and lets it in.
	osca.crl(crlFile)
	readB := bytes.Replace(soaptest.Request(t, "smp-read.xml"), []byte(">SMP-A<"), []byte(">SMP-B<"), 1)
	e.post(t, "smp-b", "/manageservicemetadata", readB, nil, nil).ok(t)
	if v := metricValue(t, reg, "signpost_sml_crl_ok"); v != 1 {
		t.Errorf("signpost_sml_crl_ok = %v with a good CRL again", v)
	}
}

// The good list expires in place (the clock passes its next update): the alarm is raised and the list stays in
// force. A CRL that fails its signature check at start is a configuration error.
func TestCRLExpiresInPlace(t *testing.T) {
	p := newPKI(t)
	osca := newOpenSSLCA(t, p.ca)
	crlFile := filepath.Join(t.TempDir(), "smp-ca.crl")
	osca.revoke(p.clients["smp-b"])
	osca.crl(crlFile) // next update in 2 hours
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	reg := prometheus.NewRegistry()
	e := newAuthEnv(t, authEnvOptions{pki: p, crl: []string{crlFile}, reg: reg, clock: now})
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
	mu.Lock()
	clock = clock.Add(3 * time.Hour)
	mu.Unlock()
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
	if v := metricValue(t, reg, "signpost_sml_crl_ok"); v != 0 {
		t.Errorf("signpost_sml_crl_ok = %v past the next update, want 0", v)
	}
	if v := metricValue(t, reg, "signpost_sml_crl_problems_total"); v != 1 {
		t.Errorf("signpost_sml_crl_problems_total = %v, want 1", v)
	}

	impostor, err := pki.NewRoot(p.ca.Cert.Subject.CommonName, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	newOpenSSLCA(t, impostor).crl(crlFile)
	d := testDomains(t, p.caFile)
	d[0].CRL = []string{crlFile}
	dom, err := sml.DomainFromConf(d[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := soap.NewCertAuthenticator([]sml.Domain{dom}, nil); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("a forged CRL at start: %v", err)
	}
}
