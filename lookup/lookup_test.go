package lookup

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/lookup/lookuptest"
	"github.com/signpost-project/signpost/xmldsig"
)

func TestLookupPEPPOL(t *testing.T) {
	e := newEnv(t)
	pid, doc := e.standard("found")
	c := e.client()
	res, err := c.Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc, Process: mustID(t, identifier.Process, testProcess)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Endpoint.Address != apAddress || res.Endpoint.TransportProfile != profileAS4 {
		t.Errorf("endpoint %+v", res.Endpoint)
	}
	if res.Endpoint.Certificate == nil || !res.Endpoint.Certificate.Equal(e.pki.AP.Cert) {
		t.Errorf("certificate is not the access point's")
	}
	if res.Trace.Binding != BindingPEPPOL || res.Trace.Signer == nil || !res.Trace.Signer.Equal(e.pki.SMP1.Cert) {
		t.Errorf("trace %+v", res.Trace)
	}
	if !strings.Contains(res.Trace.NAPTR, "Meta:SMP") || res.Trace.SMPBaseURL != e.smp.URL || res.Trace.DNSCached || res.Trace.HTTPCached {
		t.Errorf("trace %+v", res.Trace)
	}
	if res.Trace.URL != e.smp.URL+metadataPath(pid, doc) {
		t.Errorf("URL %s", res.Trace.URL)
	}
	if res.Process.Value != "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0" {
		t.Errorf("process %v", res.Process)
	}
	// Upper case in the participant value resolves to the same participant.
	up := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:FOUND")
	if _, err := c.Lookup(ctxT(t), Request{Participant: up, DocumentType: doc}); err != nil {
		t.Fatalf("upper case: %v", err)
	}
}

