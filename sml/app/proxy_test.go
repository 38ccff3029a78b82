package app

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
)

// The configuration wires management.proxy (plain HTTP on loopback, no management.tls) and domains[].crl: the
// SMP certificate in the proxy header is the caller, a CRL that revokes it refuses it, and the CRL gauge is on
// the ops listener's /metrics.
func TestAppProxyAndCRL(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files, _, err := pki.EnsureDev(filepath.Join(dir, "pki-home"), now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadKeyPair(files.CA, files.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	smp, err := pki.LoadKeyPair(files.SMP, files.SMPKey)
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dir, "ca.crl")
	writeCRL := func(revoked ...*x509.Certificate) {
		t.Helper()
		var entries []x509.RevocationListEntry
		for _, c := range revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-time.Minute)})
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: n, ThisUpdate: now.Add(-time.Minute),
			NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		tmp := crlFile + ".new"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, crlFile); err != nil {
			t.Fatal(err)
		}
	}
	writeCRL()
	soapAddr, opsAddr := testnet.FreeAddr(t), testnet.FreeAddr(t)
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
ops:
  addr: `+opsAddr+`
admin:
  listen: `+testnet.FreeAddr(t)+`
management:
  listen: `+soapAddr+`
  proxy:
    addresses: [127.0.0.0/8]
domains:
  - zone: sml.test
    trusted_issuers: `+files.CA+`
    crl: [`+crlFile+`]
`))
	if err != nil {
		t.Fatal(err)
	}
	o := ops.New()
	startApp(t, cfg, o)
	opsSrv := o.Server(opsAddr)
	go func() { _ = opsSrv.ListenAndServe() }()
	defer opsSrv.Close()
	header := strings.ReplaceAll(url.QueryEscape(string(pki.EncodeCertPEM(smp.Cert))), "+", "%20")
	post := func(file string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+soapAddr+"/manageservicemetadata", bytes.NewReader(soaptest.Request(t, file)))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("X-SSL-Client-Cert", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("smp-create.xml"); code != http.StatusOK {
		t.Fatalf("create through the proxy header: %d %s", code, body)
	}
	writeCRL(smp.Cert)
	if code, body := post("smp-read.xml"); code == http.StatusOK || !strings.Contains(body, "revoked") {
		t.Fatalf("revoked certificate: %d %s", code, body)
	}
	resp, err := http.Get("http://" + opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(m), `signpost_sml_crl_ok{zone="sml.test."} 1`) {
		t.Errorf("no CRL gauge on /metrics:\n%s", m)
	}
}
