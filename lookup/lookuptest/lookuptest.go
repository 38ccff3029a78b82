// Package lookuptest runs what a lookup talks to, on loopback, for tests: an authoritative DNS server
// (miekg/dns, UDP and TCP) serving records written as zone-file text, an SMP (net/http) serving documents
// signed by xmlsec1, and a throwaway PKI. It is for tests only.
package lookuptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/beevik/etree"
	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/xmldsig"
)

// DNS is an authoritative name server for one zone.
type DNS struct {
	Addr string // 127.0.0.1:port, UDP and TCP
	Zone string // fully qualified, lower case

	mu       sync.Mutex
	records  map[string][]dns.RR // by lower-case owner name
	servfail map[string]bool
	truncate bool
	queries  atomic.Int64
	tcp      atomic.Int64
}

// StartDNS serves zone (e.g. "sml.test") with the records of zoneText (zone-file lines; relative names are
// completed with the zone). It stops when the test ends.
func StartDNS(t testing.TB, zone, zoneText string) *DNS {
	t.Helper()
	d := &DNS{Zone: strings.ToLower(dns.Fqdn(zone)), records: map[string][]dns.RR{}, servfail: map[string]bool{}}
	d.Add(t, "@ 3600 IN SOA ns.@ hostmaster.@ 1 3600 600 86400 30")
	if zoneText != "" {
		d.Add(t, zoneText)
	}
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("no free UDP+TCP port pair: %v", err)
	}
	d.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(d.serve)
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	for _, s := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = udp.ShutdownContext(ctx)
		_ = tcp.ShutdownContext(ctx)
	})
	return d
}

// Add parses zone-file text ("@" and relative names are in the zone) and adds its records.
func (d *DNS) Add(t testing.TB, zoneText string) {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(zoneText), d.Zone, "")
	d.mu.Lock()
	defer d.mu.Unlock()
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := strings.ToLower(rr.Header().Name)
		d.records[name] = append(d.records[name], rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone text: %v", err)
	}
}

// Remove deletes every record of name (relative to the zone, or fully qualified).
func (d *DNS) Remove(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.records, d.fqdn(name))
}

// SetServfail makes the server answer SERVFAIL for name.
func (d *DNS) SetServfail(name string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.servfail[d.fqdn(name)] = on
}

// SetTruncate makes every UDP answer empty with the TC bit (the client must retry over TCP).
func (d *DNS) SetTruncate(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.truncate = on
}

// Queries returns the number of queries answered; TCPQueries those over TCP.
func (d *DNS) Queries() int64    { return d.queries.Load() }
func (d *DNS) TCPQueries() int64 { return d.tcp.Load() }

func (d *DNS) fqdn(name string) string {
	name = strings.ToLower(name)
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "." + d.Zone
}

func (d *DNS) serve(w dns.ResponseWriter, r *dns.Msg) {
	d.queries.Add(1)
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	if isTCP {
		d.tcp.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.servfail[name]:
		m.Rcode = dns.RcodeServerFailure
		m.Authoritative = false
	case name != d.Zone && !strings.HasSuffix(name, "."+d.Zone):
		m.Rcode = dns.RcodeRefused
		m.Authoritative = false
	case d.truncate && !isTCP:
		m.Truncated = true
	default:
		rrs, ok := d.records[name]
		if !ok {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, d.records[d.Zone][0])
			break
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || (rr.Header().Rrtype == dns.TypeCNAME && q.Qtype != dns.TypeCNAME) {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		if len(m.Answer) == 0 {
			m.Ns = append(m.Ns, d.records[d.Zone][0])
		}
	}
	_ = w.WriteMsg(m)
}

// ClosedAddr returns a loopback UDP address nobody listens on.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// ClosedURL returns an http URL on a loopback TCP port nobody listens on.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// SMP serves fixed documents by escaped path.
type SMP struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	docs     map[string]Doc
	requests atomic.Int64
	notMod   atomic.Int64
}

// Doc is one response.
type Doc struct {
	Status int // default 200
	Body   []byte
	Header http.Header
}

