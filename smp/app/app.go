// Package smpapp assembles the SMP of a configuration: the store, the signing key, the service and its HTTP
// server, for `signpost smp serve`, `signpost dev` and the admin commands.
package smpapp

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/smpstore"
	"github.com/signpost-project/signpost/store"
)

// App is one configured SMP.
type App struct {
	cfg     *conf.SMP
	log     *slog.Logger
	db      *store.DB
	svc     *smp.Service
	handler http.Handler
	hopts   smp.HandlerOptions
	http    *lifecycle.HTTP
	fast    *fastHTTP

	mu       sync.Mutex
	cancel   context.CancelFunc
	resignWG sync.WaitGroup
}

// LoadSigningKey reads the key and certificate chain files named by t (PEM, or PKCS#12 with its password file).
func LoadSigningKey(t conf.TLSFiles) (crypto.Signer, []*x509.Certificate, error) {
	var kp *pki.KeyPair
	var err error
	if t.PKCS12 != "" {
		password := ""
		if t.PasswordFile != "" {
			b, err := os.ReadFile(t.PasswordFile)
			if err != nil {
				return nil, nil, fmt.Errorf("signing key: %w", err)
			}
			password, _, _ = strings.Cut(string(b), "\n")
			password = strings.TrimRight(password, "\r")
		}
		kp, err = pki.LoadPKCS12(t.PKCS12, password)
	} else {
		kp, err = pki.LoadKeyPair(t.Cert, t.Key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	chain := append([]*x509.Certificate{kp.Cert}, withoutRoots(kp.Chain)...)
	return kp.Key, chain, nil
}

func withoutRoots(cs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range cs {
		if c.CheckSignatureFrom(c) == nil && c.IsCA && string(c.RawIssuer) == string(c.RawSubject) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// New opens the store and the signing key of cfg and builds the service. o may be nil (no metrics, no checks).
func New(cfg *conf.SMP, log *slog.Logger, o *ops.Ops) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, chain, err := LoadSigningKey(cfg.Signing)
	if err != nil {
		return nil, err
	}
	flavour, err := smp.ParseFlavour(cfg.Flavour)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(cfg.Store.Path, store.Options{LockTimeout: cfg.Store.LockTimeout, Logger: log})
	if err != nil {
		return nil, err
	}
	opts := smp.Options{
		PublicURL: cfg.PublicURL, Flavour: flavour, SMP2: cfg.Serve2(), Policy: cfg.Policy(),
		Key: key, Chain: chain, Log: log,
	}
	if o != nil {
		opts.Registerer = o.Registry
	}
	svc, err := smp.New(smpstore.New(db), opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: db, svc: svc}
	a.hopts = smp.HandlerOptions{Log: log}
	if cfg.WriteEnabled() {
		wo := smp.WriteOptions{MaxBodyBytes: cfg.Write.MaxBodyBytes, Log: log}
		if cfg.Write.ExpiredCertificates == "warn" {
			wo.ExpiredCertificates = smp.WarnExpired
		}
		if o != nil {
			wo.Registerer = o.Registry
		}
		a.hopts.Write, a.hopts.API = svc.WriteHandlers(wo)
	}
	a.handler = svc.Handler(a.hopts)
	if o != nil {
		o.AddCheck("smp-store", func(context.Context) error {
			return db.View(func(*store.Tx) error { return nil })
		})
	}
	return a, nil
}

// Service returns the SMP service (the write path for importers and the management API).
func (a *App) Service() *smp.Service { return a.svc }

// Handler returns the SMP's HTTP handler: the read API, and the management and admin APIs unless write.enabled
// is false.
func (a *App) Handler() http.Handler { return a.handler }

// Addr returns the bound address of the HTTP listener once started.
func (a *App) Addr() string {
	switch {
	case a.fast != nil && a.fast.ln != nil:
		return a.fast.ln.Addr().String()
	case a.http != nil && a.http.Addr() != nil:
		return a.http.Addr().String()
	}
	return ""
}

// fastHTTP runs the SMP's fast read server as a lifecycle.Server.
type fastHTTP struct {
	srv  *smp.Server
	addr string
	log  *slog.Logger
	ln   net.Listener
}

func (f *fastHTTP) Name() string { return "smp http" }

func (f *fastHTTP) Start(context.Context) error {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	f.ln = ln
	go func() {
		if err := f.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.log.Error("smp http stopped", "err", err)
		}
	}()
	return nil
}

func (f *fastHTTP) Shutdown(ctx context.Context) error { return f.srv.Shutdown(ctx) }

// Servers returns the HTTP listener and, when documents signed by an older key or rendered for another layout
// remain, the background re-signer.
func (a *App) Servers() []lifecycle.Server {
	h := a.cfg.HTTP
	srv := &http.Server{
		Addr: h.Listen, Handler: a.handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout, IdleTimeout: h.IdleTimeout,
	}
	var web lifecycle.Server
	if h.TLS.Set() {
		// HTTPS: net/http alone.
		a.http = &lifecycle.HTTP{N: "smp https", Server: srv}
		key, chain, err := LoadSigningKey(h.TLS)
		if err != nil {
			return []lifecycle.Server{lifecycle.Func{N: "smp https", Up: func(context.Context) error { return err }}}
		}
		a.http.TLS = tlsConfig(key, chain)
		web = a.http
	} else {
		// Plain HTTP (what PEPPOL lookups use): the fast read server, net/http for everything else.
		a.fast = &fastHTTP{srv: a.svc.NewServer(srv, a.hopts), addr: h.Listen, log: a.log}
		web = a.fast
	}
	return []lifecycle.Server{
		lifecycle.Func{N: "smp re-signer", Up: func(context.Context) error {
			if a.svc.Stale() {
				a.startResign(nil)
			}
			return nil
		}, Down: func(context.Context) error { a.stopResign(); return nil }},
		web,
	}
}

// startResign re-signs in the background (with newKey first, when given).
func (a *App) startResign(newKey *keyPair) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.resignWG.Add(1)
	go func() {
		defer a.resignWG.Done()
		start := time.Now()
		var n int
		var err error
		if newKey != nil {
			n, err = a.svc.Rekey(ctx, newKey.key, newKey.chain, nil)
		} else {
			n, err = a.svc.Resign(ctx, nil)
		}
		switch {
		case errors.Is(err, context.Canceled):
			a.log.Info("re-signing interrupted; it resumes at the next start", "groups", n)
		case err != nil:
			a.log.Error("re-signing failed; restart to resume", "err", err, "groups", n)
		default:
			a.log.Info("re-signed", "groups", n, "generation", a.svc.Generation(), "took", time.Since(start).Round(time.Millisecond))
		}
	}()
}

func (a *App) stopResign() {
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
	a.resignWG.Wait()
}

type keyPair struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

// ReloadSigningKey reads the signing files of the configuration again; if they hold another certificate, the
// service switches to it at once and re-signs every document in the background. `signpost smp serve` calls it
// on SIGHUP. It reports whether the key changed.
func (a *App) ReloadSigningKey() (bool, error) {
	key, chain, err := LoadSigningKey(a.cfg.Signing)
	if err != nil {
		return false, err
	}
	if smp.Fingerprint(chain[0]) == smp.Fingerprint(a.svc.Certificate()) {
		return false, nil
	}
	a.startResign(&keyPair{key: key, chain: chain})
	return true, nil
}

// WaitResign waits for a background re-signing to finish.
func (a *App) WaitResign() { a.resignWG.Wait() }

// Close stops background work and closes the store.
func (a *App) Close() error {
	a.stopResign()
	return a.db.Close()
}
