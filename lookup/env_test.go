package lookup

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/lookup/lookuptest"
	"github.com/signpost-project/signpost/xmldsig"
)

const (
	testZone    = "sml.test"
	testDoc     = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
	testProcess = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
	profileAS4  = "peppol-transport-as4-v2_0"
	apAddress   = "https://ap.example.test/as4"
)

func mustID(t testing.TB, k identifier.Kind, s string) identifier.ID {
	t.Helper()
	id, err := identifier.PEPPOL.Parse(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// env is a DNS server for testZone, an SMP, the PKI and a settable clock.
type env struct {
	t   testing.TB
	pki *lookuptest.PKI
	dns *lookuptest.DNS
	smp *lookuptest.SMP

	mu  sync.Mutex
	now time.Time
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, pki: lookuptest.NewPKI(t), now: time.Now()}
	e.dns = lookuptest.StartDNS(t, testZone, "")
	e.smp = lookuptest.StartSMP(t)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) client(mod ...func(*Config)) *Client {
	e.t.Helper()
	cfg := Config{
		Zone:        testZone,
		Servers:     []string{e.dns.Addr},
		Verifier:    &xmldsig.Verifier{Roots: e.pki.Root.Pool()},
		Now:         e.clock,
		DNSTimeout:  2 * time.Second,
		HTTPTimeout: 10 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// register points the participant's NAPTR record at url with service.
func (e *env) register(pid identifier.ID, service, url string) {
	e.dns.Add(e.t, lookuptest.NAPTR(identifier.NAPTRName(pid, testZone, identifier.SchemeLabel), service, url))
}

func metadataFor(pid, doc identifier.ID, procs ...lookuptest.Process) lookuptest.Metadata {
	return lookuptest.Metadata{ParticipantScheme: pid.Scheme, ParticipantValue: pid.Value, DocScheme: doc.Scheme, DocValue: doc.Value, Processes: procs}
}

func (e *env) apEndpoint(profile string) lookuptest.Endpoint {
	return lookuptest.Endpoint{Profile: profile, Address: apAddress, Cert: lookuptest.CertBase64(e.pki.AP)}
}

func (e *env) process(eps ...lookuptest.Endpoint) lookuptest.Process {
	p := mustID(e.t, identifier.Process, testProcess)
	return lookuptest.Process{Scheme: p.Scheme, Value: p.Value, Endpoints: eps}
}

func metadataPath(pid, doc identifier.ID) string {
	return "/" + identifier.EncodeID(pid) + "/services/" + identifier.EncodeID(doc)
}

// publish serves signed metadata (template name, signed by kp) for pid/doc on the root paths.
func (e *env) publish(pid, doc identifier.ID, tmpl string, m lookuptest.Metadata, kp *pki.KeyPair, header ...string) []byte {
	e.t.Helper()
	body := lookuptest.Sign(e.t, tmpl, m, kp)
	d := lookuptest.Doc{Body: body, Header: map[string][]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		d.Header.Set(header[i], header[i+1])
	}
	e.smp.Put(metadataPath(pid, doc), d)
	return body
}

// standard sets up a registered participant with one AS4 endpoint, signed by SMP1.
func (e *env) standard(name string) (identifier.ID, identifier.ID) {
	e.t.Helper()
	pid := mustID(e.t, identifier.Participant, "iso6523-actorid-upis::9915:"+name)
	doc := mustID(e.t, identifier.DocumentType, testDoc)
	e.register(pid, "Meta:SMP", e.smp.URL)
	e.publish(pid, doc, "peppol-metadata.xml", metadataFor(pid, doc, e.process(e.apEndpoint(profileAS4))), e.pki.SMP1)
	return pid, doc
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
