package lookup

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/lookup/lookuptest"
)

// PINT document types (scheme peppol-doctype-wildcard), as the PEPPOL code list writes them.
const (
	pintRoot = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
	pintJP   = "peppol-doctype-wildcard::" + pintRoot + "urn:peppol:pint:billing-1@jp-1::2.1"
)

func TestWildcardCandidates(t *testing.T) {
	w := func(cust string) string { return "peppol-doctype-wildcard::" + pintRoot + cust + "::2.1" }
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{w("urn:peppol:pint:billing-1@jp-1@x"), []string{w("urn:peppol:pint:billing-1@jp-1@x"), w("urn:peppol:pint:billing-1@jp-1@x*"),
			w("urn:peppol:pint:billing-1@jp-1*"), w("urn:peppol:pint:billing-1*")}},
		{w("urn:peppol:pint:billing-1@jp-1*"), []string{w("urn:peppol:pint:billing-1@jp-1"), w("urn:peppol:pint:billing-1@jp-1*"), w("urn:peppol:pint:billing-1*")}},
		{w("urn:peppol:pint:billing-1"), []string{w("urn:peppol:pint:billing-1"), w("urn:peppol:pint:billing-1*")}},
		{testDoc, []string{testDoc}}, // busdox-docid-qns: as it is
	} {
		got, err := WildcardCandidates(mustID(t, identifier.DocumentType, tc.in))
		var s []string
		for _, id := range got {
			s = append(s, id.String())
		}
		if err != nil || strings.Join(s, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s (%v)", tc.in, strings.Join(s, "\n"), strings.Join(tc.want, "\n"), err)
		}
	}
	for _, bad := range []string{
		"peppol-doctype-wildcard::urn:x::Invoice::2.1",            // no ##
		"peppol-doctype-wildcard::" + pintRoot + "urn:a@*@b::2.1", // "*" inside
		"peppol-doctype-wildcard::" + pintRoot + "nover",          // no ::version
	} {
		if _, err := WildcardCandidates(mustID(t, identifier.DocumentType, bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestMatchIdentifier(t *testing.T) {
	pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:abc")
	doc := mustID(t, identifier.DocumentType, testDoc)
	proc := mustID(t, identifier.Process, testProcess)
	for _, tc := range []struct {
		k            identifier.Kind
		scheme, val  string
		want         identifier.ID
		field        string // "" = match
		caseOnlyNote bool
	}{
		{identifier.Participant, "iso6523-actorid-upis", "9915:ABC", pid, "", false},
		{identifier.Participant, "ISO6523-ACTORID-UPIS", "9915:abc", pid, "", false},
		{identifier.Participant, "iso6523-actorid-upis", "9915:abd", pid, FieldParticipant, false},
		{identifier.DocumentType, doc.Scheme, doc.Value, doc, "", false},
		{identifier.DocumentType, doc.Scheme, strings.Replace(doc.Value, "Invoice##", "INVOICE##", 1), doc, FieldDocumentType, true},
		{identifier.Process, proc.Scheme, strings.ToUpper(proc.Value), proc, FieldProcess, true},
		{identifier.DocumentType, "busdox-docid-qns", "", doc, FieldDocumentType, false}, // invalid: empty value
	} {
		err := MatchIdentifier(identifier.PEPPOL, tc.k, tc.scheme, tc.val, tc.want)
		var e *Error
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s %s::%s: %v", tc.k, tc.scheme, tc.val, err)
			}
			continue
		}
		if !errors.As(err, &e) || e.Kind != BadResponse || e.Field != tc.field || strings.Contains(e.Msg, "case only") != tc.caseOnlyNote {
			t.Errorf("%s %s::%s: %#v", tc.k, tc.scheme, tc.val, err)
		}
	}
}

// The SMP's answer must name what was asked for: a document type in another case is a bad-response naming
// the document type; a process in another case one naming the process; a participant in another case is the
// same participant.
func TestAnswerIdentifiersCaseRules(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	doc := mustID(t, identifier.DocumentType, testDoc)
	proc := mustID(t, identifier.Process, testProcess)

	upper := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:casepid")
	e.register(upper, "Meta:SMP", e.smp.URL)
	m := metadataFor(upper, doc, e.process(e.apEndpoint(profileAS4)))
	m.ParticipantValue = "9915:CASEPID"
	e.publish(upper, doc, "peppol-metadata.xml", m, e.pki.SMP1)
	if res, err := c.Lookup(ctxT(t), Request{Participant: upper, DocumentType: doc, Process: proc}); err != nil || res.Endpoint.Address != apAddress {
		t.Fatalf("participant in upper case in the answer: %v", err)
	}

	casedoc := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:casedoc")
	e.register(casedoc, "Meta:SMP", e.smp.URL)
	m = metadataFor(casedoc, doc, e.process(e.apEndpoint(profileAS4)))
	m.DocValue = strings.Replace(doc.Value, "::Invoice##", "::invoice##", 1)
	e.publish(casedoc, doc, "peppol-metadata.xml", m, e.pki.SMP1)
	_, err := c.Lookup(ctxT(t), Request{Participant: casedoc, DocumentType: doc})
	var le *Error
	if !errors.As(err, &le) || le.Kind != BadResponse || le.Field != FieldDocumentType || !strings.Contains(le.Msg, "case only") {
		t.Fatalf("document type in another case: %v", err)
	}

	caseproc := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:caseproc")
	e.register(caseproc, "Meta:SMP", e.smp.URL)
	p := e.process(e.apEndpoint(profileAS4))
	p.Value = strings.ToUpper(p.Value)
	e.publish(caseproc, doc, "peppol-metadata.xml", metadataFor(caseproc, doc, p), e.pki.SMP1)
	_, err = c.Lookup(ctxT(t), Request{Participant: caseproc, DocumentType: doc, Process: proc})
	if !errors.As(err, &le) || le.Kind != BadResponse || le.Field != FieldProcess {
		t.Fatalf("process in another case: %v", err)
	}
	// Without a process asked for, the SMP's process is taken as it is.
	if _, err := c.Lookup(ctxT(t), Request{Participant: caseproc, DocumentType: doc}); err != nil {
		t.Fatalf("no process asked for: %v", err)
	}
}

// A peppol-doctype-wildcard registration answers a more specific PINT request; a more specific wildcard wins
// over a coarser one, and an exact registration over any wildcard.
func TestWildcardRegistration(t *testing.T) {
	e := newEnv(t)
	c := e.client(func(c *Config) { c.CacheEntries = -1 }) // registrations appear during the test
	pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:pint")
	e.register(pid, "Meta:SMP", e.smp.URL)
	req := mustID(t, identifier.DocumentType, pintJP)
	req.Value = strings.Replace(req.Value, "@jp-1::", "@jp-1@acme::", 1) // ...billing-1@jp-1@acme::2.1
	publish := func(docValue, addr string) identifier.ID {
		doc := identifier.ID{Scheme: identifier.SchemeDocTypeWild, Value: docValue}
		ep := e.apEndpoint(profileAS4)
		ep.Address = addr
		e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(ep)), e.pki.SMP1)
		return doc
	}
	want := func(addr string, matched identifier.ID) {
		t.Helper()
		res, err := c.Lookup(ctxT(t), Request{Participant: pid, DocumentType: req})
		if err != nil || res.Endpoint.Address != addr || res.MatchedDocumentType != matched || res.DocumentType != req {
			t.Fatalf("got %+v %v, want %s via %s", res, err, addr, matched)
		}
	}
	_, err := c.Lookup(ctxT(t), Request{Participant: pid, DocumentType: req})
	if KindOf(err) != DocumentTypeNotSupported || !strings.Contains(err.Error(), "exact or wildcard") {
		t.Fatalf("nothing registered: %v", err)
	}
	coarse := publish(pintRoot+"urn:peppol:pint:billing-1*::2.1", "https://coarse.example.test/as4")
	want("https://coarse.example.test/as4", coarse)
	finer := publish(pintRoot+"urn:peppol:pint:billing-1@jp-1*::2.1", "https://finer.example.test/as4")
	want("https://finer.example.test/as4", finer)
	same := publish(strings.Replace(req.Value, "@acme::", "@acme*::", 1), "https://same.example.test/as4")
	want("https://same.example.test/as4", same)
	exact := publish(req.Value, "https://exact.example.test/as4")
	want("https://exact.example.test/as4", exact)

	// A request of another PINT specialisation does not match billing-1@jp-1*.
	other := req
	other.Value = strings.Replace(req.Value, "@jp-1@acme::", "@aunz-1::", 1)
	if res, err := c.Lookup(ctxT(t), Request{Participant: pid, DocumentType: other}); err != nil || res.MatchedDocumentType != coarse {
		t.Fatalf("billing-1@aunz-1: %+v %v", res, err)
	}
}