// Each error kind, provoked on purpose.
func TestLookupErrorKinds(t *testing.T) {
	e := newEnv(t)
	doc := mustID(t, identifier.DocumentType, testDoc)
	good, _ := e.standard("good")
	pidOf := func(name string) identifier.ID {
		return mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:"+name)
	}

	// SMP down.
	down := pidOf("smpdown")
	e.register(down, "Meta:SMP", lookuptest.ClosedURL(t))
	// SMP failing.
	failing := pidOf("smpfails")
	e.register(failing, "Meta:SMP", e.smp.URL)
	e.smp.Put(metadataPath(failing, doc), lookuptest.Doc{Status: http.StatusInternalServerError, Body: []byte("boom")})
	// SERVFAIL.
	servfail := pidOf("servfail")
	e.dns.SetServfail(identifier.NAPTRName(servfail, testZone, identifier.SchemeLabel), true)
	// Tampered signature.
	tampered := pidOf("tampered")
	e.register(tampered, "Meta:SMP", e.smp.URL)
	body := lookuptest.Sign(t, "peppol-metadata.xml", metadataFor(tampered, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	body = bytes.Replace(body, []byte("https://ap.example.test/as4"), []byte("https://evil.example.test/a"), 1)
	e.smp.Put(metadataPath(tampered, doc), lookuptest.Doc{Body: body})
	// Foreign CA.
	foreign := pidOf("foreign")
	e.register(foreign, "Meta:SMP", e.smp.URL)
	e.publish(foreign, doc, "peppol-metadata.xml", metadataFor(foreign, doc, e.process(e.apEndpoint(profileAS4))), e.pki.Foreign)
	// Expired endpoint.
	expired := pidOf("expired")
	e.register(expired, "Meta:SMP", e.smp.URL)
	ep := e.apEndpoint(profileAS4)
	ep.Expiration = e.clock().Add(-time.Hour).UTC().Format(time.RFC3339)
	e.publish(expired, doc, "peppol-metadata.xml", metadataFor(expired, doc, e.process(ep)), e.pki.SMP1)
	// Redirect to an SMP signing with another certificate than the Redirect names.
	redir := pidOf("redirect")
	e.register(redir, "Meta:SMP", e.smp.URL)
	smp2 := lookuptest.StartSMP(t)
	e.publish(redir, doc, "peppol-redirect.xml", lookuptest.Metadata{Href: smp2.URL + metadataPath(redir, doc), CertificateUID: e.pki.SMP2.Cert.Subject.String()}, e.pki.SMP1)
	smp2.Put(metadataPath(redir, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-metadata.xml", metadataFor(redir, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)})
	// Another participant in the body.
	wrong := pidOf("wrongbody")
	e.register(wrong, "Meta:SMP", e.smp.URL)
	e.publish(wrong, doc, "peppol-metadata.xml", metadataFor(good, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	// Not XML.
	garbage := pidOf("garbage")
	e.register(garbage, "Meta:SMP", e.smp.URL)
	e.smp.Put(metadataPath(garbage, doc), lookuptest.Doc{Body: []byte("<html>not xml")})
	// NAPTR without a service we understand.
	otherSvc := pidOf("othersvc")
	e.register(otherSvc, "Meta:Other", e.smp.URL)

	otherDoc := mustID(t, identifier.DocumentType, "busdox-docid-qns::urn:example:unknown::1.0")
	cases := []struct {
		name string
		pid  identifier.ID
		doc  identifier.ID
		c    *Client
		want Kind
	}{
		{"unknown participant", pidOf("nobody"), doc, nil, NotRegistered},
		{"DNS server down", good, doc, e.client(func(c *Config) { c.Servers = []string{lookuptest.ClosedAddr(t)}; c.DNSTimeout = 200 * time.Millisecond }), DNSFailure},
		{"DNS server silent (timeout)", good, doc, e.client(func(c *Config) { c.Servers = []string{lookuptest.Blackhole(t)}; c.DNSTimeout = 200 * time.Millisecond }), DNSFailure},
		{"SERVFAIL", servfail, doc, nil, DNSFailure},
		{"SMP down", down, doc, nil, SMPUnreachable},
		{"SMP 500", failing, doc, nil, SMPUnreachable},
		{"unknown document type", good, otherDoc, nil, DocumentTypeNotSupported},
		{"tampered signature", tampered, doc, nil, SignatureInvalid},
		{"foreign CA", foreign, doc, nil, CertificateUntrusted},
		{"SMP certificate expired", good, doc, e.client(func(c *Config) {
			late := e.pki.SMP1.Cert.NotAfter.Add(time.Hour)
			c.Verifier = &xmldsig.Verifier{Roots: e.pki.Root.Pool(), Now: func() time.Time { return late }}
		}), CertificateUntrusted},
		{"expired endpoint", expired, doc, nil, NoMatchingEndpoint},
		{"transport profile not offered", good, doc, e.client(func(c *Config) { c.TransportProfiles = []string{"bdxr-transport-ebms3-as4-v1p0"} }), NoMatchingEndpoint},
		{"redirect to another certificate", redir, doc, nil, CertificateUntrusted},
		{"another participant in the body", wrong, doc, nil, BadResponse},
		{"not XML", garbage, doc, nil, BadResponse},
		{"NAPTR service unknown", otherSvc, doc, nil, BadResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if c == nil {
				c = e.client()
			}
			res, err := c.Lookup(ctxT(t), Request{Participant: tc.pid, DocumentType: tc.doc})
			t.Log(err)
			if KindOf(err) != tc.want {
				t.Fatalf("err = %v (kind %s), want %s", err, KindOf(err), tc.want)
			}
			if res != nil {
				t.Errorf("result with an error: %+v", res)
			}
			var le *Error
			if !errors.As(err, &le) || le.Msg == "" {
				t.Errorf("no message")
			}
		})
	}
}

func TestLookupRedirect(t *testing.T) {
	e := newEnv(t)
	doc := mustID(t, identifier.DocumentType, testDoc)
	pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:moved")
	e.register(pid, "Meta:SMP", e.smp.URL)
	other := lookuptest.StartSMP(t)
	// Java writes the subject in another order and spacing; it names the same certificate.
	uid := "C=BE, O=Signpost Test, CN=SMP-TWO"
	e.publish(pid, doc, "peppol-redirect.xml", lookuptest.Metadata{Href: other.URL + metadataPath(pid, doc), CertificateUID: uid}, e.pki.SMP1)
	other.Put(metadataPath(pid, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP2)})
	res, err := e.client().Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trace.RedirectURL != other.URL+metadataPath(pid, doc) || !res.Trace.Signer.Equal(e.pki.SMP2.Cert) {
		t.Errorf("trace %+v", res.Trace)
	}
	// A second redirect is not followed.
	other.Put(metadataPath(pid, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "peppol-redirect.xml", lookuptest.Metadata{Href: e.smp.URL + "/x", CertificateUID: uid}, e.pki.SMP2)})
	if _, err := e.client().Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc}); KindOf(err) != BadResponse {
		t.Fatalf("second redirect: %v", err)
	}
}

func TestLookupOASIS(t *testing.T) {
	e := newEnv(t)
	oasis := func(c *Config) { c.Policy = identifier.OASIS }
	pid, err := identifier.OASIS.Parse(identifier.Participant, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088::4035811991021")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := identifier.OASIS.Parse(identifier.DocumentType, "bdx-docid-qns::urn:example:doc::1.0")
	proc := lookuptest.Process{Scheme: "bdx-procid-transport", Value: "bdx:noprocess", Endpoints: []lookuptest.Endpoint{
		{Profile: "bdxr-transport-ebms3-as4-v1p0", Address: "https://ap2.example.test/as4", Cert: lookuptest.CertBase64(e.pki.AP), Expiration: time.Now().AddDate(0, 0, 2).Format("2006-01-02")},
	}}

	t.Run("SMP 2.0", func(t *testing.T) {
		e.dns.Add(t, lookuptest.NAPTR(identifier.NAPTRName(pid, testZone, identifier.SchemeLabel), "oasis-bdxr-smp-2#dbnalliance-1.1", e.smp.URL+"/"))
		body := lookuptest.Sign(t, "oasis2-metadata.xml", metadataFor(pid, doc, proc), e.pki.SMP1)
		e.smp.Put("/bdxr-smp-2"+metadataPath(pid, doc), lookuptest.Doc{Body: body})
		res, err := e.client(oasis).Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc, Process: identifier.ID{Scheme: "cenbii-procid-ubl", Value: "any"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Trace.Binding != BindingOASIS2 || res.Endpoint.Address != "https://ap2.example.test/as4" || !res.Process.IsZero() && res.Process.Value != "bdx:noprocess" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("SMP 2.0 redirect to another certificate", func(t *testing.T) {
		p2, _ := identifier.OASIS.Parse(identifier.Participant, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088::redirected")
		e.dns.Add(t, lookuptest.NAPTR(identifier.NAPTRName(p2, testZone, identifier.SchemeLabel), "oasis-bdxr-smp-2", e.smp.URL))
		other := lookuptest.StartSMP(t)
		m := metadataFor(p2, doc)
		m.RedirectURI, m.RedirectCert = other.URL, lookuptest.CertBase64(e.pki.SMP2)
		e.smp.Put("/bdxr-smp-2"+metadataPath(p2, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "oasis2-metadata.xml", m, e.pki.SMP1)})
		target := lookuptest.Sign(t, "oasis2-metadata.xml", metadataFor(p2, doc, proc), e.pki.SMP1)
		other.Put("/bdxr-smp-2"+metadataPath(p2, doc), lookuptest.Doc{Body: target})
		if _, err := e.client(oasis).Lookup(ctxT(t), Request{Participant: p2, DocumentType: doc}); KindOf(err) != CertificateUntrusted {
			t.Fatalf("err = %v, want certificate-untrusted", err)
		}
		other.Put("/bdxr-smp-2"+metadataPath(p2, doc), lookuptest.Doc{Body: lookuptest.Sign(t, "oasis2-metadata.xml", metadataFor(p2, doc, proc), e.pki.SMP2)})
		if _, err := e.client(oasis).Lookup(ctxT(t), Request{Participant: p2, DocumentType: doc}); err != nil {
			t.Fatalf("redirect to the listed certificate: %v", err)
		}
	})
	t.Run("OASIS 1.0 on the root paths", func(t *testing.T) {
		p3, _ := identifier.OASIS.Parse(identifier.Participant, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088::oasis1")
		e.register(p3, "meta:smp", e.smp.URL)
		e.publish(p3, doc, "oasis1-metadata.xml", metadataFor(p3, doc, proc), e.pki.SMP1)
		res, err := e.client(oasis).Lookup(ctxT(t), Request{Participant: p3, DocumentType: doc})
		if err != nil {
			t.Fatal(err)
		}
		if res.Trace.Binding != BindingOASIS1 {
			t.Errorf("binding %s", res.Trace.Binding)
		}
		// Expired on the day after tomorrow: not any more, three days later.
		e.advance(72 * time.Hour)
		defer e.advance(-72 * time.Hour)
		if _, err := e.client(oasis).Lookup(ctxT(t), Request{Participant: p3, DocumentType: doc}); KindOf(err) != NoMatchingEndpoint {
			t.Fatalf("after expiration: %v", err)
		}
	})
}

func TestLookupSelection(t *testing.T) {
	e := newEnv(t)
	pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:select")
	doc := mustID(t, identifier.DocumentType, testDoc)
	e.register(pid, "Meta:SMP", e.smp.URL)
	future := e.apEndpoint("peppol-transport-as4-v2_0")
	future.Address = "https://future.example.test/as4"
	future.Activation = e.clock().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	as2 := e.apEndpoint("busdox-transport-as2-ver1p0")
	as2.Address = "https://as2.example.test/"
	noProc := lookuptest.Process{Scheme: "busdox-procid-transport", Value: "busdox:noprocess", Endpoints: []lookuptest.Endpoint{e.apEndpoint("peppol-transport-as4-v2_0")}}
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(future, as2), noProc), e.pki.SMP1)
	proc := mustID(t, identifier.Process, testProcess)
	c := e.client()
	get := func(p identifier.ID, profiles ...string) (*Result, error) {
		return c.Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc, Process: p, TransportProfiles: profiles})
	}
	// AS4 for the process is not active yet: the "no process" entry's AS4 endpoint wins over AS2 only when
	// AS4 is preferred.
	if r, err := get(proc, "peppol-transport-as4-v2_0", "busdox-transport-as2-ver1p0"); err != nil || r.Endpoint.Address != apAddress {
		t.Errorf("as4 first: %v %+v", err, r)
	}
	if r, err := get(proc, "busdox-transport-as2-ver1p0", "peppol-transport-as4-v2_0"); err != nil || r.Endpoint.Address != "https://as2.example.test/" {
		t.Errorf("as2 first: %v %+v", err, r)
	}
	// Two days later the process's own AS4 endpoint is active and comes first.
	e.advance(49 * time.Hour)
	if r, err := get(proc, "peppol-transport-as4-v2_0"); err != nil || r.Endpoint.Address != "https://future.example.test/as4" {
		t.Errorf("activated: %v %+v", err, r)
	}
	// Another process only matches the "no process" entry.
	other := mustID(t, identifier.Process, "cenbii-procid-ubl::urn:example:other")
	if r, err := get(other, "busdox-transport-as2-ver1p0"); KindOf(err) != NoMatchingEndpoint {
		t.Errorf("other process, as2: %v %+v", err, r)
	}
}

func TestLookupCNAMEFallback(t *testing.T) {
	e := newEnv(t)
	pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:legacy")
	doc := mustID(t, identifier.DocumentType, testDoc)
	host, port, _ := strings.Cut(strings.TrimPrefix(e.smp.URL, "http://"), ":")
	e.dns.Add(t, identifier.CNAMEName(pid, testZone, identifier.SchemeLabel)+" 60 IN CNAME smp-one.publisher\nsmp-one.publisher 60 IN A "+host)
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	var p int
	fmt.Sscan(port, &p)
	if _, err := e.client().Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc}); KindOf(err) != NotRegistered {
		t.Fatalf("without fallback: %v", err)
	}
	res, err := e.client(func(c *Config) { c.CNAMEFallback = true; c.LegacyPort = p }).Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Trace.CNAME || !strings.HasPrefix(res.Trace.SMPBaseURL, "http://b-") && !strings.HasPrefix(res.Trace.SMPBaseURL, "http://B-") {
		t.Errorf("trace %+v", res.Trace)
	}
}

