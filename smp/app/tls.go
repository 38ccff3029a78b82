package app

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/certreload"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/pki"
)

// HTTPS of the public listener (docs/smp.md "HTTPS"): certificate files that are read again when they change
// (internal/certreload) or certificates from an ACME CA (golang.org/x/crypto/acme/autocert), TLS 1.2 and 1.3,
// HTTP/2, and the optional plain-HTTP listener that redirects to https and answers ACME HTTP-01 challenges.

// tlsMetrics are the HTTPS certificate's metrics.
type tlsMetrics struct {
	reloads *prometheus.CounterVec
	expiry  prometheus.Gauge
	acmeErr prometheus.Counter
}

func newTLSMetrics(r prometheus.Registerer) *tlsMetrics {
	m := &tlsMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signpost_smp_tls_reloads_total",
			Help: "Reloads of the http.tls files (on change or SIGHUP) by result: ok (another certificate took effect) or error (the one in use stays).",
		}, []string{"result"}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signpost_smp_tls_certificate_expiry_timestamp_seconds",
			Help: "NotAfter of the HTTPS certificate in use (Unix seconds; with ACME, the earliest of its domains).",
		}),
		acmeErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signpost_smp_acme_errors_total",
			Help: "Failed attempts to obtain an ACME certificate for a domain of http.acme.domains (retried with backoff).",
		}),
	}
	for _, c := range []prometheus.Collector{m.reloads, m.expiry, m.acmeErr} {
		_ = r.Register(c) // a second App on one registry (tests) keeps the first one's series
	}
	return m
}

// baseTLS is the TLS configuration of the public listener without its certificate: TLS 1.2 and 1.3 only (Go's
// default cipher suites for 1.2, all forward secret AEAD or CBC with ECDHE), HTTP/2 offered by ALPN.
func baseTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13, NextProtos: []string{"h2", "http/1.1"}}
}

// loadTLSFiles reads http.tls (PEM or PKCS#12) as a tls.Certificate with its chain, roots left out.
func loadTLSFiles(t conf.TLSFiles) certreload.Load {
	return func() (*tls.Certificate, error) {
		key, chain, err := LoadSigningKey(t)
		if err != nil {
			return nil, errors.New(strings.TrimPrefix(err.Error(), "signing key: "))
		}
		c := tlsCertificate(key, chain)
		return &c, nil
	}
}

