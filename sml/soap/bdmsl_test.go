package soap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// The wildcard participant "*" is registered only by the certificate identities of domains[].wildcard_owners;
// its NAPTR at *.<scheme>.<zone> then answers for every participant of the scheme that has no record of its own.
func TestWildcardOwners(t *testing.T) {
	e := newEnv(t, envOptions{domains: func(p *testPKI, ds []conf.Domain) {
		ds[0].WildcardOwners = []string{pki.Identity(p.clients["smp-a"].Cert)}
	}})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	const urlA = "http://smp-a.example.org"

	// Not a wildcard owner: refused, and nothing answers for an unregistered participant.
	body := bytes.Replace(soaptest.Request(t, "participant-create-wildcard.xml"), []byte(">SMP-A<"), []byte(">SMP-B<"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).fault(t, status500, soapmsg.FaultUnauthorized,
		"[ERR-101] ")
	e.wantNAPTR(t, "9915:nobody", "", "")

	e.send(t, "smp-a", "participant-create-wildcard.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:nobody", "Meta:SMP", urlA)
	if rc, ans := e.dig(t, "*.iso6523-actorid-upis."+zoneName, "NAPTR"); rc != "NOERROR" || len(ans) != 1 || !strings.Contains(ans[0], urlA) {
		t.Errorf("wildcard NAPTR: %s %v", rc, ans)
	}
	// A participant of its own is answered with its own record, not the wildcard's.
	body = bytes.Replace(soaptest.Request(t, "participant-create.xml"), []byte(">SMP-A<"), []byte(">SMP-B<"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-b.example.org/smp")
}

// clock is the injected clock of a test: the Service's and the authenticator's.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// issueClient issues a certificate of a (the domain's CA when nil) valid from nb to na and adds a client for it.
func (e *env) issueClient(t *testing.T, a *pki.Authority, name, cn string, nb, na time.Time) *pki.KeyPair {
	t.Helper()
	if a == nil {
		a = e.pki.ca
	}
	kp, err := a.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: cn, Organization: "Signpost Test", Country: "BE", NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	e.clients[name] = e.mk(kp)
	return kp
}

// prepareChange sends PrepareChangeCertificate of client with the successor's certificate (PEM) and date
// ("": the envelope without migrationDate).
func (e *env) prepareChange(t *testing.T, client string, nu *pki.KeyPair, date string) result {
	t.Helper()
	file := "bdmsl-prepare-change-certificate-new.xml"
	if date == "" {
		file = "bdmsl-prepare-change-certificate-nodate.xml"
	}
	body := bytes.Replace(soaptest.Request(t, file), []byte("NEW_CERTIFICATE"), pki.EncodeCertPEM(nu.Cert), 1)
	body = bytes.Replace(body, []byte("2030-01-01"), []byte(date), 1)
	return e.post(t, client, "/bdmslservice", body, ptr(soapmsg.OpPrepareChangeCertificate.SOAPAction()), nil)
}

// Before the migration date only the old certificate owns the SMP; from 00:00 UTC of that day only the new one.
func TestPrepareChangeCertificate(t *testing.T) {
	real := time.Now().UTC()
	clk := &clock{t: real}
	e := newEnv(t, envOptions{now: clk.now, clockAuth: true})
	old := e.issueClient(t, nil, "old", "SMP Old", real.Add(-time.Hour), real.Add(72*time.Hour))
	nu := e.issueClient(t, nil, "new", "SMP New", real.Add(-time.Hour), real.Add(96*time.Hour))
	e.send(t, "old", "smp-create.xml", nil).ok(t)
	e.send(t, "old", "participant-create.xml", nil).ok(t)

	// Faults first: not a certificate, not a date, a past date, a successor of a foreign CA, itself.
	e.send(t, "old", "bdmsl-prepare-change-certificate.xml", nil).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The newCertificatePublicKey is not a certificate")
	e.prepareChange(t, "old", nu, "tomorrow").fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The migrationDate 'tomorrow' is not an xs:date")
	e.prepareChange(t, "old", nu, real.Add(-48*time.Hour).Format(time.DateOnly)).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The new certificate is refused") // not yet valid then
	e.prepareChange(t, "old", e.pki.clients["foreign"], "").fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The new certificate is refused")
	e.prepareChange(t, "old", old, "").fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The new certificate is the one you call with")
	e.prepareChange(t, "old", nu, "").fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The new certificate is valid since ") // no date, NotBefore past
	e.prepareChange(t, "old", nu, real.Add(-24*time.Hour).Format(time.DateOnly)+"Z").fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The new certificate is refused")

	long := e.issueClient(t, nil, "long", "SMP Long", real.Add(-96*time.Hour), real.Add(96*time.Hour))
	e.prepareChange(t, "old", long, real.Add(-48*time.Hour).Format(time.DateOnly)).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The migrationDate "+real.Add(-48*time.Hour).Format(time.DateOnly)+" is in the past")

	at := time.Date(real.Year(), real.Month(), real.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour) // tomorrow 00:00 UTC
	e.prepareChange(t, "old", nu, at.Format(time.DateOnly)).ok(t)

	// Before: the old certificate acts, the new one is refused.
	e.send(t, "old", "smp-read.xml", nil).ok(t)
	e.send(t, "new", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.send(t, "new", "participant-createlist.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")

	// The successor cannot hand back to the old certificate: from the moment, that one is replaced.
	e.prepareChange(t, "new", old, at.Format(time.DateOnly)).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] The new certificate "+pki.Identity(old.Cert)+" is itself replaced by "+pki.Identity(nu.Cert))

	// One second before the moment nothing has changed; at the moment only the new certificate owns the SMP.
	clk.set(at.Add(-time.Second))
	e.send(t, "new", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	clk.set(at)
	e.send(t, "old", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.send(t, "old", "participant-createlist.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.send(t, "old", "smp-create-b.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] The certificate ")
	e.send(t, "new", "smp-read.xml", nil).ok(t)
	e.send(t, "new", "participant-createlist.xml", nil).ok(t)
	e.send(t, "new", "smp-update.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "Meta:SMP", "https://smp-a2.example.org/")
	e.wantNAPTR(t, "9915:list-1", "Meta:SMP", "https://smp-a2.example.org/")
}

// The successor is issued by a second CA that the domain also trusts (the G2 to G3 move), and the request has no
// migrationDate: the change takes effect at the successor's NotBefore.
func TestPrepareChangeCertificateOtherIssuer(t *testing.T) {
	real := time.Now().UTC()
	clk := &clock{t: real}
	ca2, err := pki.NewRoot("Signpost Test SMP CA G3", real.Add(-72*time.Hour), real.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{now: clk.now, clockAuth: true, domains: func(p *testPKI, ds []conf.Domain) {
		g3 := filepath.Join(p.dir, "ca-g3.pem") // a second file: trusted_issuers: [ca.pem, ca-g3.pem]
		if err := os.WriteFile(g3, pki.EncodeCertPEM(ca2.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
		ds[0].TrustedIssuers = append(ds[0].TrustedIssuers, g3)
	}})
	e.issueClient(t, nil, "old", "SMP Old", real.Add(-time.Hour), real.Add(72*time.Hour))
	nb := real.Add(2 * time.Hour).Truncate(time.Second)
	nu := e.issueClient(t, ca2, "new", "SMP New G3", nb, real.Add(96*time.Hour))
	e.send(t, "old", "smp-create.xml", nil).ok(t)
	e.send(t, "old", "participant-create.xml", nil).ok(t)
	e.prepareChange(t, "old", nu, "").ok(t)

	clk.set(nb.Add(-time.Second))
	e.send(t, "old", "smp-read.xml", nil).ok(t)
	e.send(t, "new", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ") // not yet valid
	clk.set(nb)
	e.send(t, "old", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.send(t, "new", "smp-read.xml", nil).ok(t)
	e.send(t, "new", "participant-delete.xml", nil).ok(t)
	e.wantNAPTR(t, "9915:test-a1", "", "")
}

// ChangeCertificate is the domain authority's: an SMP's own certificate is refused; the authority gives the SMP
// to the new certificate at once.
func TestChangeCertificate(t *testing.T) {
	e := newEnv(t, envOptions{domains: func(p *testPKI, ds []conf.Domain) {
		ds[0].Authority = []string{pki.Identity(p.clients["smp-b"].Cert)}
	}})
	now := time.Now()
	nu := e.issueClient(t, nil, "new", "SMP New", now.Add(-time.Hour), now.Add(24*time.Hour))
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	body := bytes.Replace(soaptest.Request(t, "bdmsl-change-certificate.xml"), []byte("bm90IGEgY2VydA=="),
		[]byte(base64.StdEncoding.EncodeToString(nu.Cert.Raw)), 1)
	action := ptr(soapmsg.OpChangeCertificate.SOAPAction())
	e.post(t, "smp-a", "/bdmslservice", body, action, nil).fault(t, status500, soapmsg.FaultUnauthorized,
		"[ERR-101] Only the SML authority of domain sml.test. may call ChangeCertificate")
	e.send(t, "new", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	bad := soaptest.Request(t, "bdmsl-change-certificate.xml") // "not a cert", base64
	e.post(t, "smp-b", "/bdmslservice", bad, action, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The newCertificatePublicKey is not a certificate")
	foreign := bytes.Replace(soaptest.Request(t, "bdmsl-change-certificate.xml"), []byte("bm90IGEgY2VydA=="),
		[]byte(base64.StdEncoding.EncodeToString(e.pki.clients["foreign"].Cert.Raw)), 1)
	e.post(t, "smp-b", "/bdmslservice", foreign, action, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] The new certificate is refused")
	missing := bytes.Replace(body, []byte(">SMP-A<"), []byte(">SMP-X<"), 1)
	e.post(t, "smp-b", "/bdmslservice", missing, action, nil).fault(t, status500, soapmsg.FaultNotFound, "[ERR-100] ")

	e.post(t, "smp-b", "/bdmslservice", body, action, nil).ok(t)
	e.send(t, "new", "smp-read.xml", nil).ok(t)
	e.send(t, "smp-a", "smp-read.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
}

// ListParticipants answers the caller's participants of all its SMPs, and only its own; above the maximum a
// BadRequestFault points to the paged List.
func TestListParticipants(t *testing.T) {
	e := newEnv(t, envOptions{listMax: 4})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-b", "smp-create-b.xml", nil).ok(t)
	var out soapmsg.ListParticipantsOut
	r := e.send(t, "smp-a", "bdmsl-list-participants.xml", &out).ok(t)
	if len(out.Participants) != 0 {
		t.Errorf("empty list = %+v", out)
	}
	e.send(t, "smp-a", "participant-create.xml", nil).ok(t)
	e.send(t, "smp-a", "participant-createlist.xml", nil).ok(t)
	body := bytes.Replace(soaptest.Request(t, "participant-create.xml"), []byte(">SMP-A<"), []byte(">SMP-B<"), 1)
	body = bytes.Replace(body, []byte("9915:test-a1"), []byte("9915:test-b1"), 1)
	e.post(t, "smp-b", "/manageparticipantidentifier", body, nil, nil).ok(t)

	out = soapmsg.ListParticipantsOut{}
	r = e.send(t, "smp-a", "bdmsl-list-participants.xml", &out).ok(t)
	soaptest.Validate(t, soaptest.BodyElement(t, r.body), "BDMSLService-full-2018.xsd")
	var got []string
	for _, p := range out.Participants {
		got = append(got, p.SMPID+" "+p.Participant.Scheme+"::"+p.Participant.Value)
	}
	if len(got) != 4 || strings.Contains(strings.Join(got, ","), "test-b1") || !strings.Contains(strings.Join(got, ","), "SMP-A iso6523-actorid-upis::9915:test-a1") {
		t.Errorf("ListParticipants = %v", got)
	}
	out = soapmsg.ListParticipantsOut{}
	e.send(t, "smp-b", "bdmsl-list-participants.xml", &out).ok(t)
	if len(out.Participants) != 1 || out.Participants[0].Participant.Value != "9915:test-b1" || out.Participants[0].SMPID != "SMP-B" {
		t.Errorf("ListParticipants of SMP B = %+v", out)
	}

	e.send(t, "smp-a", "bdmsl-create-participant.xml", nil).ok(t) // the fifth
	e.send(t, "smp-a", "bdmsl-list-participants.xml", nil).fault(t, status500, soapmsg.FaultBadRequest,
		"[ERR-106] Your SMPs have more than 4 participants, the most ListParticipants answers; list them per SMP with the paged List")
	e.send(t, "none", "bdmsl-list-participants.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
}

// ClearCache succeeds (there is no cache) for an authenticated caller; IsAlive needs no certificate.
func TestClearCacheAndIsAlive(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "bdmsl-clear-cache.xml", nil).ok(t)
	e.send(t, "none", "bdmsl-clear-cache.xml", nil).fault(t, status500, soapmsg.FaultUnauthorized, "[ERR-101] ")
	e.send(t, "none", "bdmsl-isalive.xml", nil).ok(t)
}

// The serviceName of BDMSL CreateParticipantIdentifier must be an RFC 3958 service field: a URL is refused.
func TestServiceNameIsRFC3958(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	e.send(t, "smp-a", "bdmsl-create-participant-url.xml", nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")
	e.wantNAPTR(t, "9915:test-a2", "", "")
	for _, svc := range []string{"Meta:SMP", "oasis-bdxr-smp-2#dbnalliance-1.1", "x-test+v2:proto.1_b"} {
		body := bytes.Replace(soaptest.Request(t, "bdmsl-create-participant-url.xml"), []byte("https://smp-a.example.org/smp"), []byte(svc), 1)
		e.post(t, "smp-a", "/bdmslservice", body, nil, nil).ok(t)
		e.wantNAPTR(t, "9915:test-a2", svc, "http://smp-a.example.org")
		del := bytes.Replace(soaptest.Request(t, "participant-delete.xml"), []byte("9915:test-a1"), []byte("9915:test-a2"), 1)
		e.post(t, "smp-a", "/manageparticipantidentifier", del, nil, nil).ok(t)
	}
	for _, svc := range []string{"https://smp.example.org", "Meta SMP", "Meta::SMP", "9meta", "meta:" + strings.Repeat("a", 33)} {
		body := bytes.Replace(soaptest.Request(t, "bdmsl-create-participant-url.xml"), []byte("https://smp-a.example.org/smp"), []byte(svc), 1)
		e.post(t, "smp-a", "/bdmslservice", body, nil, nil).fault(t, status500, soapmsg.FaultBadRequest, "[ERR-106] ")
	}
}

// A ListParticipants answer larger than the handler's write buffer is streamed whole.
func TestListParticipantsStreamed(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.send(t, "smp-a", "smp-create.xml", nil).ok(t)
	a := sml.Caller{Identity: pki.Identity(e.pki.clients["smp-a"].Cert), Domain: zoneName}
	const n = 700
	for i := 0; i < n; i += sml.MaxBatch {
		ps := make([]sml.ParticipantSpec, sml.MaxBatch)
		for j := range ps {
			ps[j] = sml.ParticipantSpec{ID: identifier.ID{Scheme: "iso6523-actorid-upis", Value: fmt.Sprintf("9915:s%05d", i+j)}}
		}
		if err := e.svc.CreateParticipants(context.Background(), a, "SMP-A", ps); err != nil {
			t.Fatal(err)
		}
	}
	var out soapmsg.ListParticipantsOut
	r := e.send(t, "smp-a", "bdmsl-list-participants.xml", &out).ok(t)
	if len(r.body) < 64<<10 || len(out.Participants) != n {
		t.Fatalf("%d bytes, %d participants, want %d", len(r.body), len(out.Participants), n)
	}
	for i, p := range out.Participants {
		if want := fmt.Sprintf("9915:s%05d", i); p.Participant.Value != want || p.SMPID != "SMP-A" {
			t.Fatalf("participant %d = %+v, want %s", i, p, want)
		}
	}
}
