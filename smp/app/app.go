// Package app assembles the SMP of a configuration: the store and its repository, the signing key, the service,
// the credentials, and the HTTP servers (the public port and the admin listener), for `signpost smp serve`,
// `signpost dev` and the admin commands that work on a stopped store.
package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme/autocert"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/certreload"
	"github.com/signpost-project/signpost/internal/clientip"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/internal/pki"
	"github.com/signpost-project/signpost/internal/ratelimit"
	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/auth"
	"github.com/signpost-project/signpost/smp/console"
	"github.com/signpost-project/signpost/smp/httpapi"
	"github.com/signpost-project/signpost/smp/registrar"
	"github.com/signpost-project/signpost/smp/smlclient"
	"github.com/signpost-project/signpost/smp/xmlbind"
	"github.com/signpost-project/signpost/store"
)

// App is one configured SMP.
type App struct {
	cfg    *conf.SMP
	log    *slog.Logger
	db     *store.DB   // the bbolt store; nil with store.backend postgres
	pg     *pgstore.DB // the PostgreSQL store (schema smp); nil with bbolt
	svc    *smp.Service
	creds  *auth.Service
	public http.Handler
	admin  http.Handler
	web    *lifecycle.HTTP
	adm    *lifecycle.HTTP
	sml    conf.SMLNetwork      // the SML this SMP registers in
	smlc   *smlclient.Client    // its client; nil when the SMP registers in no SML
	reg    *registrar.Registrar // delivers the SML intents; nil when the SMP registers in no SML
	regWG  sync.WaitGroup
	regEnd context.CancelFunc
	roll   *rollover       // the signing key schedule (rollover.go)
	redir  *lifecycle.HTTP // http.redirect_listen, or nil

	// HTTPS (tls.go): the http.tls files in use, or the ACME manager.
	certs   *certreload.Reloader
	acme    *autocert.Manager
	tlsm    *tlsMetrics
	tlsMu   sync.Mutex
	acmeErr error // ACME has no certificate for a domain yet (readiness)

	mu       sync.Mutex
	cancel   context.CancelFunc
	resignWG sync.WaitGroup

	nodes nodes // several nodes on one PostgreSQL database (nodes.go)
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
// When a rekey made a key in the data directory active, that key signs even if signing: still names the key it
// replaced (see smp.Options.LoadKey).
func New(ctx context.Context, cfg *conf.SMP, log *slog.Logger, o *ops.Ops, opts ...Option) (*App, error) {
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
	network, err := cfg.SML.Resolved()
	if err != nil {
		return nil, fmt.Errorf("sml.network: %w", err)
	}
	smlc, err := newSMLClient(cfg, network)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, &cfg.Store, log)
	if err != nil {
		return nil, err
	}
	db := st // closed on every error below
	repo := st.repo
	roll := newRollover(cfg, opts)
	so := smp.Options{
		PublicURL: cfg.PublicURL, Flavour: flavour, SMP2: cfg.Serve2(), Policy: cfg.Policy(), Binding: xmlbind.Binding{},
		Key: key, Chain: chain, Log: log, Now: roll.now, LoadKey: roll.loadKey, SML: smlc != nil,
		SharedStore: cfg.Store.Postgres(),
	}
	if o != nil {
		so.Registerer = o.Registry
	}
	svc, err := smp.New(ctx, repo, so)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: st.bolt, pg: st.pg, svc: svc, creds: auth.New(repo, nil), sml: network, smlc: smlc, roll: roll}
	if err := a.initRollover(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if smlc != nil {
		ro := registrar.Options{SMP: svc, SML: smlc, Self: smlAddresses(cfg), Policy: cfg.Policy(), Log: log,
			MinBackoff: cfg.SML.RetryMin, MaxBackoff: cfg.SML.RetryMax, Batch: cfg.SML.Batch, Now: roll.now,
			Transitional: a.CertificateChangeNear, Active: a.RunsJobs}
		if o != nil {
			ro.Registerer = o.Registry
		}
		if a.reg, err = registrar.New(ro); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	var promReg prometheus.Registerer = prometheus.NewRegistry()
	if o != nil {
		promReg = o.Registry
		if cfg.HTTP.ACME.Enabled() {
			o.AddCheck("smp-https-certificate", a.httpsCheck)
		}
	}
	a.tlsm = newTLSMetrics(promReg)
	if cfg.HTTP.ACME.Enabled() {
		a.acmeErr = errors.New("http.acme: no certificate obtained yet")
	}
	ho := httpapi.Options{
		SMP: svc, Creds: a.creds, Write: cfg.WriteEnabled(), MaxBodyBytes: cfg.Write.MaxBodyBytes, Log: log,
		WriteTimeout: cfg.HTTP.WriteTimeout,
		Limits:       xmlbind.Limits{NSPerElement: cfg.Write.MaxNSPerElement, NSPerDocument: cfg.Write.MaxNSPerDocument},
		Rollover:     a,
	}
	ho.Registrations = svc
	if a.reg != nil {
		ho.SML = a.reg
	}
	if st.bolt != nil {
		ho.Backup = st.bolt.Backup // GET /api/v1/backup: the online backup
	} else {
		ho.BackupRefused = ErrBackupPostgres.Error()
	}
	if cfg.Write.ExpiredCertificates == "warn" {
		ho.ExpiredCertificates = smp.WarnExpired
	}
	if o != nil {
		ho.Registerer = o.Registry
	}
	proxies, err := clientip.New(cfg.HTTP.TrustedProxies, clientip.XForwardedFor)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	ho.ClientAddr = func(r *http.Request) string { return clientip.RateKey(proxies.Addr(r)) }
	// One limiter for the API's authentication and the console's logins: failures of either count together.
	lim := ratelimit.New(ratelimit.Config{Failures: cfg.Write.AuthFailuresPerMinute, Window: time.Minute})
	ho.Limiter = lim
	a.public = httpapi.Public(ho)
	if a.admin, err = adminHandler(httpapi.Admin(ho), console.Options{
		SMP: svc, Creds: a.creds, Sessions: st.sessions, Limiter: lim, ClientAddr: ho.ClientAddr,
		ExpiredCertificates: ho.ExpiredCertificates, MaxBodyBytes: cfg.Write.MaxBodyBytes, Log: log,
	}); err != nil {
		_ = db.Close()
		return nil, err
	}
	if o != nil && st.pg != nil {
		if err := o.Registry.Register(st.pg.Collector()); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if o != nil {
		o.AddCheck("smp-store", st.check)
		if err := o.Registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signpost_smp_runs_jobs",
			Help: "1 when this node runs the SML registrar and the re-signer (always with bbolt; with PostgreSQL, while it holds the leader lock).",
		}, func() float64 {
			if a.RunsJobs() {
				return 1
			}
			return 0
		})); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if feed, ok := st.repo.(smp.ChangeFeed); ok && st.pg != nil {
		a.nodes.feed = feed
		a.startFollowing()
	}
	return a, nil
}

