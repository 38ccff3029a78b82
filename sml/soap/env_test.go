package soap_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/sml/dnsserver"
	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/soap/soaptest"
	"github.com/signpost-project/signpost/sml/soapmsg"
	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store"
	"github.com/signpost-project/signpost/store/storetest"
)

const zoneName = "sml.test."

// testPKI is a throwaway PKI: the domain's SMP CA, a foreign CA, and certificates issued by them.
type testPKI struct {
	dir     string
	ca      *pki.Authority
	caFile  string
	server  *pki.KeyPair
	clients map[string]*pki.KeyPair // smp-a, smp-b, foreign, expired
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("Signpost Test SMP CA", now.Add(-72*time.Hour), now.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.NewRoot("Foreign CA", now.Add(-72*time.Hour), now.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca, clients: map[string]*pki.KeyPair{}}
	p.caFile = filepath.Join(p.dir, "ca.pem")
	if err := os.WriteFile(p.caFile, pki.EncodeCertPEM(ca.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	issue := func(a *pki.Authority, spec pki.LeafSpec) *pki.KeyPair {
		kp, err := a.Issue(spec)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	valid := func(prof pki.Profile, cn string, hosts ...string) pki.LeafSpec {
		return pki.LeafSpec{Profile: prof, CommonName: cn, Organization: "Signpost Test", Country: "BE", Hosts: hosts,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	}
	p.server = issue(ca, valid(pki.TLSServer, "sml.test", "127.0.0.1", "localhost"))
	p.clients["smp-a"] = issue(ca, valid(pki.SMPCert, "SMP A"))
	p.clients["smp-b"] = issue(ca, valid(pki.SMPCert, "SMP B"))
	p.clients["foreign"] = issue(foreign, valid(pki.SMPCert, "SMP A"))
	exp := valid(pki.SMPCert, "SMP Expired")
	exp.NotBefore, exp.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	p.clients["expired"] = issue(ca, exp)
	return p
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// auditLines returns the decoded audit lines (audit=true, whatever their message) logged so far.
func (s *syncBuffer) auditLines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["audit"] == true {
			out = append(out, m)
		}
	}
	return out
}

// env is a running SML: store, Service, DNS server and the HTTPS management listener, with a client per
// certificate.
type env struct {
	pki     *testPKI
	db      *store.DB
	svc     *sml.Service
	dns     *dnsserver.Server
	dnsAddr string
	base    string
	log     *syncBuffer
	clients map[string]*http.Client
	roots   *x509.CertPool
	mk      func(kp *pki.KeyPair) *http.Client // a client with kp's certificate (nil: none)
}

type envOptions struct {
	faultStatus  soap.FaultStatus
	maxBodyBytes int64
	backend      soap.Backend                    // replaces the Service (failing fakes)
	wrap         func(soap.Backend) soap.Backend // wraps the Service (faults injected into some calls)
	dbPath       string
	// domains, when set, changes the test domains before the Service starts (wildcard owners, authorities).
	domains func(p *testPKI, ds []conf.Domain)
	// now is the clock of the Service (default time.Now), and of the authenticator when clockAuth is set; listMax
	// is Options.ListParticipantsMax.
	now          func() time.Time
	clockAuth    bool
	listMax      int
	requireHTTPS bool // domains[].require_https
}

func testDomains(t testing.TB, caFile string) []conf.Domain {
	t.Helper()
	c := &conf.SML{Domains: []conf.Domain{{Zone: zoneName, Records: []string{"naptr", "cname"}, TrustedIssuers: conf.Files{caFile}}}}
	c.Defaults()
	return c.Domains
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{pki: newPKI(t), log: &syncBuffer{}, clients: map[string]*http.Client{}}
	log := slog.New(slog.NewJSONHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.dbPath != "" {
		e.db = storetest.OpenPath(t, o.dbPath)
	} else {
		e.db = storetest.Open(t)
	}
	var (
		mu  sync.Mutex
		srv *dnsserver.Server
	)
	domains := testDomains(t, e.pki.caFile)
	domains[0].RequireHTTPS = o.requireHTTPS
	if o.domains != nil {
		o.domains(e.pki, domains)
	}
	svc, err := sml.New(boltrepo.New(e.db), domains, sml.Options{Log: log, Now: o.now, OnChange: func(c zone.Change) {
		mu.Lock()
		s := srv
		mu.Unlock()
		if s != nil {
			s.Apply(c)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	dsrv, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0"}, svc, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := dsrv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	srv = dsrv
	mu.Unlock()
	e.dns = dsrv
	udp, _ := dsrv.Addr()
	e.dnsAddr = udp.String()
	t.Cleanup(func() { _ = dsrv.Shutdown(context.Background()) })

	var authNow func() time.Time
	if o.clockAuth {
		authNow = o.now
	}
	auth, err := soap.NewCertAuthenticator(svc.Domains(), authNow)
	if err != nil {
		t.Fatal(err)
	}
	var b soap.Backend = svc
	if o.backend != nil {
		b = o.backend
	}
	if o.wrap != nil {
		b = o.wrap(b)
	}
	h := soap.NewHandler(b, auth, soap.Options{Log: log, FaultStatus: o.faultStatus, MaxBodyBytes: o.maxBodyBytes,
		ListParticipantsMax: o.listMax})
	hs := soap.NewHTTP("127.0.0.1:0", e.pki.server, h, soap.Timeouts{}, log, func(err error) { t.Errorf("serve: %v", err) })
	if err := hs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hs.Shutdown(context.Background()) })
	e.base = "https://" + hs.Addr().String()

	e.roots = x509.NewCertPool()
	e.roots.AddCert(e.pki.ca.Cert)
	e.mk = func(kp *pki.KeyPair) *http.Client {
		roots := e.roots
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if kp != nil {
			tc.Certificates = []tls.Certificate{kp.TLSCertificate()}
		}
		tr := &http.Transport{TLSClientConfig: tc, MaxIdleConnsPerHost: 16}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	e.clients["none"] = e.mk(nil)
	for name, kp := range e.pki.clients {
		e.clients[name] = e.mk(kp)
	}
	return e
}

// result is one HTTP exchange.
type result struct {
	status int
	body   []byte
	resp   *soapmsg.Response
}

// post sends body to path with the client's certificate. action nil: no SOAPAction header.
func (e *env) post(t testing.TB, client, path string, body []byte, action *string, into any) result {
	t.Helper()
	r, err := e.try(client, path, body, action, into)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// try is post for other goroutines than the test's: it returns errors instead of failing the test.
func (e *env) try(client, path string, body []byte, action *string, into any) (result, error) {
	req, err := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if action != nil {
		req.Header.Set("SOAPAction", `"`+*action+`"`)
	}
	resp, err := e.clients[client].Do(req)
	if err != nil {
		return result{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	r := result{status: resp.StatusCode, body: data}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		r.resp, err = soapmsg.DecodeResponse(bytes.NewReader(data), soapmsg.Limits{}, into)
		if err != nil {
			return r, fmt.Errorf("response is not a SOAP envelope: %w\n%s", err, data)
		}
	}
	return r, nil
}

// succeeded reports whether r is a successful response.
func (r result) succeeded() bool {
	return r.status == http.StatusOK && r.resp != nil && r.resp.Fault == nil
}

// send posts a testdata request to the endpoint of its operation with the WSDL's SOAPAction.
func (e *env) send(t testing.TB, client, file string, into any) result {
	t.Helper()
	body := soaptest.Request(t, file)
	req, err := soapmsg.DecodeRequest(bytes.NewReader(body), soapmsg.Limits{})
	if err != nil {
		t.Fatalf("testdata %s: %v", file, err)
	}
	action := req.Op.SOAPAction()
	return e.post(t, client, req.Op.Service().Path(), body, &action, into)
}

// ok fails unless r is a successful response.
func (r result) ok(t testing.TB) result {
	t.Helper()
	if r.status != http.StatusOK || r.resp == nil || r.resp.Fault != nil {
		t.Fatalf("want success, got HTTP %d:\n%s", r.status, r.body)
	}
	return r
}

// fault fails unless r is a fault of kind whose string starts with prefix; it also validates the detail element
// against the schema.
func (r result) fault(t testing.TB, status int, kind soapmsg.FaultKind, prefix string) *soapmsg.Fault {
	t.Helper()
	if r.resp == nil || r.resp.Fault == nil {
		t.Fatalf("want a fault, got HTTP %d:\n%s", r.status, r.body)
	}
	f := r.resp.Fault
	if r.status != status || f.Kind != kind || !strings.HasPrefix(f.String, prefix) {
		t.Fatalf("fault HTTP %d %s %q, want HTTP %d %s starting %q", r.status, f.Kind.Element(), f.String, status, kind.Element(), prefix)
	}
	wantCode := soapmsg.CodeClient
	if kind == soapmsg.FaultInternal {
		wantCode = soapmsg.CodeServer
	}
	if f.Code != wantCode || f.Message != f.String {
		t.Errorf("fault code %q message %q", f.Code, f.Message)
	}
	s := string(r.body)
	i, j := strings.Index(s, "<detail>"), strings.Index(s, "</detail>")
	if i < 0 || j < 0 {
		t.Fatalf("fault without detail:\n%s", s)
	}
	soaptest.Validate(t, []byte(s[i+len("<detail>"):j]), "peppol-sml-types-v1.xsd")
	return f
}

// dig asks the SML's DNS server with dig and returns the answer section's data for name and type, sorted as dig
// prints them; rcode is NOERROR, NXDOMAIN...
func (e *env) dig(t testing.TB, name, qtype string) (rcode string, answers []string) {
	t.Helper()
	if _, err := exec.LookPath("dig"); err != nil {
		t.Fatal("dig is not installed (apt-get install bind9-dnsutils)")
	}
	host, port, _ := strings.Cut(e.dnsAddr, ":")
	out, err := exec.Command("dig", "@"+host, "-p", port, "+norec", "+time=2", "+tries=2", name, qtype).CombinedOutput()
	if err != nil {
		t.Fatalf("dig: %v\n%s", err, out)
	}
	section := ""
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "status: "); i >= 0 {
			rcode = strings.TrimSuffix(strings.Fields(line[i+len("status: "):])[0], ",")
		}
		if strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, "SECTION:") {
			section = line
			continue
		}
		if section == ";; ANSWER SECTION:" && strings.TrimSpace(line) != "" {
			f := strings.Fields(line)
			if len(f) >= 5 && strings.EqualFold(f[3], qtype) {
				answers = append(answers, strings.Join(f[4:], " "))
			}
		}
		if strings.TrimSpace(line) == "" {
			section = ""
		}
	}
	return rcode, answers
}

func naptrName(value string) string {
	return identifier.NAPTRName(identifier.ID{Scheme: "iso6523-actorid-upis", Value: value}, zoneName, identifier.SchemeLabel)
}

// wantNAPTR checks the participant's NAPTR answer: absent when url is "".
func (e *env) wantNAPTR(t testing.TB, value, service, url string) {
	t.Helper()
	rcode, ans := e.dig(t, naptrName(value), "NAPTR")
	if url == "" {
		if rcode != "NXDOMAIN" {
			t.Errorf("participant %s: %s %v, want NXDOMAIN", value, rcode, ans)
		}
		return
	}
	want := `100 10 "U" "` + service + `" "!^.*$!` + url + `!" .`
	if rcode != "NOERROR" || len(ans) != 1 || ans[0] != want {
		t.Errorf("participant %s: %s %v, want %s", value, rcode, ans, want)
	}
}

func ptr(s string) *string { return &s }
