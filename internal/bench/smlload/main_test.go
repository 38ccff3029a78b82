package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/testnet"
	smlapp "github.com/signpost-project/signpost/sml/app"
)

// selfSigned writes a self-signed P-256 certificate for 127.0.0.1 (server and client at once, as the benchmark
// script makes with openssl) and its key; returns their paths.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(14), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// The load registers exactly -count participants through a real SML's SOAP listener (mutual TLS), with
// CreateList calls (the last one short) and with single Creates, and stops with the SML's fault when a call is
// refused.
func TestLoadRegistersCount(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	soap := testnet.FreeAddr(t)
	cfg, err := conf.ParseSML("bench.yaml", []byte(`
store:
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
management:
  listen: `+soap+`
  tls:
    cert: `+cert+`
    key: `+key+`
admin:
  listen: `+testnet.FreeAddr(t)+`
  token_file: `+filepath.Join(dir, "admin.token")+`
domains:
  - zone: sml.test
    records: [naptr, cname]
    identifiers: peppol
    participant_schemes: ^iso6523-actorid-upis$
    trusted_issuers: `+cert+`
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := smlapp.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	servers := a.Servers()
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := len(servers) - 1; i >= 0; i-- {
			_ = servers[i].Shutdown(ctx)
		}
		_ = a.Close()
	})

	o := options{url: "https://" + soap, cert: cert, key: key, ca: cert, smp: "SMP-BENCH", scheme: "iso6523-actorid-upis",
		duration: time.Minute}
	c, err := newClient(o)
	if err != nil {
		t.Fatal(err)
	}
	body := `<CreateServiceMetadataPublisherService ` + ns + `><PublisherEndpoint><LogicalAddress>http://smp-bench.test</LogicalAddress><PhysicalAddress>127.0.0.1</PhysicalAddress></PublisherEndpoint><ServiceMetadataPublisherID>SMP-BENCH</ServiceMetadataPublisherID></CreateServiceMetadataPublisherService>`
	if err := c.call(ctx, "/manageservicemetadata", body); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, run := range []struct {
		prefix                  string
		clients, perCall, count int
	}{{"list", 3, 7, 50}, {"one", 8, 1, 30}} {
		o.prefix, o.clients, o.perCall, o.count = run.prefix, run.clients, run.perCall, run.count
		n, secs, err := load(c, o)
		if err != nil || n != int64(run.count) || secs <= 0 {
			t.Fatalf("%s: %d participants in %v s, %v; want %d", run.prefix, n, secs, err, run.count)
		}
		want += run.count
		counts, err := a.Service().ParticipantCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts["SMP-BENCH"] != want {
			t.Fatalf("%s: the SML holds %d participants of SMP-BENCH, want %d", run.prefix, counts["SMP-BENCH"], want)
		}
	}

	// The same participants again: the SML refuses them, and the load says so.
	o.prefix, o.clients, o.perCall, o.count = "list", 2, 10, 20
	if _, _, err := load(c, o); err == nil || !strings.Contains(err.Error(), "already") {
		t.Fatalf("registering existing participants: %v", err)
	}
}
