package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/lookup"
	"github.com/signpost-project/signpost/lookup/lookuptest"
)

// webCA is a stand-in for a public web CA: its root as a PEM file (for --tls-ca) and an HTTPS certificate for
// 127.0.0.1.
func webCA(t *testing.T, name string) (string, *pki.KeyPair) {
	t.Helper()
	now := time.Now()
	root, err := pki.NewRoot(name, now.Add(-time.Hour), now.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "smp.example.test", Hosts: []string{"127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web-ca.pem")
	if err := os.WriteFile(path, pki.EncodeCertPEM(root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, leaf
}

type lookupJSON struct {
	DocumentType        string
	MatchedDocumentType string
	Endpoint            struct{ Address string }
	Trace               struct{ DNSName, URL string }
	Error               struct {
		Kind, Field string
		ExitCode    int
	}
}

func parseLookupJSON(t *testing.T, out string) lookupJSON {
	t.Helper()
	var j lookupJSON
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &j); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return j
}

// The PEPPOL production network is the default: its zone (from conf's presets), https SMPs whose certificate
// chains to --tls-ca, signatures made by package xmldsig. Each stricter check has its own kind and exit code.
func TestLookupPeppolProdChecks(t *testing.T) {
	prod, ok := conf.SMLPreset(conf.NetworkPeppolProd)
	if !ok {
		t.Fatal("no peppol-prod preset")
	}
	p := lookuptest.NewPKI(t)
	trust := p.WriteRoots(t)
	tlsCA, smpTLS := webCA(t, "Test Web CA")
	_, strangerTLS := webCA(t, "Unknown Web CA")
	dns := lookuptest.StartDNS(t, prod.Zone, "")
	https := lookuptest.StartTLSSMP(t, smpTLS.TLSCertificate())
	stranger := lookuptest.StartTLSSMP(t, strangerTLS.TLSCertificate())
	plain := lookuptest.StartSMP(t)
	doc := cliID(t, identifier.DocumentType, cliDoc)
	proc := cliID(t, identifier.Process, cliProc)
	ap := lookuptest.Endpoint{Profile: "peppol-transport-as4-v2_0", Address: "https://ap.example.test/as4", Cert: lookuptest.CertBase64(p.AP)}

	// serve registers 9915:<name> in the prod zone at smp and publishes its metadata for docID there, with
	// the document type written as answered.
	serve := func(name string, smp *lookuptest.SMP, docID identifier.ID, answered string) identifier.ID {
		pid := cliID(t, identifier.Participant, "iso6523-actorid-upis::9915:"+name)
		dns.Add(t, lookuptest.NAPTR(identifier.NAPTRName(pid, prod.Zone, identifier.SchemeLabel), "Meta:SMP", smp.URL))
		m := lookuptest.Metadata{ParticipantScheme: pid.Scheme, ParticipantValue: pid.Value, DocScheme: docID.Scheme, DocValue: answered,
			Processes: []lookuptest.Process{{Scheme: proc.Scheme, Value: proc.Value, Endpoints: []lookuptest.Endpoint{ap}}}}
		smp.Put("/"+identifier.EncodeID(pid)+"/services/"+identifier.EncodeID(docID), lookuptest.Doc{Body: lookuptest.SignXMLDSig(t, "peppol-metadata.xml", m, p.SMP1)})
		return pid
	}
	good := serve("good", https, doc, doc.Value)
	caseDoc := serve("casedoc", https, doc, strings.Replace(doc.Value, "::Invoice##", "::INVOICE##", 1))
	wild := cliID(t, identifier.DocumentType, "peppol-doctype-wildcard::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:peppol:pint:billing-1*::2.1")
	pint := cliID(t, identifier.DocumentType, "peppol-doctype-wildcard::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:peppol:pint:billing-1@jp-1::2.1")
	wildcard := serve("wildcard", https, wild, wild.Value)
	httpOnly := serve("plain", plain, doc, doc.Value)
	unknownCA := serve("unknownca", stranger, doc, doc.Value)

	base := []string{"lookup", "--dns", dns.Addr, "--trust", trust, "--tls-ca", tlsCA, "--timeout", "20s", "--json"}
	run := func(extra ...string) (lookupJSON, int, string) {
		out, code := runCLI(t, append(append([]string{}, base...), extra...)...)
		return parseLookupJSON(t, out), code, out
	}

	t.Run("found over https in the default network", func(t *testing.T) {
		j, code, out := run(good.String(), doc.String(), proc.String())
		if code != 0 || j.Endpoint.Address != ap.Address || !strings.HasSuffix(j.Trace.DNSName, "."+strings.TrimSuffix(prod.Zone, ".")) ||
			!strings.HasPrefix(j.Trace.URL, "https://127.0.0.1:") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("wildcard registration", func(t *testing.T) {
		j, code, out := run(wildcard.String(), pint.String())
		if code != 0 || j.DocumentType != pint.String() || j.MatchedDocumentType != wild.String() || j.Endpoint.Address != ap.Address {
			t.Fatalf("exit %d\n%s", code, out)
		}
		text, _ := runCLI(t, "lookup", "--dns", dns.Addr, "--trust", trust, "--tls-ca", tlsCA, wildcard.String(), pint.String())
		if !strings.Contains(text, "registered as") || !strings.Contains(text, wild.String()) {
			t.Fatalf("text output does not show the wildcard registration:\n%s", text)
		}
	})
	for _, tc := range []struct {
		name  string
		args  []string
		kind  lookup.Kind
		field string
	}{
		{"document type in another case", []string{caseDoc.String(), doc.String()}, lookup.BadResponse, lookup.FieldDocumentType},
		{"wildcard request without a registration", []string{good.String(), pint.String()}, lookup.DocumentTypeNotSupported, ""},
		{"http SMP URL under peppol-prod", []string{httpOnly.String(), doc.String()}, lookup.HTTPRefused, ""},
		{"SMP certificate from an unknown CA", []string{unknownCA.String(), doc.String()}, lookup.SMPTLSUntrusted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, code, out := run(tc.args...)
			want := lookupExitCode(tc.kind)
			if code != want || j.Error.Kind != tc.kind.String() || j.Error.ExitCode != want || j.Error.Field != tc.field {
				t.Fatalf("exit %d, want %d (%s, field %q)\n%s", code, want, tc.kind, tc.field, out)
			}
		})
	}
	t.Run("--allow-http", func(t *testing.T) {
		if j, code, out := run("--allow-http", httpOnly.String(), doc.String()); code != 0 || j.Endpoint.Address != ap.Address {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("system roots do not know the test web CA", func(t *testing.T) {
		out, code := runCLI(t, "lookup", "--dns", dns.Addr, "--trust", trust, good.String(), doc.String())
		if code != lookupExitCode(lookup.SMPTLSUntrusted) {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("under a custom zone http is allowed", func(t *testing.T) {
		out, code := runCLI(t, "lookup", "--dns", dns.Addr, "--zone", prod.Zone, "--trust", trust, httpOnly.String(), doc.String())
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
}

func TestLookupNetworkFlags(t *testing.T) {
	out, code := runCLI(t, "lookup", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, name := range conf.SMLPresetNames() {
		n, _ := conf.SMLPreset(name)
		if !strings.Contains(out, name) || !strings.Contains(out, n.Zone) || !strings.Contains(out, n.URL) {
			t.Errorf("--help does not show preset %s (%s, %s):\n%s", name, n.Zone, n.URL, out)
		}
	}
	for _, want := range []string{"phax/peppol-commons", "(default)", "--allow-http", "--tls-ca", "http-refused", "smp-tls-untrusted", "edelivery.tech.ec.europa.eu"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	trust := lookuptest.NewPKI(t).WriteRoots(t)
	pid := "iso6523-actorid-upis::9915:test"
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--network", "peppol-prod", "--zone", "sml.test"}, "--zone implies --network custom"},
		{[]string{"--network", "custom"}, "needs --zone"},
		{[]string{"--network", "edelivery"}, "want peppol-prod, peppol-test or custom"},
		{[]string{"--tls-ca", filepath.Join(t.TempDir(), "none.pem")}, "--tls-ca"},
	} {
		out, code := runCLI(t, append(append([]string{"lookup", "--trust", trust}, tc.args...), pid)...)
		if code != exitUsage || !strings.Contains(out, tc.says) {
			t.Errorf("%q: exit %d, want %d saying %q\n%s", tc.args, code, exitUsage, tc.says, out)
		}
	}
}

// The DNS owner names of two real PEPPOL participants are the ones published for them, in the preset zones
// and in the EC's old zone, and a lookup asks for exactly those names.
//
// Sources (phax/peppol-commons, Apache-2.0; names only, no code):
//   - 9915:test, the Austrian test participant, registered at https://test.erechnung.gv.at/smp:
//     peppol-smp-client/src/test/java/com/helger/smpclient/url/dns/PeppolNaptrURLProviderTest.java
//     (testResolvePeppol: the NAPTR name in participant.sml.test.tech.peppol.org) and
//     peppol-smp-client/src/test/java/com/helger/smpclient/url/dns/PeppolURLProviderTest.java (the legacy
//     B- name in the same zone).
//   - 9917:5504033150, a production participant whose SMP answer has a BOM:
//     peppol-smp-client/src/test/java/com/helger/smpclient/bdxr1/BDXRClientReadOnlyTest.java
//     (testGetBDXRHostURI_Peppol_WithBOM: the legacy B- name in edelivery.tech.ec.europa.eu).
func TestLookupRealParticipantNames(t *testing.T) {
	test, _ := conf.SMLPreset(conf.NetworkPeppolTest)
	const (
		naptr9915 = "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a.iso6523-actorid-upis.participant.sml.test.tech.peppol.org"
		cname9915 = "B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.participant.sml.test.tech.peppol.org"
		cname9917 = "B-2f67a0710cbc13c11ac8c0d64186ac5e.iso6523-actorid-upis.edelivery.tech.ec.europa.eu"
		ecZone    = "edelivery.tech.ec.europa.eu"
	)
	p9915 := cliID(t, identifier.Participant, "iso6523-actorid-upis::9915:test")
	p9917 := cliID(t, identifier.Participant, "iso6523-actorid-upis::9917:5504033150")
	for _, tc := range []struct{ got, want string }{
		{identifier.NAPTRName(p9915, test.Zone, identifier.SchemeLabel), naptr9915 + "."},
		{identifier.CNAMEName(p9915, test.Zone, identifier.SchemeLabel), cname9915 + "."},
		{identifier.CNAMEName(p9917, ecZone, identifier.SchemeLabel), cname9917 + "."},
	} {
		if !strings.EqualFold(tc.got, tc.want) { // DNS names compare case-insensitively; peppol-commons writes "B-"
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}

	// The lookup asks for them: 9915:test through --network peppol-test's NAPTR, 9917:5504033150 through the
	// legacy CNAME in the EC zone, named explicitly with --zone.
	p := lookuptest.NewPKI(t)
	trust := p.WriteRoots(t)
	tlsCA, smpTLS := webCA(t, "Test Web CA")
	https := lookuptest.StartTLSSMP(t, smpTLS.TLSCertificate())
	plain := lookuptest.StartSMP(t)
	group := func(smp *lookuptest.SMP, pid identifier.ID) {
		smp.Put("/"+identifier.EncodeID(pid), lookuptest.Doc{Body: lookuptest.Render(t, "peppol-group.xml",
			lookuptest.Metadata{ParticipantScheme: pid.Scheme, ParticipantValue: pid.Value, Hrefs: []string{smp.URL + "/x/services/" + identifier.EncodeID(cliID(t, identifier.DocumentType, cliDoc))}})})
	}
	group(https, p9915)
	group(plain, p9917)
	testDNS := lookuptest.StartDNS(t, test.Zone, lookuptest.NAPTR(naptr9915+".", "Meta:SMP", https.URL))
	_, port, _ := strings.Cut(strings.TrimPrefix(plain.URL, "http://"), ":")
	ecDNS := lookuptest.StartDNS(t, ecZone, cname9917+". 60 IN CNAME smp."+ecZone+".\nsmp 60 IN A 127.0.0.1")

	out, code := runCLI(t, "lookup", "--json", "--network", "peppol-test", "--dns", testDNS.Addr, "--trust", trust, "--tls-ca", tlsCA, p9915.String())
	if j := parseLookupJSON(t, out); code != 0 || !strings.EqualFold(j.Trace.DNSName, naptr9915) {
		t.Errorf("9915:test: exit %d, asked %q, want %s\n%s", code, j.Trace.DNSName, naptr9915, out)
	}
	out, code = runCLI(t, "lookup", "--json", "--zone", ecZone, "--cname-fallback", "--legacy-port", port, "--dns", ecDNS.Addr, "--trust", trust, p9917.String())
	if j := parseLookupJSON(t, out); code != 0 || !strings.EqualFold(j.Trace.DNSName, cname9917) {
		t.Errorf("9917:5504033150: exit %d, asked %q, want %s\n%s", code, j.Trace.DNSName, cname9917, out)
	}
}