// Service returns the SMP service (the use cases for importers and commands).
func (a *App) Service() *smp.Service { return a.svc }

// Credentials returns the users and tokens.
func (a *App) Credentials() *auth.Service { return a.creds }

// Handler returns the handler of the public port.
func (a *App) Handler() http.Handler { return a.public }

// AdminHandler returns the handler of the admin listener.
func (a *App) AdminHandler() http.Handler { return a.admin }

// Addr returns the bound address of the public listener once started.
func (a *App) Addr() string {
	if a.web != nil && a.web.Addr() != nil {
		return a.web.Addr().String()
	}
	return ""
}

// AdminAddr returns the bound address of the admin listener once started.
func (a *App) AdminAddr() string {
	if a.adm != nil && a.adm.Addr() != nil {
		return a.adm.Addr().String()
	}
	return ""
}

// Servers returns the lifecycle of the running SMP: the background re-signer (when documents signed by an older
// key or rendered for another layout remain), the signing key schedule (rollover.go), the SML registrar, the admin
// token, the admin listener, what keeps the HTTPS certificate current (tls.go), the public listener (HTTP, or HTTPS
// with HTTP/2 when http.tls or http.acme is set: one code path) and the plain-HTTP redirect listener when
// http.redirect_listen is set.
func (a *App) Servers() []lifecycle.Server {
	h := a.cfg.HTTP
	srv := &http.Server{
		Addr: h.Listen, Handler: a.public, ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout, IdleTimeout: h.IdleTimeout,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	// Each response in one write (the SMP's handlers never stream): half the syscalls of net/http's default for a
	// signed document, which is larger than its 4 KiB buffer (docs/BENCHMARKS.md).
	a.web = &lifecycle.HTTP{N: "smp http", Server: srv, Coalesce: true}
	var keep []lifecycle.Server
	if h.HTTPS() {
		a.web.N = "smp https"
		var err error
		if keep, err = a.setupHTTPS(); err != nil {
			return []lifecycle.Server{lifecycle.Func{N: "smp https", Up: func(context.Context) error { return err }}}
		}
	}
	a.adm = &lifecycle.HTTP{N: "smp admin", Server: &http.Server{
		Addr: a.cfg.Admin.Listen, Handler: a.admin, ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout: h.ReadTimeout, WriteTimeout: 10 * time.Minute, IdleTimeout: h.IdleTimeout,
	}}
	out := []lifecycle.Server{
		// First: the registrar and the re-signer run on the node holding the lock (always with bbolt).
		a.leaderServer(),
		lifecycle.Func{N: "smp sml registrar", Up: func(context.Context) error { a.startRegistrar(); return nil },
			Down: func(context.Context) error { a.stopRegistrar(); return nil }},
		lifecycle.Func{N: "smp re-signer", Up: func(context.Context) error {
			if a.svc.Stale() && a.pg == nil { // with PostgreSQL, the leader re-signs (nodes.go)
				a.startResign(nil)
			}
			return nil
		}, Down: func(context.Context) error { a.stopResign(); return nil }},
		// After the re-signer: stopped before it, so no switch starts a re-signing while it stops.
		lifecycle.Func{N: "smp key schedule", Up: func(ctx context.Context) error { a.startSchedule(ctx); return nil },
			Down: func(context.Context) error { a.stopSchedule(); return nil }},
		lifecycle.Func{N: "smp admin token", Up: func(ctx context.Context) error {
			_, err := EnsureAdminToken(ctx, a.creds, a.cfg.Admin.TokenFile)
			return err
		}},
		a.adm,
	}
	out = append(out, keep...)
	out = append(out, a.web)
	if a.redir = a.redirectServer(); a.redir != nil {
		out = append(out, a.redir)
	}
	return out
}

// startResign re-signs in the background (with newKey first, when given). A failure is logged and retried with
// backoff; a panic in it is contained the same way.
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
		backoff := time.Second
		for {
			start := time.Now()
			n, err := a.resignOnce(ctx, newKey)
			switch {
			case errors.Is(err, context.Canceled):
				a.log.Info("re-signing interrupted; it resumes at the next start", "groups", n)
				return
			case err != nil:
				a.log.Error("re-signing failed; retrying", "err", err, "groups", n, "in", backoff)
			default:
				a.log.Info("re-signed", "groups", n, "generation", a.svc.Generation(), "took", time.Since(start).Round(time.Millisecond))
				return
			}
			if newKey != nil && a.svc.Generation() > 0 && smp.Fingerprint(a.svc.Certificate()) == smp.Fingerprint(newKey.chain[0]) {
				newKey = nil // switched already: only the re-signing is left
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Minute)
		}
	}()
}

