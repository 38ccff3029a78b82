package soapmsg_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/sml/soapmsg"
)

// smlStub is a real mutual-TLS listener on 127.0.0.1 standing in for an SML: it records what the client sent and
// answers with a literal envelope from testdata/soap/responses and the status the test chose.
type smlStub struct {
	srv     *httptest.Server
	ca      *pki.Authority
	client  tls.Certificate
	mu      sync.Mutex
	calls   []call
	status  int
	body    []byte
	delay   time.Duration
	block   chan struct{}
	conns   int
	active  int
	maxBusy int
}

type call struct {
	path, contentType, peer string
	actions                 []string
	req                     *soapmsg.Request
}

func newSMLStub(t *testing.T) *smlStub {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewRoot("Client Test CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	srvLeaf, err := ca.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "sml stub", Hosts: []string{"127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cliLeaf, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "SMP client", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	s := &smlStub{ca: ca, status: http.StatusOK, body: response(t, "ok-empty.xml")}
	s.client = (&pki.KeyPair{Cert: cliLeaf.Cert, Key: cliLeaf.Key, Chain: cliLeaf.Chain}).TLSCertificate()
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{(&pki.KeyPair{Cert: srvLeaf.Cert, Key: srvLeaf.Key}).TLSCertificate()},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *smlStub) serve(w http.ResponseWriter, r *http.Request) {
	c := call{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), actions: r.Header.Values("SOAPAction")}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c.peer = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	c.req, _ = soapmsg.DecodeRequest(r.Body, soapmsg.Limits{})
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.active++
	s.maxBusy = max(s.maxBusy, s.active)
	status, body, delay, block := s.status, s.body, s.delay, s.block
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.active--; s.mu.Unlock() }()
	if block != nil {
		// Nothing is answered until the test releases it, whatever the client does meanwhile. (Returning when the
		// request's context ended answered 200 with an empty body, which once reached a client that had timed
		// out, as a malformed answer.)
		<-block
	}
	time.Sleep(delay)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *smlStub) answer(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

func (s *smlStub) lastCall(t *testing.T) call {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		t.Fatal("the SML received no call")
	}
	return s.calls[len(s.calls)-1]
}

func (s *smlStub) newClient(o soapmsg.TransportOptions) *soapmsg.Client {
	if o.Roots == nil {
		o.Roots = s.ca.Pool()
	}
	return soapmsg.NewClient(s.srv.URL+"/edelivery-sml/", o)
}

func response(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "soap", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClientOnTheWire: what the client sends, as a real listener records it: the service path under the base URL,
// text/xml, the SMP's certificate, and the SOAPAction header; the participant service's in the nine-space form the
// EC's SML expects (DIGEST 1.4), quoted.
func TestClientOnTheWire(t *testing.T) {
	s := newSMLStub(t)
	c := s.newClient(soapmsg.TransportOptions{Certificate: &s.client})
	ctx := context.Background()
	if err := c.CreateParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:wire"); err != nil {
		t.Fatal(err)
	}
	got := s.lastCall(t)
	const wantAction = `"http://busdox.org/serviceMetadata/ManageBusinessIdentifierService/1.0/         :createIn"`
	if len(got.actions) != 1 || got.actions[0] != wantAction {
		t.Errorf("SOAPAction = %q, want %q", got.actions, wantAction)
	}
	if got.path != "/edelivery-sml/manageparticipantidentifier" || got.contentType != "text/xml; charset=utf-8" || got.peer != "SMP client" {
		t.Errorf("path %q, content type %q, peer %q", got.path, got.contentType, got.peer)
	}
	p, ok := got.req.Body.(*soapmsg.ParticipantForSMP)
	if got.req == nil || got.req.Op != soapmsg.OpCreateParticipant || !ok || p.SMPID != "SMP-TEST" || p.Participant.Value != "9915:wire" {
		t.Errorf("request = %+v", got.req)
	}
	if err := c.DeleteParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:wire"); err != nil {
		t.Fatal(err)
	}
	if a := s.lastCall(t).actions; len(a) != 1 || a[0] != `"http://busdox.org/serviceMetadata/ManageBusinessIdentifierService/1.0/         :deleteIn"` {
		t.Errorf("delete SOAPAction = %q", a)
	}
	s.answer(http.StatusOK, response(t, "ok-read-smp.xml"))
	smp, err := c.ReadSMP(ctx, "SMP-TEST")
	if err != nil || smp.SMPID != "SMP-TEST" || smp.PublisherEndpoint.LogicalAddress != "https://smp.test" || smp.PublisherEndpoint.PhysicalAddress != "127.0.0.1" {
		t.Fatalf("ReadSMP = %+v, %v", smp, err)
	}
	got = s.lastCall(t)
	if len(got.actions) != 1 || got.actions[0] != `"http://busdox.org/serviceMetadata/ManageServiceMetadataService/1.0/:readIn"` ||
		got.path != "/edelivery-sml/manageservicemetadata" {
		t.Errorf("read: SOAPAction %q, path %q", got.actions, got.path)
	}
}

