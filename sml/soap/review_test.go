package soap_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
