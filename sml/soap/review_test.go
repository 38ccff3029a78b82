package soap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// PrepareChangeCertificate verifies the successor at its migration date, in the future. That must not be the
// moment at which the CRL files are reread: a new CRL (next update in 2 hours) that revokes a certificate was
// judged "expired" at the migration date and set aside as seen, so the revoked certificate stayed in for good
// (and a false alarm was raised).
func TestCRLNotReloadedAtMigrationDate(t *testing.T) {
	p := newPKI(t)
	osca := newOpenSSLCA(t, p.ca)
	crlFile := filepath.Join(t.TempDir(), "smp-ca.crl")
	osca.crl(crlFile) // revokes nothing
	reg := prometheus.NewRegistry()
	e := newAuthEnv(t, authEnvOptions{pki: p, crl: []string{crlFile}, reg: reg})
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)

	osca.revoke(p.clients["smp-b"])
	osca.crl(crlFile) // next update in 2 hours; not yet read

	now := time.Now().UTC()
	nu := e.issueClient(t, nil, "new", "SMP New", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	date := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 2) // within the test CA's validity, beyond the CRL's next update
	e.prepareChange(t, "smp-a", nu, date.Format(time.DateOnly)).ok(t)

	if v := metricValue(t, reg, "signpost_sml_crl_problems_total"); v > 0 {
		t.Errorf("signpost_sml_crl_problems_total = %v after a PrepareChangeCertificate with a current CRL, want 0", v)
	}
	if strings.Contains(e.log.String(), "CRL problem") {
		t.Errorf("a CRL alarm in the log for a current CRL:\n%s", e.log.String())
	}
	e.send(t, "smp-b", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate CN=SMP B")
}

// ChangeCertificate gives the SMP to the new certificate: the expiry report then shows the new certificate's
// expiry, not the old owner's (the SMP's owner field and its certificate expiry change together).
func TestChangeCertificateRecordsNewExpiry(t *testing.T) {
	e := newEnv(t, envOptions{domains: func(p *testPKI, ds []conf.Domain) {
		ds[0].Authority = []string{pki.Identity(p.clients["smp-b"].Cert)}
	}})
	now := time.Now()
	nu := e.issueClient(t, nil, "new", "SMP New", now.Add(-time.Hour), now.Add(20*time.Hour)) // smp-a: 24 hours
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	body := bytes.Replace(soaptest.Request(t, "bdmsl-change-certificate.xml"), []byte("bm90IGEgY2VydA=="),
		[]byte(base64.StdEncoding.EncodeToString(nu.Cert.Raw)), 1)
	e.post(t, "smp-b", "/bdmslservice", body, ptr(soapmsg.OpChangeCertificate.SOAPAction()), nil).ok(t)

	st, err := e.svc.ExpiringCertificates(context.Background(), now.Add(10*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].SMP.Owner != pki.Identity(nu.Cert) || !st[0].NotAfter.Equal(nu.Cert.NotAfter) {
		t.Fatalf("after ChangeCertificate the report shows %+v; want owner %s expiring %s", st, pki.Identity(nu.Cert), nu.Cert.NotAfter)
	}
}

// The wildcard participant '*' is held only by domains[].wildcard_owners: Migrate must not hand it to an SMP
// whose certificate is not one of them (its owner may prepare the key, but the new SMP could never register '*').
func TestWildcardNotMigratedToOthers(t *testing.T) {
	e := newEnv(t, envOptions{domains: func(p *testPKI, ds []conf.Domain) {
		ds[0].WildcardOwners = []string{pki.Identity(p.clients["smp-a"].Cert)}
	}})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-create-wildcard.xml", nil).ok(t)
	star := func(file string) []byte {
		return bytes.Replace(soaptest.Request(t, file), []byte(">9915:test-a1<"), []byte(">*<"), 1)
	}
	e.post(t, "smp-a", "/manageparticipantidentifier", star("participant-prepare-migrate.xml"), nil, nil).ok(t)
	e.post(t, "smp-b", "/manageparticipantidentifier", star("participant-migrate.xml"), nil, nil).fault(t, status500,
		soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.wantNAPTR(t, "9915:nobody", "Meta:SMP", "http://smp-a.example.org")
}

// After a scheduled certificate change took effect, the SMP's owner is the successor even though the stored
// owner field still names the old certificate: ChangeCertificate's audit line must name the owner it replaced
// (the successor), not the certificate that was replaced before.
func TestChangeCertificateAuditsOwnerInEffect(t *testing.T) {
	real := time.Now().UTC()
	clk := &clock{t: real}
	e := newEnv(t, envOptions{now: clk.now, clockAuth: true, domains: func(p *testPKI, ds []conf.Domain) {
		ds[0].Authority = []string{pki.Identity(p.clients["smp-b"].Cert)}
	}})
	old := e.issueClient(t, nil, "old", "SMP Old", real.Add(-time.Hour), real.Add(60*time.Hour))
	mid := e.issueClient(t, nil, "mid", "SMP Mid", real.Add(-time.Hour), real.Add(60*time.Hour))
	final := e.issueClient(t, nil, "final", "SMP Final", real.Add(-time.Hour), real.Add(60*time.Hour))
	e.send(t, "old", "smp-create.xml", nil).ok(t)
	at := time.Date(real.Year(), real.Month(), real.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
	e.prepareChange(t, "old", mid, at.Format(time.DateOnly)).ok(t)
	clk.set(at)
	e.send(t, "mid", "smp-read.xml", nil).ok(t)

	body := bytes.Replace(soaptest.Request(t, "bdmsl-change-certificate.xml"), []byte("bm90IGEgY2VydA=="),
		[]byte(base64.StdEncoding.EncodeToString(final.Cert.Raw)), 1)
	e.post(t, "smp-b", "/bdmslservice", body, ptr(soapmsg.OpChangeCertificate.SOAPAction()), nil).ok(t)
	e.send(t, "final", "smp-read.xml", nil).ok(t)
	e.send(t, "mid", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	var n int
	for _, a := range e.log.auditLines(t) {
		if a["op"] != "change-certificate" {
			continue
		}
		n++
		if a["old_owner"] != pki.Identity(mid.Cert) || a["new_owner"] != pki.Identity(final.Cert) {
			t.Errorf("change-certificate audit line %v: want old_owner %s (not %s)", a, pki.Identity(mid.Cert), pki.Identity(old.Cert))
		}
	}
	if n != 1 {
		t.Errorf("%d change-certificate audit lines, want 1", n)
	}
}
