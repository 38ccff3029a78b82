package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

func tlsLeaf(t *testing.T, ca *pki.Authority, cn string, notBefore, notAfter time.Time) *pki.Leaf {
	t.Helper()
	l, err := ca.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: cn, Hosts: []string{"127.0.0.1", "smp.test"},
		NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// handshakes dials addr over and over until stop is closed (or n handshakes), and records the serial number of the
// certificate of each handshake in order, and every error.
type handshakes struct {
	mu      sync.Mutex
	serials []string
	errs    []error
	done    chan struct{}
	stop    chan struct{}
}

func startHandshakes(addr string, pool *x509.CertPool, n int) *handshakes {
	h := &handshakes{done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		defer close(h.done)
		for i := 0; i < n; i++ {
			select {
			case <-h.stop:
				return
			default:
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
				&tls.Config{RootCAs: pool, ServerName: "smp.test", NextProtos: []string{"h2"}})
			h.mu.Lock()
			if err != nil {
				h.errs = append(h.errs, err)
			} else {
				st := c.ConnectionState()
				h.serials = append(h.serials, st.PeerCertificates[0].SerialNumber.String())
				if st.Version < tls.VersionTLS12 || st.NegotiatedProtocol != "h2" {
					h.errs = append(h.errs, fmt.Errorf("TLS %x, ALPN %q: want TLS 1.2+ and h2", st.Version, st.NegotiatedProtocol))
				}
				_ = c.Close()
			}
			h.mu.Unlock()
		}
	}()
	return h
}

// until waits (bounded) for the last handshake to show serial.
func (h *handshakes) until(t *testing.T, serial string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		n := len(h.serials)
		last := ""
		if n > 0 {
			last = h.serials[n-1]
		}
		h.mu.Unlock()
		if last == serial {
			return
		}
		select {
		case <-h.done:
			t.Fatalf("the handshake loop ended before serial %s was served", serial)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serial %s never served", serial)
}

// atLeast waits (bounded) until n handshakes more than now are done.
func (h *handshakes) atLeast(t *testing.T, n int) {
	t.Helper()
	h.mu.Lock()
	want := len(h.serials) + len(h.errs) + n
	h.mu.Unlock()
	for i := 0; i < 3000; i++ {
		h.mu.Lock()
		got := len(h.serials) + len(h.errs)
		h.mu.Unlock()
		if got >= want {
			return
		}
		select {
		case <-h.done:
			t.Fatalf("the handshake loop ended after %d handshakes; want %d", got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("fewer than %d handshakes", want)
}

func (h *handshakes) end() ([]string, []error) {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.serials, h.errs
}

// TestHTTPSFilesReload: the certificate files of http.tls are replaced while a client handshakes in a loop: the
// handshakes go on without a single error (no connection refused), show the old certificate and then, once the
// change is seen, only the new one. A file that breaks (garbage, an expired certificate, a key of another
// certificate) keeps the certificate in use and is reported by ReloadTLS (SIGHUP) and the reload metric; the
// signing key is never touched.
func TestHTTPSFilesReload(t *testing.T) {
	ca, signer, dir, sc, sk := newSigner(t, "Reload Test CA", "SMP signer")
	now := time.Now()
	first := tlsLeaf(t, ca, "smp.test first", now.Add(-time.Hour), now.Add(24*time.Hour))
	tc, tk := filepath.Join(dir, "https.pem"), filepath.Join(dir, "https-key.pem")
	if err := first.WriteFiles(tc, tk); err != nil {
		t.Fatal(err)
	}
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", sc, sk))
	cfg.PublicURL = "https://smp.test"
	cfg.HTTP.TLS.Cert, cfg.HTTP.TLS.Key = tc, tk
	cfg.HTTP.TLSCheckInterval = 20 * time.Millisecond
	o := ops.New()
	a, err := smpapp.New(context.Background(), cfg, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	serve(t, a)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	reloads := func(result string) float64 {
		mfs, err := o.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "signpost_smp_tls_reloads_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}

	h := startHandshakes(a.Addr(), pool, 100000)
	h.until(t, first.Cert.SerialNumber.String())
	h.atLeast(t, 50)
	second := tlsLeaf(t, ca, "smp.test second", now.Add(-time.Hour), now.Add(48*time.Hour))
	if err := second.WriteFiles(tc, tk); err != nil { // the certificate, then the key: each renamed into place
		t.Fatal(err)
	}
	h.until(t, second.Cert.SerialNumber.String())
	h.atLeast(t, 50)
	serials, errs := h.end()
	if len(errs) > 0 {
		t.Fatalf("%d of %d handshakes failed during the swap; first: %v", len(errs), len(serials)+len(errs), errs[0])
	}
	seenSecond := false
	for i, s := range serials {
		switch s {
		case second.Cert.SerialNumber.String():
			seenSecond = true
		case first.Cert.SerialNumber.String():
			if seenSecond {
				t.Fatalf("handshake %d showed the old certificate after the new one", i)
			}
		default:
			t.Fatalf("handshake %d: unknown serial %s", i, s)
		}
	}
	t.Logf("%d handshakes during the swap, none failed", len(serials))
	if reloads("ok") < 1 {
		t.Errorf("signpost_smp_tls_reloads_total{result=ok} = %v", reloads("ok"))
	}

	// Bad new files: each keeps the second certificate, reported by ReloadTLS and counted.
	other := tlsLeaf(t, ca, "smp.test other", now.Add(-time.Hour), now.Add(24*time.Hour))
	expired := tlsLeaf(t, ca, "smp.test expired", now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	otherKey, err := pki.EncodeKeyPEM(other.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		write func() error
		want  string
	}{
		{"garbage", func() error { return os.WriteFile(tc, []byte("not a certificate\n"), 0o600) }, "http.tls"},
		{"expired", func() error { return expired.WriteFiles(tc, tk) }, "expired"},
		{"key of another certificate", func() error {
			if err := second.WriteFiles(tc, tk); err != nil {
				return err
			}
			return os.WriteFile(tk, otherKey, 0o600)
		}, "http.tls"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := reloads("error")
			if err := c.write(); err != nil {
				t.Fatal(err)
			}
			changed, err := a.ReloadTLS()
			if err == nil || changed || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReloadTLS = %v, %v; want an error naming %q", changed, err, c.want)
			}
			t.Logf("refused: %v", err)
			if reloads("error") <= before {
				t.Errorf("signpost_smp_tls_reloads_total{result=error} stayed %v", before)
			}
			h := startHandshakes(a.Addr(), pool, 3)
			serials, errs := h.end2()
			if len(errs) > 0 || len(serials) != 3 || serials[2] != second.Cert.SerialNumber.String() {
				t.Fatalf("after a bad file: serials %v errors %v; want the second certificate still", serials, errs)
			}
		})
	}
	// Fixed files: SIGHUP's ReloadTLS takes them at once.
	third := tlsLeaf(t, ca, "smp.test third", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err := third.WriteFiles(tc, tk); err != nil {
		t.Fatal(err)
	}
	if changed, err := a.ReloadTLS(); err != nil || !changed {
		// The poller may have taken the files first: then the reload finds nothing new.
		if err != nil {
			t.Fatalf("ReloadTLS after fixing the files: %v", err)
		}
	}
	got, err := a.TLSCertificate("smp.test")
	if err != nil || !got.Equal(third.Cert) {
		t.Fatalf("certificate in use: %v %v; want the third", got.Subject, err)
	}
	if changed, err := a.ReloadTLS(); err != nil || changed {
		t.Fatalf("ReloadTLS with unchanged files = %v, %v; want false, nil", changed, err)
	}
	if !a.Service().Certificate().Equal(signer.Cert) {
		t.Fatal("the signing certificate changed with the HTTPS files")
	}
}

// end2 waits for a bounded loop to finish by itself.
func (h *handshakes) end2() ([]string, []error) {
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.serials, h.errs
}

// TestRedirectListener: http.redirect_listen answers GET and HEAD with a 308 to the same path and query at
// public_url's https origin (whatever Host the client sent), refuses other methods, and the HTTPS port serves.
func TestRedirectListener(t *testing.T) {
	ca, _, dir, sc, sk := newSigner(t, "Redirect Test CA", "SMP signer")
	now := time.Now()
	leaf := tlsLeaf(t, ca, "smp.test", now.Add(-time.Hour), now.Add(24*time.Hour))
	tc, tk := filepath.Join(dir, "https.pem"), filepath.Join(dir, "https-key.pem")
	if err := leaf.WriteFiles(tc, tk); err != nil {
		t.Fatal(err)
	}
	cfg := config(t, dir, fmt.Sprintf("signing: {cert: %s, key: %s}", sc, sk))
	cfg.PublicURL = "https://smp.test:8443/prefix"
	cfg.HTTP.TLS.Cert, cfg.HTTP.TLS.Key = tc, tk
	cfg.HTTP.RedirectListen = "127.0.0.1:0"
	a, err := smpapp.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	serve(t, a)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		method, path, host string
		code               int
		location           string
	}{
		{"GET", "/prefix/iso6523-actorid-upis%3A%3A0088%3A123?x=1", "evil.example", 308, "https://smp.test:8443/prefix/iso6523-actorid-upis%3A%3A0088%3A123?x=1"},
		{"HEAD", "/", "", 308, "https://smp.test:8443/"},
		{"PUT", "/prefix/x", "", 403, ""},
		{"DELETE", "/prefix/x", "", 403, ""},
	} {
		req, _ := http.NewRequest(c.method, "http://"+a.RedirectAddr()+c.path, nil)
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Location") != c.location {
			t.Errorf("%s %s: %d Location %q (%s); want %d %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Location"), body, c.code, c.location)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	serials, errs := startHandshakes(a.Addr(), pool, 1).end2()
	if len(errs) > 0 || len(serials) != 1 {
		t.Fatalf("HTTPS beside the redirect: %v %v", serials, errs)
	}
	// TLS 1.2 and 1.3 only.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		c, err := tls.Dial("tcp", a.Addr(), &tls.Config{RootCAs: pool, ServerName: "smp.test", MinVersion: v, MaxVersion: v})
		if err == nil {
			c.Close()
			t.Errorf("a TLS %x handshake succeeded", v)
		}
	}
	c, err := tls.Dial("tcp", a.Addr(), &tls.Config{RootCAs: pool, ServerName: "smp.test", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	c.Close()
}