func TestLookupTruncatedRetriesOverTCP(t *testing.T) {
	e := newEnv(t)
	pid, doc := e.standard("tcp")
	e.dns.SetTruncate(true)
	if _, err := e.client().Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc}); err != nil {
		t.Fatal(err)
	}
	if e.dns.TCPQueries() == 0 {
		t.Fatal("no query over TCP")
	}
}

func TestLookupCache(t *testing.T) {
	e := newEnv(t)
	pid, doc := e.standard("cached")
	c := e.client()
	req := Request{Participant: pid, DocumentType: doc}
	if _, err := c.Lookup(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	q, r := e.dns.Queries(), e.smp.Requests()
	// No Cache-Control: DNS from the cache (TTL 60), the document fetched again (no validators).
	res, err := c.Lookup(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if e.dns.Queries() != q || !res.Trace.DNSCached {
		t.Errorf("DNS asked again within the TTL")
	}
	if e.smp.Requests() != r+1 {
		t.Errorf("SMP requests %d, want %d", e.smp.Requests(), r+1)
	}
	// After the TTL, DNS is asked again.
	e.advance(61 * time.Second)
	if _, err := c.Lookup(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	if e.dns.Queries() != q+1 {
		t.Errorf("DNS queries %d, want %d", e.dns.Queries(), q+1)
	}

	// max-age and ETag: fresh from the cache, then revalidated with 304.
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1, "Cache-Control", "max-age=30", "ETag", `"v1"`)
	c = e.client()
	if _, err := c.Lookup(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	r = e.smp.Requests()
	if res, err := c.Lookup(ctxT(t), req); err != nil || !res.Trace.HTTPCached || e.smp.Requests() != r {
		t.Fatalf("fresh: %v, requests %d -> %d", err, r, e.smp.Requests())
	}
	e.advance(31 * time.Second)
	if res, err := c.Lookup(ctxT(t), req); err != nil || !res.Trace.HTTPCached || e.smp.NotModified() != 1 {
		t.Fatalf("revalidated: %v, 304s %d", err, e.smp.NotModified())
	}

	// Results are copies: changing one does not change the next.
	a, _ := c.Lookup(ctxT(t), req)
	a.Endpoint.Address = "changed"
	a.Endpoint.Certificate.Subject.CommonName = "changed"
	b, _ := c.Lookup(ctxT(t), req)
	if b.Endpoint.Address != apAddress || b.Endpoint.Certificate.Subject.CommonName != "AP-TEST" {
		t.Fatalf("a result changed the cache: %+v", b.Endpoint)
	}
}

// An NXDOMAIN is cached at most NegativeTTL: a participant registered meanwhile resolves afterwards.
func TestLookupNegativeCache(t *testing.T) {
	e := newEnv(t)
	pid := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:late")
	doc := mustID(t, identifier.DocumentType, testDoc)
	c := e.client(func(c *Config) { c.NegativeTTL = 10 * time.Second })
	req := Request{Participant: pid, DocumentType: doc}
	if _, err := c.Lookup(ctxT(t), req); KindOf(err) != NotRegistered {
		t.Fatal(err)
	}
	e.register(pid, "Meta:SMP", e.smp.URL)
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	if _, err := c.Lookup(ctxT(t), req); KindOf(err) != NotRegistered {
		t.Fatalf("within the negative TTL: %v", err)
	}
	e.advance(11 * time.Second)
	if _, err := c.Lookup(ctxT(t), req); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
	// A DNS failure is never cached, and never becomes "not registered".
	p2 := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:flaky")
	name := identifier.NAPTRName(p2, testZone, identifier.SchemeLabel)
	e.dns.SetServfail(name, true)
	if _, err := c.Lookup(ctxT(t), Request{Participant: p2, DocumentType: doc}); KindOf(err) != DNSFailure {
		t.Fatal(err)
	}
	e.dns.SetServfail(name, false)
	e.register(p2, "Meta:SMP", e.smp.URL)
	e.publish(p2, doc, "peppol-metadata.xml", metadataFor(p2, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	if _, err := c.Lookup(ctxT(t), Request{Participant: p2, DocumentType: doc}); err != nil {
		t.Fatalf("after SERVFAIL cleared: %v", err)
	}
}

func TestServiceGroup(t *testing.T) {
	e := newEnv(t)
	pid, doc := e.standard("group")
	href := e.smp.URL + metadataPath(pid, doc)
	e.smp.Put("/"+identifier.EncodeID(pid), lookuptest.Doc{Body: lookuptest.Render(t, "peppol-group.xml",
		lookuptest.Metadata{ParticipantScheme: pid.Scheme, ParticipantValue: pid.Value, Hrefs: []string{href}})})
	g, err := e.client().ServiceGroup(ctxT(t), pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.DocumentTypes) != 1 || g.DocumentTypes[0].ID != doc || g.Signed {
		t.Fatalf("group %+v", g)
	}
	if _, err := e.client().ServiceGroup(ctxT(t), mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:nobody")); KindOf(err) != NotRegistered {
		t.Fatal(err)
	}
}

// Many concurrent lookups through one client and cache (run with -race).
func TestLookupConcurrent(t *testing.T) {
	e := newEnv(t)
	var pids []identifier.ID
	doc := mustID(t, identifier.DocumentType, testDoc)
	for i := range 4 {
		p, _ := e.standard(fmt.Sprintf("conc%d", i))
		pids = append(pids, p)
	}
	missing := mustID(t, identifier.Participant, "iso6523-actorid-upis::9915:missing")
	// Small cache: eviction runs too. Generous timeouts: this checks results under the race detector, not speed.
	c := e.client(func(c *Config) { c.CacheEntries = 3; c.DNSTimeout = 5 * time.Second; c.HTTPTimeout = 20 * time.Second })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				p := pids[(g+i)%len(pids)]
				if i%7 == 0 {
					if _, err := c.Lookup(ctxT(t), Request{Participant: missing, DocumentType: doc}); KindOf(err) != NotRegistered {
						errs <- fmt.Errorf("missing: %v", err)
						return
					}
					continue
				}
				res, err := c.Lookup(ctxT(t), Request{Participant: p, DocumentType: doc})
				if err != nil {
					errs <- err
					return
				}
				if res.Participant != p || res.Endpoint.Address != apAddress {
					errs <- fmt.Errorf("wrong result for %s: %+v", p, res)
					return
				}
				res.Endpoint.Address = "scribble" // must not leak into other results
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestApplyNAPTRRegexp(t *testing.T) {
	cases := []struct{ expr, aus, want string }{
		{"!^.*$!https://smp.example.org!", "x.iso6523-actorid-upis.sml.test", "https://smp.example.org"},
		{"!^.*$!http://smp.example.org/sub/path!", "anything", "http://smp.example.org/sub/path"},
		{`/^([a-z0-9]+)\..*$/https:\/\/\1.smp.example\//`, "abc.iso.sml", "https://abc.smp.example/"},
		{"!^X.*$!http://upper!i", "x.sml", "http://upper"},
		// POSIX EREs match leftmost-longest, with the "i" flag too.
		{`!(a|ab)!http://\1!`, "abc", "http://ab"},
		{`!(A|AB)!http://\1!i`, "abc", "http://ab"},
		// Another delimiter, escaped inside the expression and the replacement.
		{`#^[^\#]*$#http://h/p\#frag#`, "x.sml", "http://h/p#frag"},
	}
	for _, tc := range cases {
		got, err := applyNAPTRRegexp(tc.expr, tc.aus)
		if err != nil || got != tc.want {
			t.Errorf("%q on %q = %q, %v; want %q", tc.expr, tc.aus, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "!!", "!^.*$!x", "1abc1d1", "!^X$!http://x!", "!(!x!"} {
		if got, err := applyNAPTRRegexp(bad, "y.sml"); err == nil {
			t.Errorf("%q accepted: %q", bad, got)
		}
	}
}

func TestSameDN(t *testing.T) {
	if !sameDN("CN=SMP-TWO,O=Signpost Test,C=BE", "C=BE, O=Signpost Test, CN=SMP-TWO") {
		t.Error("same DN in another order not recognised")
	}
	if sameDN("CN=SMP-TWO,O=Signpost Test,C=BE", "CN=SMP-ONE,O=Signpost Test,C=BE") || sameDN("", "") {
		t.Error("different DNs taken as the same")
	}
}

func FuzzNAPTRRegexp(f *testing.F) {
	f.Add("!^.*$!https://smp.example.org!", "abc.iso6523-actorid-upis.sml.test")
	f.Add(`/^([a-z0-9]+)\..*$/https:\/\/\1.smp.example\//`, "abc.iso.sml")
	f.Add("!^X.*$!http://upper!i", "x.sml")
	f.Fuzz(func(t *testing.T, expr, aus string) {
		_, _ = applyNAPTRRegexp(expr, aus) // must not panic
	})
}

func TestChooseNAPTROrder(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rrs := []dns.RR{
		rr(`x.sml.test. 60 IN NAPTR 200 1 "U" "Meta:SMP" "!^.*$!http://order200!" .`),
		rr(`x.sml.test. 60 IN NAPTR 100 20 "U" "Meta:SMP" "!^.*$!http://pref20!" .`),
		rr(`x.sml.test. 60 IN NAPTR 100 10 "S" "Meta:SMP" "!^.*$!http://flag-s!" .`),
		rr(`x.sml.test. 60 IN NAPTR 100 10 "u" "meta:smp" "!^.*$!ftp://not-http!" .`),
		rr(`x.sml.test. 60 IN NAPTR 100 15 "u" "OASIS-BDXR-SMP-2#dbna" "!^.*$!https://pref15/smp!" .`),
	}
	ch, _ := chooseNAPTR(rrs, "x.sml.test")
	if ch.baseURL != "https://pref15/smp" || ch.binding != BindingOASIS2 {
		t.Fatalf("chose %+v", ch)
	}
	ch, _ = chooseNAPTR(rrs[:2], "x.sml.test")
	if ch.baseURL != "http://pref20" || ch.binding != BindingRoot {
		t.Fatalf("chose %+v", ch)
	}
}

// OASIS BDXL without a scheme label: the full identifier is hashed.
func TestLookupFullIDHashing(t *testing.T) {
	e := newEnv(t)
	pid, _ := identifier.OASIS.Parse(identifier.Participant, "urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088::4035811991021")
	doc, _ := identifier.OASIS.Parse(identifier.DocumentType, "bdx-docid-qns::urn:example:doc::1.0")
	name := identifier.NAPTRName(pid, testZone, identifier.FullID)
	if !strings.HasPrefix(name, "i3qyb36ctayrfgthbycqzdtojfhgazjeglfooe7727egvdwrk5qq.") {
		t.Fatalf("full-id name %s does not match the eDelivery BDXL vector", name)
	}
	e.dns.Add(t, lookuptest.NAPTR(name, "Meta:SMP", e.smp.URL))
	e.publish(pid, doc, "oasis1-metadata.xml", metadataFor(pid, doc, lookuptest.Process{Scheme: "bdx-procid-transport", Value: "bdx:noprocess",
		Endpoints: []lookuptest.Endpoint{e.apEndpoint("bdxr-transport-ebms3-as4-v1p0")}}), e.pki.SMP1)
	oasis := func(c *Config) { c.Policy = identifier.OASIS; c.HashMode = identifier.FullID }
	if _, err := e.client(oasis).Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc}); err != nil {
		t.Fatal(err)
	}
	// The same participant in scheme-label mode is another name: not registered.
	if _, err := e.client(func(c *Config) { c.Policy = identifier.OASIS }).Lookup(ctxT(t), Request{Participant: pid, DocumentType: doc}); KindOf(err) != NotRegistered {
		t.Fatalf("scheme-label: %v", err)
	}
}

// A 404 is cached at most NegativeTTL.
func TestLookupNegativeHTTPCache(t *testing.T) {
	e := newEnv(t)
	pid, doc := e.standard("neg404")
	e.smp.Delete(metadataPath(pid, doc))
	c := e.client(func(c *Config) { c.NegativeTTL = 5 * time.Second })
	req := Request{Participant: pid, DocumentType: doc}
	if _, err := c.Lookup(ctxT(t), req); KindOf(err) != DocumentTypeNotSupported {
		t.Fatal(err)
	}
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	r := e.smp.Requests()
	if _, err := c.Lookup(ctxT(t), req); KindOf(err) != DocumentTypeNotSupported || e.smp.Requests() != r {
		t.Fatalf("within the negative TTL: %v (requests %d -> %d)", err, r, e.smp.Requests())
	}
	e.advance(6 * time.Second)
	if _, err := c.Lookup(ctxT(t), req); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
}

// Each identifier is percent-encoded once, as one path segment, below a base URL with or without a path
// prefix and a trailing slash.
func TestSMPURL(t *testing.T) {
	pid := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "9915:a/b%20c"}
	doc := identifier.ID{Scheme: "busdox-docid-qns", Value: "urn:x::Invoice##v#1"}
	const seg = "/iso6523-actorid-upis%3A%3A9915%3Aa%2Fb%2520c/services/busdox-docid-qns%3A%3Aurn%3Ax%3A%3AInvoice%23%23v%231"
	for _, tc := range []struct {
		base string
		b    Binding
		want string
	}{
		{"https://smp.example", BindingRoot, "https://smp.example" + seg},
		{"https://smp.example/", BindingRoot, "https://smp.example" + seg},
		{"https://smp.example/prefix/smp/", BindingRoot, "https://smp.example/prefix/smp" + seg},
		{"https://smp.example/prefix", BindingOASIS2, "https://smp.example/prefix/bdxr-smp-2" + seg},
		{"https://smp.example/prefix/bdxr-smp-2/", BindingOASIS2, "https://smp.example/prefix/bdxr-smp-2" + seg},
	} {
		if got := smpURL(tc.base, tc.b, pid, &doc); got != tc.want {
			t.Errorf("smpURL(%q, %s) = %q, want %q", tc.base, tc.b, got, tc.want)
		}
	}
}
