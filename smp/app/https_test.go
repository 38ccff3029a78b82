package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/hostilehttp"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/recovery"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestHTTPSWithHTTP2: with http.tls set, the same routes answer over TLS, HTTP/2 is negotiated, and the bytes are
// those of the plain read path (one code path); a HTTP/1.1 client gets the same answer.
func TestHTTPSWithHTTP2(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewRoot("HTTPS Test CA", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	signer := issue(t, ca, "SMP https signer")
	server, err := ca.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "127.0.0.1", Hosts: []string{"127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	sc, sk, tc, tk := filepath.Join(dir, "s.pem"), filepath.Join(dir, "s-key.pem"), filepath.Join(dir, "t.pem"), filepath.Join(dir, "t-key.pem")
	if err := signer.WriteFiles(sc, sk); err != nil {
		t.Fatal(err)
	}
	if err := server.WriteFiles(tc, tk); err != nil {
		t.Fatal(err)
	}
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", sc, sk))
	cfg.HTTP.TLS.Cert, cfg.HTTP.TLS.Key = tc, tk
	ctx := context.Background()
	a, err := smpapp.New(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := smpapp.SeedDemo(ctx, a.Service(), signer.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	serve(t, a)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	path := "/" + identifier.EncodeSegment(smpapp.DemoParticipant) + "/services/" + identifier.EncodeSegment(smpapp.DemoDocumentType)
	stored, err := a.Service().Lookup(ctx, a.Service().RootFlavour(), mustParse(t, identifier.Participant, smpapp.DemoParticipant), mustParse(t, identifier.DocumentType, smpapp.DemoDocumentType))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		proto string
		tr    *http.Transport
	}{
		{"HTTP/2", "HTTP/2.0", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}},
		{"HTTP/1.1", "HTTP/1.1", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := (&http.Client{Transport: c.tr}).Get("https://" + a.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Proto != c.proto || string(body) != string(stored.Body) || resp.Header.Get("ETag") != stored.ETag {
				t.Fatalf("%d %s ETag %q: not the stored document (%d bytes)", resp.StatusCode, resp.Proto, resp.Header.Get("ETag"), len(body))
			}
		})
	}
}

// TestResignerPanicRestarts: a panic in the background re-signer is contained, counted, and the pass runs again
// after a backoff; the documents end up signed by the new key.
func TestResignerPanicRestarts(t *testing.T) {
	ca, leaf, dir, certFile, keyFile := newSigner(t, "App Test CA", "SMP signer")
	ctx := context.Background()
	a, err := smpapp.New(ctx, config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := smpapp.SeedDemo(ctx, a.Service(), leaf.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	var panics atomic.Int32
	smpapp.SetResignPanic(func() {
		if panics.Add(1) == 1 {
			panic("injected")
		}
	})
	t.Cleanup(func() { smpapp.SetResignPanic(nil) })
	before := recovery.Count("smp_resigner")
	next := issue(t, ca, "SMP signer, next")
	if err := next.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	if changed, err := a.ReloadSigningKey(); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	a.WaitResign()
	if panics.Load() < 2 {
		t.Fatalf("the re-signer ran %d times; want a second pass after the panic", panics.Load())
	}
	if recovery.Count("smp_resigner") != before+1 {
		t.Errorf("panics counted: %v, want %v", recovery.Count("smp_resigner"), before+1)
	}
	if a.Service().Stale() || a.Service().Certificate().Equal(leaf.Cert) {
		t.Fatal("not re-signed with the new key after the restart")
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

// TestHostileHTTPOnTheServedPort: the hostile requests of the review, sent to the port `smp serve` listens on
// (lifecycle.HTTP with its write coalescing), get what a plain net/http server with the same handler answers.
func TestHostileHTTPOnTheServedPort(t *testing.T) {
	_, leaf, dir, certFile, keyFile := newSigner(t, "App Test CA", "SMP signer")
	ctx := context.Background()
	a, err := smpapp.New(ctx, config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := smpapp.SeedDemo(ctx, a.Service(), leaf.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	serve(t, a)
	path := "/" + identifier.EncodeSegment(smpapp.DemoParticipant) + "/services/" + identifier.EncodeSegment(smpapp.DemoDocumentType)
	hostilehttp.Suite{Target: hostilehttp.Target{Path: path}, Reference: a.Handler(), ReadHeaderTimeout: 10 * time.Second}.Compare(t, a.Addr())
}
