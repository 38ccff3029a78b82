// Package e2e_test resolves participants through the real SML (store, sml.Service, its authoritative DNS
// server, assembled by smlapp) and an SMP on loopback serving documents signed by xmlsec1. It lives apart
// from package lookup so that lookup itself never depends on sml.
package e2e_test

import (
	"context"
	"crypto/x509"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/lookup/lookuptest"
	"github.com/signpost-project/signpost/sml"
	smlapp "github.com/signpost-project/signpost/sml/app"
	smpapp "github.com/signpost-project/signpost/smp/app"
	"github.com/signpost-project/signpost/xmldsig"
)

const (
	zone    = "sml.test"
	docType = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
	process = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
)

func TestLookupThroughRealSML(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, err := conf.ParseSML("e2e.yaml", []byte(`
store:
  path: `+filepath.Join(t.TempDir(), "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
domains:
  - zone: `+zone+`
    records: [naptr, cname]
  - zone: legacy.test
    records: [cname]
`))
	if err != nil {
		t.Fatal(err)
	}
	app, err := smlapp.New(cfg, nil, ops.New())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for _, s := range app.Servers() {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown(context.Background())
	}
	udp, _ := app.DNS().Addr()

	p := lookuptest.NewPKI(t)
	smp := lookuptest.StartSMP(t)
	svc := app.Service()
	caller := sml.Caller{Identity: pki.Identity(p.SMP1.Cert), Domain: zone + "."}
	if err := svc.CreateSMP(ctx, caller, sml.SMP{ID: "SMP-ONE", LogicalAddress: smp.URL, PhysicalAddress: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}

	pid, _ := identifier.PEPPOL.Parse(identifier.Participant, "iso6523-actorid-upis::9915:e2e")
	doc, _ := identifier.PEPPOL.Parse(identifier.DocumentType, docType)
	proc, _ := identifier.PEPPOL.Parse(identifier.Process, process)
	m := lookuptest.Metadata{ParticipantScheme: pid.Scheme, ParticipantValue: pid.Value, DocScheme: doc.Scheme, DocValue: doc.Value,
		Processes: []lookuptest.Process{{Scheme: proc.Scheme, Value: proc.Value, Endpoints: []lookuptest.Endpoint{
			{Profile: "peppol-transport-as4-v2_0", Address: "https://ap.e2e.test/as4", Cert: lookuptest.CertBase64(p.AP)}}}}}
	smp.Put("/"+identifier.EncodeID(pid)+"/services/"+identifier.EncodeID(doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-metadata.xml", m, p.SMP1)})

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(smp.URL, "http://"))
	legacyPort, _ := strconv.Atoi(port)
	c, err := lookup.New(lookup.Config{
		Zone: zone, Servers: []string{udp.String()}, Verifier: &xmldsig.Verifier{Roots: p.Root.Pool()},
		NegativeTTL:   time.Nanosecond, // see the registration right away
		CNAMEFallback: false, LegacyPort: legacyPort,
	})
	if err != nil {
		t.Fatal(err)
	}
	req := lookup.Request{Participant: pid, DocumentType: doc, Process: proc}

	// Not registered yet: NXDOMAIN from the real server.
	if _, err := c.Lookup(ctx, req); lookup.KindOf(err) != lookup.NotRegistered {
		t.Fatalf("before registration: %v", err)
	}
	if err := svc.CreateParticipants(ctx, caller, "SMP-ONE", []sml.ParticipantSpec{{ID: pid}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Lookup(ctx, req)
	if err != nil {
		t.Fatalf("after registration: %v", err)
	}
	if res.Endpoint.Address != "https://ap.e2e.test/as4" || !res.Endpoint.Certificate.Equal(p.AP.Cert) || res.Trace.SMPBaseURL != smp.URL {
		t.Fatalf("result %+v", res)
	}

	// A zone with legacy CNAME records only: the NAPTR name does not exist, the B- name leads to
	// SMP-LEGACY.publisher.legacy.test (an A record from the physical address) and so to the same SMP.
	legacy := sml.Caller{Identity: pki.Identity(p.SMP2.Cert), Domain: "legacy.test."}
	if err := svc.CreateSMP(ctx, legacy, sml.SMP{ID: "SMP-LEGACY", LogicalAddress: smp.URL, PhysicalAddress: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateParticipants(ctx, legacy, "SMP-LEGACY", []sml.ParticipantSpec{{ID: pid}}); err != nil {
		t.Fatal(err)
	}
	newClient := func(fallback bool) *lookup.Client {
		c, err := lookup.New(lookup.Config{Zone: "legacy.test", Servers: []string{udp.String()}, Verifier: &xmldsig.Verifier{Roots: p.Root.Pool()},
			CNAMEFallback: fallback, LegacyPort: legacyPort})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := newClient(false).Lookup(ctx, req); lookup.KindOf(err) != lookup.NotRegistered {
		t.Fatalf("legacy zone without the fallback: %v", err)
	}
	res, err = newClient(true).Lookup(ctx, req)
	if err != nil {
		t.Fatalf("legacy zone with the fallback: %v", err)
	}
	if !res.Trace.CNAME || res.Endpoint.Address != "https://ap.e2e.test/as4" {
		t.Fatalf("legacy result %+v", res)
	}

	// Deleted: NXDOMAIN again.
	if err := svc.DeleteParticipants(ctx, caller, "SMP-ONE", []identifier.ID{pid}); err != nil {
		t.Fatal(err)
	}
	fresh, err := lookup.New(lookup.Config{Zone: zone, Servers: []string{udp.String()}, Verifier: &xmldsig.Verifier{Roots: p.Root.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Lookup(ctx, req); lookup.KindOf(err) != lookup.NotRegistered {
		t.Fatalf("after deletion: %v", err)
	}
}

// TestLookupThroughRealSMLAndSMP: the real SMP (smpapp, signing with its own key through package xmldsig's
// signer) seeded with the demo participant, the participant registered in the real SML; the lookup finds the
// endpoint and certificate on the root paths (PEPPOL) and on the SMP 2.0 binding.
func TestLookupThroughRealSMLAndSMP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	p := lookuptest.NewPKI(t)

	smlCfg, err := conf.ParseSML("e2e.yaml", []byte("store: {path: "+filepath.Join(dir, "sml.db")+"}\ndns: {listen: \""+testnet.FreeAddr(t)+"\"}\ndomains:\n  - zone: "+zone+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	smlApp, err := smlapp.New(smlCfg, nil, ops.New())
	if err != nil {
		t.Fatal(err)
	}
	defer smlApp.Close()
	for _, s := range smlApp.Servers() {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown(context.Background())
	}
	udp, _ := smlApp.DNS().Addr()

	certFile, keyFile := filepath.Join(dir, "smp.pem"), filepath.Join(dir, "smp-key.pem")
	if err := p.SMP1.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	smpCfg, err := conf.ParseSMP("smp.yaml", []byte("store: {path: "+filepath.Join(dir, "smp.db")+"}\nops: {addr: \"\"}\nhttp: {listen: \"127.0.0.1:0\"}\nadmin: {listen: \"127.0.0.1:0\"}\n"+
		"smp_id: SMP-ONE\npublic_url: http://smp.e2e.test\nsigning: {cert: "+certFile+", key: "+keyFile+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	smpApp, err := smpapp.New(ctx, smpCfg, nil, ops.New())
	if err != nil {
		t.Fatal(err)
	}
	defer smpApp.Close()
	if err := smpapp.SeedDemo(ctx, smpApp.Service(), p.AP.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	servers := smpApp.Servers()
	for _, s := range servers {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for i := len(servers) - 1; i >= 0; i-- {
			_ = servers[i].Shutdown(context.Background())
		}
	}()
	smpURL := "http://" + smpApp.Addr()

	svc := smlApp.Service()
	caller := sml.Caller{Identity: pki.Identity(p.SMP1.Cert), Domain: zone + "."}
	if err := svc.CreateSMP(ctx, caller, sml.SMP{ID: "SMP-ONE", LogicalAddress: smpURL, PhysicalAddress: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	pid := mustParse(t, identifier.Participant, smpapp.DemoParticipant)
	doc := mustParse(t, identifier.DocumentType, smpapp.DemoDocumentType)
	proc := mustParse(t, identifier.Process, smpapp.DemoProcess)
	if err := svc.CreateParticipants(ctx, caller, "SMP-ONE", []sml.ParticipantSpec{{ID: pid}}); err != nil {
		t.Fatal(err)
	}
	c, err := lookup.New(lookup.Config{Zone: zone, Servers: []string{udp.String()}, Verifier: &xmldsig.Verifier{Roots: p.Root.Pool()},
		TransportProfiles: []string{smpapp.DemoTransport}})
	if err != nil {
		t.Fatal(err)
	}
	req := lookup.Request{Participant: pid, DocumentType: doc, Process: proc}
	res, err := c.Lookup(ctx, req)
	if err != nil {
		t.Fatalf("PEPPOL binding: %v", err)
	}
	if res.Endpoint.Address != smpapp.DemoAddress || !res.Endpoint.Certificate.Equal(p.AP.Cert) || !res.Trace.Signer.Equal(p.SMP1.Cert) ||
		res.Trace.Binding != lookup.BindingPEPPOL {
		t.Fatalf("result %+v", res)
	}
	g, err := c.ServiceGroup(ctx, pid)
	if err != nil || len(g.DocumentTypes) != 1 || g.DocumentTypes[0].ID != doc {
		t.Fatalf("service group: %v %+v", err, g)
	}

	// The same participant on the SMP 2.0 binding (another SML entry: service oasis-bdxr-smp-2).
	if err := svc.DeleteParticipants(ctx, caller, "SMP-ONE", []identifier.ID{pid}); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateParticipants(ctx, caller, "SMP-ONE", []sml.ParticipantSpec{{ID: pid, Service: "oasis-bdxr-smp-2"}}); err != nil {
		t.Fatalf("register with service oasis-bdxr-smp-2: %v", err)
	}
	c2, err := lookup.New(lookup.Config{Zone: zone, Servers: []string{udp.String()}, Verifier: &xmldsig.Verifier{Roots: p.Root.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c2.Lookup(ctx, req)
	if err != nil {
		t.Fatalf("SMP 2.0 binding: %v", err)
	}
	if res.Trace.Binding != lookup.BindingOASIS2 || res.Endpoint.Address != smpapp.DemoAddress || !res.Endpoint.Certificate.Equal(p.AP.Cert) {
		t.Fatalf("SMP 2.0 result %+v", res)
	}

	// A foreign trust anchor: the same documents are refused.
	c3, err := lookup.New(lookup.Config{Zone: zone, Servers: []string{udp.String()}, Verifier: &xmldsig.Verifier{Roots: x509.NewCertPool()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Lookup(ctx, req); lookup.KindOf(err) != lookup.CertificateUntrusted {
		t.Fatalf("foreign trust anchor: %v", err)
	}
}

func mustParse(t *testing.T, k identifier.Kind, s string) identifier.ID {
	t.Helper()
	id, err := identifier.PEPPOL.Parse(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
