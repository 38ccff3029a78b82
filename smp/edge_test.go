package smp_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/hostilehttp"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// The public port's edges: the hostile inputs of the review answered as net/http answers them, a panic contained
// to its request, running out of file descriptors survived, and failed logins limited per client address.

func demoPath() string { return "/" + seg(demoParticipant) + "/services/" + seg(demoDocType) }

// TestHostileHTTP: every hostile case gets what a plain net/http server with the same handler answers.
func TestHostileHTTP(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	hostilehttp.Suite{Target: hostilehttp.Target{Path: demoPath()}, Reference: f.srv.Handler, ReadHeaderTimeout: 5 * time.Second}.
		Compare(t, strings.TrimPrefix(f.base, "http://"))
}

// TestAcceptExhaustion: after the SMP's listener ran out of file descriptors, it accepts again and answers.
func TestAcceptExhaustion(t *testing.T) {
	hostilehttp.AcceptExhaustion(t, hostilehttp.Exhaustion{
		Target: hostilehttp.Target{Path: demoPath()},
		Handler: func(t testing.TB) http.Handler {
			f := newFixture(t, fixtureOpts{})
			f.seed(demoDocType)
			return f.srv.Handler
		},
	})
}

// panicking is a Credentials whose Authenticate panics.
type panicking struct{ httpapi.Credentials }

func (panicking) Authenticate(context.Context, string) (smp.Principal, error) { panic("injected") }

// TestPanicContained: a handler that panics answers 500 for its request; the next request is served.
func TestPanicContained(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	h := httpapi.Public(httpapi.Options{SMP: f.svc, Creds: panicking{}, Write: true, Registerer: prometheus.NewRegistry()})
	f.srv.Handler = h
	r, _ := f.do(http.MethodDelete, demoPath())
	if r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("panicking DELETE: %d, want 500", r.StatusCode)
	}
	if r, _ := f.get(demoPath()); r.StatusCode != http.StatusOK {
		t.Fatalf("GET after the panic: %d", r.StatusCode)
	}
}

// TestFailedLoginsLimited: the 11th wrong credential within a minute from one address is 429 with Retry-After,
// even with a right one; another address is not affected.
func TestFailedLoginsLimited(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewRoot("Limit CA", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafSpec{Profile: pki.SMPCert, CommonName: "limit", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	repo := testRepo(t)
	svc, err := smp.New(context.Background(), repo, smp.Options{PublicURL: "http://smp.test", Flavour: smp.PEPPOL, Policy: identifier.PEPPOL,
		Binding: xmlbind.Binding{}, Key: leaf.Key, Chain: []*x509.Certificate{leaf.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	creds := auth.New(repo, nil)
	tok, _, err := creds.CreateToken(context.Background(), "alice", true)
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Public(httpapi.Options{SMP: svc, Creds: creds, Write: true, Limiter: ratelimit.New(ratelimit.Config{Failures: 10, Window: time.Minute})})
	do := func(addr, token string) *http.Response {
		req, _ := http.NewRequest(http.MethodDelete, "http://smp.test"+demoPath(), nil)
		req.RequestURI = demoPath()
		req.RemoteAddr = addr
		req.Header.Set("Authorization", "Bearer "+token)
		w := &recorder{h: http.Header{}}
		h.ServeHTTP(w, req)
		return &http.Response{StatusCode: w.code, Header: w.h}
	}
	// Many valid requests at once from one address (a parallel uploader, a NAT) are never limited: only refused
	// credentials count.
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for range 40 {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- do("192.0.2.1:1000", tok).StatusCode }()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusNotFound {
			t.Fatalf("a valid request among 40 at once: %d, want 404 (no such group)", c)
		}
	}
	for i := range 10 {
		if r := do("192.0.2.1:1000", "wrong"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, r.StatusCode)
		}
	}
	r := do("192.0.2.1:1000", tok)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt: %d Retry-After %q, want 429 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := do("192.0.2.2:1000", tok); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another address with a valid token: %d, want 404 (no such group)", r.StatusCode)
	}
}

type recorder struct {
	h    http.Header
	code int
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return len(b), nil
}
func (w *recorder) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
}