// resignPanic, when set (tests), runs at the start of each re-signing pass.
var resignPanic func()

// resignOnce runs one pass; a panic becomes an error (reported with its stack and counted; the worker restarts
// the pass with backoff).
func (a *App) resignOnce(ctx context.Context, newKey *keyPair) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			recovery.Report(a.log, "smp_resigner", v)
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	if resignPanic != nil {
		resignPanic()
	}
	if !a.RunsJobs() {
		// Another node runs the re-signer: it follows the switch and re-signs (nodes.go).
		if newKey != nil {
			return 0, a.svc.SwitchKey(ctx, newKey.key, newKey.chain, nil)
		}
		return 0, nil
	}
	if newKey != nil {
		return a.svc.Rekey(ctx, newKey.key, newKey.chain, nil)
	}
	return a.svc.Resign(ctx, nil)
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
// service switches to it at once and re-signs every document in the background. It reports whether the key
// changed. SIGHUP no longer calls it (SIGHUP reloads the HTTPS files only: ReloadTLS).
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

// Registrar returns the SML registrar; nil when the SMP registers in no SML.
func (a *App) Registrar() *registrar.Registrar { return a.reg }

// startRegistrar runs the SML registrar in the background (when the SMP registers in an SML).
func (a *App) startRegistrar() {
	if a.reg == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.regEnd != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.regEnd = cancel
	a.regWG.Add(1)
	go func() {
		defer a.regWG.Done()
		// One node delivers the outbox (and registers the SMP): the one holding the lock (nodes.go).
		a.asLeader(ctx, "SML registrar", func(ctx context.Context) { _ = a.reg.Run(ctx) })
	}()
}

func (a *App) stopRegistrar() {
	a.mu.Lock()
	if a.regEnd != nil {
		a.regEnd()
		a.regEnd = nil
	}
	a.mu.Unlock()
	a.regWG.Wait()
}

// Close stops background work and closes the store.
func (a *App) Close() error {
	a.stopSchedule()
	a.stopRegistrar()
	if a.smlc != nil {
		a.smlc.Close()
	}
	a.stopResign()
	a.nodes.mu.Lock()
	if a.nodes.lead != nil {
		a.nodes.lead()
	}
	a.nodes.mu.Unlock()
	a.stopFollowing()
	if a.pg != nil {
		a.pg.Close()
		return nil
	}
	return a.db.Close()
}