// webPKI is a public-web-CA stand-in: a root and an HTTPS certificate for 127.0.0.1 it issued.
func webPKI(t *testing.T, name string, notAfter time.Time) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	now := time.Now()
	root, err := pki.NewRoot(name, now.Add(-48*time.Hour), now.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "smp.example.test", Hosts: []string{"127.0.0.1"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	return root.Pool(), leaf.TLSCertificate()
}

// Under RequireHTTPS a plain-http SMP URL is refused (its own kind), an https SMP whose certificate chains to
// the TLS roots is used, and one from an unknown CA or with an expired certificate is SMPTLSUntrusted.
func TestSMPTransportChecks(t *testing.T) {
	e := newEnv(t)
	roots, cert := webPKI(t, "Test Web CA", time.Now().Add(7*24*time.Hour))
	_, foreignCert := webPKI(t, "Unknown Web CA", time.Now().Add(7*24*time.Hour))
	_, expiredCert := webPKI(t, "Test Web CA expired", time.Now().Add(-time.Hour))
	doc := mustID(t, identifier.DocumentType, testDoc)
	serve := func(name string, smp *lookuptest.SMP) identifier.ID {
		pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:"+name)
		e.register(pid, "Meta:SMP", smp.URL)
		body := lookuptest.Sign(t, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
		smp.Put(metadataPath(pid, doc), lookuptest.Doc{Body: body})
		return pid
	}
	plain := serve("plain", e.smp)
	good := serve("tls", lookuptest.StartTLSSMP(t, cert))
	foreign := serve("tlsforeign", lookuptest.StartTLSSMP(t, foreignCert))
	expired := serve("tlsexpired", lookuptest.StartTLSSMP(t, expiredCert))

	strict := e.client(func(c *Config) { c.RequireHTTPS, c.TLSRoots = true, roots })
	if _, err := strict.Lookup(ctxT(t), Request{Participant: plain, DocumentType: doc}); KindOf(err) != HTTPRefused || !strings.Contains(err.Error(), "http://127.0.0.1") {
		t.Fatalf("http under RequireHTTPS: %v", err)
	}
	if _, err := strict.ServiceGroup(ctxT(t), plain); KindOf(err) != HTTPRefused {
		t.Fatalf("service group, http under RequireHTTPS: %v", err)
	}
	if _, err := e.client().Lookup(ctxT(t), Request{Participant: plain, DocumentType: doc}); err != nil {
		t.Fatalf("http without RequireHTTPS: %v", err)
	}
	// An https record of a later order is used before a plain-http one under RequireHTTPS, not without it.
	both := serve("both", e.smp)
	tlsBoth := lookuptest.StartTLSSMP(t, cert)
	tlsBoth.Put(metadataPath(both, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-metadata.xml", metadataFor(both, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)})
	e.dns.Add(t, strings.Replace(lookuptest.NAPTR(identifier.NAPTRName(both, testZone, identifier.SchemeLabel), "Meta:SMP", tlsBoth.URL), " 100 10 ", " 200 10 ", 1))
	if res, err := strict.Lookup(ctxT(t), Request{Participant: both, DocumentType: doc}); err != nil || res.Trace.SMPBaseURL != tlsBoth.URL {
		t.Fatalf("http and https records under RequireHTTPS: %+v %v", res, err)
	}
	if res, err := e.client().Lookup(ctxT(t), Request{Participant: both, DocumentType: doc}); err != nil || res.Trace.SMPBaseURL != e.smp.URL {
		t.Fatalf("http and https records without RequireHTTPS: %+v %v", res, err)
	}
	res, err := strict.Lookup(ctxT(t), Request{Participant: good, DocumentType: doc})
	if err != nil || !strings.HasPrefix(res.Trace.URL, "https://127.0.0.1:") {
		t.Fatalf("https with a trusted certificate: %+v %v", res, err)
	}
	for name, pid := range map[string]identifier.ID{"unknown CA": foreign, "expired": expired} {
		_, err := strict.Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc})
		if KindOf(err) != SMPTLSUntrusted || !IsTLSUntrusted(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The TLS roots are not the signature's trust anchors: the system roots do not know the test web CA.
	if _, err := e.client(func(c *Config) { c.RequireHTTPS = true }).Lookup(ctxT(t), Request{Participant: good, DocumentType: doc}); KindOf(err) != SMPTLSUntrusted {
		t.Fatalf("system roots: %v", err)
	}
	// A Redirect to plain http is refused too.
	tlsSMP := lookuptest.StartTLSSMP(t, cert)
	moved := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:movedtls")
	e.register(moved, "Meta:SMP", tlsSMP.URL)
	tlsSMP.Put(metadataPath(moved, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-redirect.xml",
		lookuptest.Metadata{Href: e.smp.URL + metadataPath(moved, doc), CertificateUID: e.pki.SMP1.Cert.Subject.String()}, e.pki.SMP1)})
	e.smp.Put(metadataPath(moved, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-metadata.xml",
		metadataFor(moved, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)})
	if _, err := strict.Lookup(ctxT(t), Request{Participant: moved, DocumentType: doc}); KindOf(err) != HTTPRefused || !strings.Contains(err.Error(), "Redirect") {
		t.Fatalf("redirect to http under RequireHTTPS: %v", err)
	}
	if _, err := e.client(func(c *Config) { c.TLSRoots = roots }).Lookup(ctxT(t), Request{Participant: moved, DocumentType: doc}); err != nil {
		t.Fatalf("redirect to http without RequireHTTPS: %v", err)
	}
}