// TestClientFaultsAnyStatus: a fault envelope is parsed into *Fault whatever the status: SOAP's 500, or BDMSL's
// 400, 401 and 404 (and a 200 that carries one); a non-SOAP error page is an error that is not a fault.
func TestClientFaultsAnyStatus(t *testing.T) {
	s := newSMLStub(t)
	c := s.newClient(soapmsg.TransportOptions{Certificate: &s.client})
	ctx := context.Background()
	cases := []struct {
		file          string
		kind          soapmsg.FaultKind
		code, prefix  string
		alreadyExists bool
	}{
		{"fault-notfound-bdmsl.xml", soapmsg.FaultNotFound, "Server", "[ERR-100] The SMP 'SMP-MISSING' doesn't exist.", false},
		{"fault-badrequest-jaxws.xml", soapmsg.FaultBadRequest, "Client", "[ERR-106] The participant identifier 'iso6523-actorid-upis::9915:taken' already exist", true},
		{"fault-unauthorized-soapui.xml", soapmsg.FaultUnauthorized, "Client", "[ERR-101] The certificate is not authorized", false},
		{"fault-internal.xml", soapmsg.FaultInternal, "Server", "[ERR-105] Internal error", false},
		{"fault-nodetail.xml", 0, "Server", "Fault occurred while processing.", false},
	}
	for _, tc := range cases {
		for _, status := range []int{500, 400, 401, 404, 200} {
			s.answer(status, response(t, tc.file))
			err := c.CreateParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:taken")
			var f *soapmsg.Fault
			if !errors.As(err, &f) {
				t.Errorf("%s with HTTP %d: %v, want a *soapmsg.Fault", tc.file, status, err)
				continue
			}
			if f.Kind != tc.kind || f.Code != tc.code || !strings.HasPrefix(f.String, tc.prefix) ||
				(tc.kind != 0 && f.Message != f.String) {
				t.Errorf("%s with HTTP %d: %+v", tc.file, status, f)
			}
			if soapmsg.IsAlreadyExists(err) != tc.alreadyExists {
				t.Errorf("%s with HTTP %d: IsAlreadyExists = %v", tc.file, status, !tc.alreadyExists)
			}
		}
	}
	s.answer(http.StatusBadGateway, []byte("<html><body>502 Bad Gateway</body></html>"))
	err := c.CreateParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:taken")
	var f *soapmsg.Fault
	if err == nil || errors.As(err, &f) || !strings.Contains(err.Error(), "HTTP 502") {
		t.Errorf("error page: %v", err)
	}
	s.answer(http.StatusInternalServerError, response(t, "ok-empty.xml"))
	err = c.CreateParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:taken")
	if err == nil || errors.As(err, &f) || !strings.Contains(err.Error(), "HTTP 500 without a fault") {
		t.Errorf("500 without a fault: %v", err)
	}
}

// TestClientNeedsCertificate: without the SMP's certificate the handshake fails and no request reaches the SML;
// an SML certificate from an unknown CA is refused too.
func TestClientNeedsCertificate(t *testing.T) {
	s := newSMLStub(t)
	ctx := context.Background()
	err := s.newClient(soapmsg.TransportOptions{}).CreateParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:x")
	var f *soapmsg.Fault
	if err == nil || errors.As(err, &f) {
		t.Errorf("without a certificate: %v", err)
	}
	other, err := pki.NewRoot("Other CA", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	err = s.newClient(soapmsg.TransportOptions{Certificate: &s.client, Roots: other.Pool()}).CreateParticipant(ctx, "SMP-TEST", "iso6523-actorid-upis", "9915:x")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown server CA: %v", err)
	}
	s.mu.Lock()
	n := len(s.calls)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d requests reached the SML", n)
	}
}

// TestClientTimeout: an SML that does not answer makes the call fail with a timeout (sml.timeout).
func TestClientTimeout(t *testing.T) {
	s := newSMLStub(t)
	release := make(chan struct{})
	defer close(release)
	s.mu.Lock()
	s.block = release
	s.mu.Unlock()
	c := s.newClient(soapmsg.TransportOptions{Certificate: &s.client, Timeout: 300 * time.Millisecond})
	err := c.CreateParticipant(context.Background(), "SMP-TEST", "iso6523-actorid-upis", "9915:slow")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

// TestClientPool: with max_connections 1, concurrent calls share one connection and reach the SML one at a time;
// later calls reuse it. With 3, the same burst opens more than one.
func TestClientPool(t *testing.T) {
	burst := func(t *testing.T, maxConns int) (conns, busy int) {
		s := newSMLStub(t)
		s.delay = 30 * time.Millisecond
		c := s.newClient(soapmsg.TransportOptions{Certificate: &s.client, MaxConnections: maxConns})
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.CreateParticipant(context.Background(), "SMP-TEST", "iso6523-actorid-upis", "9915:pool")
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := c.CreateParticipant(context.Background(), "SMP-TEST", "iso6523-actorid-upis", "9915:again"); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.conns, s.maxBusy
	}
	if conns, busy := burst(t, 1); conns != 1 || busy != 1 {
		t.Errorf("max_connections 1: %d connections, %d calls at once", conns, busy)
	}
	if conns, _ := burst(t, 3); conns < 2 || conns > 3 {
		t.Errorf("max_connections 3: %d connections", conns)
	}
}