// StartSMP starts an SMP on 127.0.0.1; it stops when the test ends. Paths without a document answer 404.
// Responses with an ETag header honour If-None-Match.
func StartSMP(t testing.TB) *SMP {
	t.Helper()
	s := &SMP{docs: map[string]Doc{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// StartTLSSMP is StartSMP over HTTPS with cert (HTTP/2 offered, as a real SMP behind a web server does); URL is
// https://127.0.0.1:port, so cert must name the IP address 127.0.0.1.
func StartTLSSMP(t testing.TB, cert tls.Certificate) *SMP {
	t.Helper()
	s := &SMP{docs: map[string]Doc{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.EnableHTTP2 = true
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes a client refuses are what some tests expect
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.StartTLS()
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Put serves doc at the escaped path p (e.g. "/iso6523-actorid-upis%3A%3A9915%3Atest/services/...").
func (s *SMP) Put(p string, doc Doc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[p] = doc
}

// Delete stops serving p.
func (s *SMP) Delete(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, p)
}

// Requests returns the number of requests served; NotModified those answered 304.
func (s *SMP) Requests() int64    { return s.requests.Load() }
func (s *SMP) NotModified() int64 { return s.notMod.Load() }

func (s *SMP) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	doc, ok := s.docs[r.URL.EscapedPath()]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	for k, v := range doc.Header {
		w.Header()[k] = v
	}
	if et := doc.Header.Get("ETag"); et != "" && r.Header.Get("If-None-Match") == et {
		s.notMod.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	st := doc.Status
	if st == 0 {
		st = http.StatusOK
	}
	w.WriteHeader(st)
	_, _ = w.Write(doc.Body)
}

// PKI is a throwaway SMP CA with two SMP signing certificates, a foreign CA's certificate and an access
// point certificate.
type PKI struct {
	Root     *pki.Authority
	SMP1     *pki.KeyPair // CN=SMP-ONE
	SMP2     *pki.KeyPair // CN=SMP-TWO
	Foreign  *pki.KeyPair // issued by another root
	AP       *pki.KeyPair
	Expiring *pki.KeyPair // SMP certificate valid for one hour from creation
}

var (
	pkiOnce sync.Once
	pkiVal  *PKI
	pkiErr  error
)

// NewPKI returns the package's PKI, made once per test binary.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = makePKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

func makePKI() (*PKI, error) {
	now := time.Now()
	nb, na := now.Add(-24*time.Hour), now.Add(30*24*time.Hour)
	p := &PKI{}
	var err error
	if p.Root, err = pki.NewRoot("Signpost Test SMP CA", nb, na); err != nil {
		return nil, err
	}
	issue := func(ca *pki.Authority, prof pki.Profile, cn string, notAfter time.Time) (*pki.KeyPair, error) {
		return ca.Issue(pki.LeafSpec{Profile: prof, CommonName: cn, Organization: "Signpost Test", Country: "BE", NotBefore: nb, NotAfter: notAfter})
	}
	if p.SMP1, err = issue(p.Root, pki.SMPCert, "SMP-ONE", na); err != nil {
		return nil, err
	}
	if p.SMP2, err = issue(p.Root, pki.SMPCert, "SMP-TWO", na); err != nil {
		return nil, err
	}
	if p.AP, err = issue(p.Root, pki.AccessPoint, "AP-TEST", na); err != nil {
		return nil, err
	}
	if p.Expiring, err = issue(p.Root, pki.SMPCert, "SMP-EXPIRING", now.Add(time.Hour)); err != nil {
		return nil, err
	}
	other, err := pki.NewRoot("Foreign CA", nb, na)
	if err != nil {
		return nil, err
	}
	if p.Foreign, err = issue(other, pki.SMPCert, "SMP-FOREIGN", na); err != nil {
		return nil, err
	}
	return p, nil
}

// WriteRoots writes the root CA as a PEM file and returns its path.
func (p *PKI) WriteRoots(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trust.pem")
	if err := os.WriteFile(path, pki.EncodeCertPEM(p.Root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// CertBase64 returns the DER of kp's certificate in base64, as SMP documents carry it.
func CertBase64(kp *pki.KeyPair) string { return base64.StdEncoding.EncodeToString(kp.Cert.Raw) }

// Endpoint, Process and Metadata fill the templates of testdata/lookup.
type Endpoint struct {
	Profile, Address, Cert string
	Activation, Expiration string // as the flavour writes them; "" = none
}

type Process struct {
	Scheme, Value string
	Endpoints     []Endpoint
}

type Metadata struct {
	ParticipantScheme, ParticipantValue string
	DocScheme, DocValue                 string
	Processes                           []Process
	// Redirects (peppol-redirect.xml; oasis2-metadata.xml with RedirectURI).
	Href, CertificateUID      string
	RedirectURI, RedirectCert string
	// Service group (peppol-group.xml).
	Hrefs []string
}

// Render fills testdata/lookup/<name> with m (every string XML-escaped).
func Render(t testing.TB, name string, m Metadata) []byte {
	t.Helper()
	tmpl := template.Must(template.New(name).Funcs(template.FuncMap{}).Parse(string(readTemplate(t, name))))
	var b bytes.Buffer
	if err := tmpl.Execute(&b, escapeAll(m)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Sign renders testdata/lookup/<name> with m and signs it with `xmlsec1 --sign` and kp.
func Sign(t testing.TB, name string, m Metadata, kp *pki.KeyPair) []byte {
	t.Helper()
	return SignBytes(t, Render(t, name, m), kp)
}

// SignBytes signs a template document (with an empty ds:Signature) with `xmlsec1 --sign` and kp.
func SignBytes(t testing.TB, doc []byte, kp *pki.KeyPair) []byte {
	t.Helper()
	if _, err := exec.LookPath("xmlsec1"); err != nil {
		t.Fatalf("xmlsec1 is required (scripts/install-test-deps.sh): %v", err)
	}
	dir := t.TempDir()
	cert, key, in, out := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "in.xml"), filepath.Join(dir, "out.xml")
	if err := kp.WriteFiles(cert, key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("xmlsec1", "--sign", "--privkey-pem", key+","+cert, "--output", out, in)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s\n%s", err, msg, doc)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// SignXMLDSig renders the PEPPOL or OASIS 1.0 template testdata/lookup/<name> with m and signs it with the
// project's own signer (package xmldsig, profile smp1, the signature as the root's second child), as a
// signpost SMP does; the template's empty ds:Signature is removed first.
func SignXMLDSig(t testing.TB, name string, m Metadata, kp *pki.KeyPair) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(Render(t, name, m)); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc.Root().ChildElements() {
		if c.Tag == "Signature" {
			doc.Root().RemoveChild(c)
		}
	}
	s, err := xmldsig.NewSigner(kp.Key, append([]*x509.Certificate{kp.Cert}, kp.Chain...), xmldsig.ProfileSMP1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.SignEnveloped(doc, xmldsig.SecondChild)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func escapeAll(m Metadata) Metadata {
	e := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	out := m
	out.ParticipantScheme, out.ParticipantValue = e(m.ParticipantScheme), e(m.ParticipantValue)
	out.DocScheme, out.DocValue = e(m.DocScheme), e(m.DocValue)
	out.Href, out.CertificateUID, out.RedirectURI = e(m.Href), e(m.CertificateUID), e(m.RedirectURI)
	out.Processes = nil
	for _, p := range m.Processes {
		q := Process{Scheme: e(p.Scheme), Value: e(p.Value)}
		for _, ep := range p.Endpoints {
			q.Endpoints = append(q.Endpoints, Endpoint{Profile: e(ep.Profile), Address: e(ep.Address), Cert: ep.Cert,
				Activation: e(ep.Activation), Expiration: e(ep.Expiration)})
		}
		out.Processes = append(out.Processes, q)
	}
	out.Hrefs = nil
	for _, h := range m.Hrefs {
		out.Hrefs = append(out.Hrefs, e(h))
	}
	return out
}

// readTemplate reads testdata/lookup/<name> from the module root (found by walking up to go.mod).
func readTemplate(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(dir, "testdata", "lookup", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NAPTR returns the zone-file line of a U-NAPTR record pointing name at url.
func NAPTR(name, service, url string) string {
	return fmt.Sprintf(`%s 60 IN NAPTR 100 10 "U" "%s" "!^.*$!%s!" .`, name, service, url)
}

// Blackhole returns a loopback UDP address that receives queries and never answers (a DNS timeout).
func Blackhole(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}