// tlsCertificate is a key and its chain (leaf first) as crypto/tls takes them.
func tlsCertificate(key crypto.Signer, chain []*x509.Certificate) tls.Certificate {
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

func tlsFileNames(t conf.TLSFiles) []string {
	var out []string
	for _, f := range []string{t.Cert, t.Key, t.PKCS12, t.PasswordFile} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// setupHTTPS fills a.web.TLS and returns the servers that keep the certificate current (the file watcher or the
// ACME warm-up), to start before the listener. An error is the configuration's.
func (a *App) setupHTTPS() ([]lifecycle.Server, error) {
	h := a.cfg.HTTP
	switch {
	case h.TLS.Set():
		m := a.tlsm
		r, err := certreload.New("http.tls", tlsFileNames(h.TLS), loadTLSFiles(h.TLS), a.log, certreload.Metrics{
			Reloaded: func() { m.reloads.WithLabelValues("ok").Inc() },
			Failed:   func() { m.reloads.WithLabelValues("error").Inc() },
			NotAfter: func(t time.Time) { m.expiry.Set(float64(t.Unix())) },
		})
		if err != nil {
			return nil, err
		}
		a.certs = r
		cfg := baseTLS()
		cfg.GetCertificate = r.GetCertificate
		a.web.TLS = cfg
		return []lifecycle.Server{lifecycle.Func{N: "smp tls files", Up: func(ctx context.Context) error {
			r.Start(context.WithoutCancel(ctx), h.TLSCheckInterval)
			return nil
		}, Down: func(context.Context) error { r.Stop(); return nil }}}, nil
	case h.ACME.Enabled():
		m, err := a.acmeManager()
		if err != nil {
			return nil, err
		}
		a.acme = m
		cfg := baseTLS()
		cfg.GetCertificate = m.GetCertificate
		cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto) // the TLS-ALPN-01 challenge, on this listener
		a.web.TLS = cfg
		w := &acmeWarmer{m: m, domains: h.ACME.Domains, interval: h.TLSCheckInterval, app: a}
		return []lifecycle.Server{lifecycle.Func{N: "smp acme", Up: w.start, Down: w.stop}}, nil
	}
	return nil, nil
}

// acmeManager builds the autocert manager of http.acme.
func (a *App) acmeManager() (*autocert.Manager, error) {
	c := a.cfg.HTTP.ACME
	if err := os.MkdirAll(c.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("http.acme.cache_dir: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the ACME directory is reached directly, as the SML is
	if c.CA != "" {
		pool, err := pki.LoadCertPool(c.CA)
		if err != nil {
			return nil, fmt.Errorf("http.acme.ca: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(c.CacheDir),
		HostPolicy:  hostPolicy(c.Domains),
		RenewBefore: c.RenewBefore,
		Email:       c.Email,
		Client: &acme.Client{
			DirectoryURL: c.Directory,
			HTTPClient:   &http.Client{Transport: tr, Timeout: 2 * time.Minute},
			UserAgent:    "signpost-smp",
		},
	}, nil
}

// hostPolicy allows the configured domains only. autocert asks it with the TLS server name, and, for an HTTP-01
// challenge, with the request's Host, which carries a port when the challenge did not come to port 80.
func hostPolicy(domains []string) autocert.HostPolicy {
	allowed := autocert.HostWhitelist(domains...)
	return func(ctx context.Context, host string) error {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		return allowed(ctx, host)
	}
}

// acmeWarmer obtains the certificate of each domain at start (not at the first client's handshake), retrying with
// backoff, and then looks at them every interval for the expiry metric and the readiness check. Renewal itself is
// autocert's: a timer per certificate, RenewBefore its expiry.
type acmeWarmer struct {
	m        *autocert.Manager
	domains  []string
	interval time.Duration
	app      *App
	cancel   context.CancelFunc
	done     chan struct{}
}

// ecdsaHello asks autocert for the ECDSA certificate every current client gets.
func ecdsaHello(domain string) *tls.ClientHelloInfo {
	return &tls.ClientHelloInfo{
		ServerName:       domain,
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedCurves:  []tls.CurveID{tls.CurveP256},
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
	}
}

func (w *acmeWarmer) start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		backoff := time.Second
		for {
			var earliest time.Time
			failed := false
			for _, d := range w.domains {
				c, err := w.m.GetCertificate(ecdsaHello(d))
				if err != nil {
					failed = true
					w.app.tlsm.acmeErr.Inc()
					w.app.setACMEErr(fmt.Errorf("http.acme: no certificate for %s yet: %w", d, err))
					w.app.log.Error("ACME: no certificate; retrying", "domain", d, "err", err, "in", backoff)
					continue
				}
				if c.Leaf != nil && (earliest.IsZero() || c.Leaf.NotAfter.Before(earliest)) {
					earliest = c.Leaf.NotAfter
				}
			}
			wait := w.interval
			if failed {
				wait, backoff = backoff, min(2*backoff, 5*time.Minute)
			} else {
				backoff = time.Second
				w.app.setACMEErr(nil)
				w.app.tlsm.expiry.Set(float64(earliest.Unix()))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
	return nil
}

func (w *acmeWarmer) stop(context.Context) error {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
	return nil
}

func (a *App) setACMEErr(err error) {
	a.tlsMu.Lock()
	a.acmeErr = err
	a.tlsMu.Unlock()
}

// httpsCheck is the readiness check of HTTPS: red while ACME has no certificate for a domain.
func (a *App) httpsCheck(context.Context) error {
	a.tlsMu.Lock()
	defer a.tlsMu.Unlock()
	return a.acmeErr
}

// ReloadTLS reads the http.tls files again (SIGHUP). It reports whether another certificate took effect; on an
// error the certificate in use stays. With ACME or without HTTPS there is nothing to read: (false, nil).
func (a *App) ReloadTLS() (bool, error) {
	if a.certs == nil {
		return false, nil
	}
	return a.certs.Reload()
}

// TLSCertificate returns the HTTPS certificate served for name (http.tls: the one in use; ACME: the domain's),
// or nil without HTTPS.
func (a *App) TLSCertificate(name string) (*x509.Certificate, error) {
	switch {
	case a.certs != nil:
		return a.certs.Certificate().Leaf, nil
	case a.acme != nil:
		c, err := a.acme.GetCertificate(ecdsaHello(name))
		if err != nil {
			return nil, err
		}
		return c.Leaf, nil
	}
	return nil, nil
}

// redirectHandler answers the plain-HTTP listener: GET and HEAD are redirected (308) to the same path and query
// at public_url's https origin (never to the Host the client sent); every other method is refused, since a write
// sent in clear has already leaked its credentials. With ACME, HTTP-01 challenges are answered first.
func (a *App) redirectHandler() http.Handler {
	origin := "https://localhost"
	if u, err := url.Parse(a.cfg.PublicURL); err == nil && u.Host != "" {
		origin = "https://" + u.Host
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "this port only redirects GET and HEAD to https; send "+r.Method+" to "+origin, http.StatusForbidden)
			return
		}
		http.Redirect(w, r, origin+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
	if a.acme != nil {
		h = a.acme.HTTPHandler(h)
	}
	return h
}

// redirectServer is the plain-HTTP listener of http.redirect_listen, or nil.
func (a *App) redirectServer() *lifecycle.HTTP {
	h := a.cfg.HTTP
	if h.RedirectListen == "" {
		return nil
	}
	return &lifecycle.HTTP{N: "smp http redirect", Server: &http.Server{
		Addr: h.RedirectListen, Handler: a.redirectHandler(), ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout: h.ReadHeaderTimeout, WriteTimeout: h.WriteTimeout, IdleTimeout: h.ReadHeaderTimeout,
		MaxHeaderBytes: 16 << 10,
	}}
}

// RedirectAddr returns the bound address of the http.redirect_listen listener once started.
func (a *App) RedirectAddr() string {
	if a.redir != nil && a.redir.Addr() != nil {
		return a.redir.Addr().String()
	}
	return ""
}
