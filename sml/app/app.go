// Package app assembles the SML process (`signpost sml serve`, and the SML part of `signpost dev`): it opens the
// store, builds the sml.Service and the servers around it (the authoritative DNS server, the admin API on its
// loopback listener, the SOAP management API), and registers the SML's metrics and readiness check on the
// operations listener.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/lifecycle"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/admin"
	"github.com/signpost-project/signpost/sml/console"
	"github.com/signpost-project/signpost/sml/dnsserver"
	"github.com/signpost-project/signpost/sml/soap"
	"github.com/signpost-project/signpost/sml/zone"
)

// App is an assembled SML.
type App struct {
	cfg     *conf.SML
	log     *slog.Logger
	store   *Store
	svc     *sml.Service
	dns     *dnsserver.Server
	admin   *lifecycle.HTTP
	soap    *lifecycle.HTTP // nil when management.tls is not configured
	servers []lifecycle.Server
	onFail  atomic.Pointer[func(error)]
	closeMu sync.Mutex
	closed  bool
}

// Option adjusts New.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock sets the SML's clock (ownership through certificate changes, certificate validity, serials): tests of
// a certificate rollover move it past the change. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New opens the store of cfg, builds the Service and the servers. Nothing listens until the servers are started;
// Close releases the store.
func New(cfg *conf.SML, log *slog.Logger, o *ops.Ops, opts ...Option) (*App, error) {
	var op options
	for _, f := range opts {
		f(&op)
	}
	if log == nil {
		log = logging.Discard()
	}
	if o == nil {
		o = ops.New()
	}
	st, err := OpenStore(context.Background(), cfg, log)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, store: st}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	if st.Metrics != nil {
		if err := o.Registry.Register(st.Metrics); err != nil {
			return nil, err
		}
	}
	// The DNS server reads from the Service and the Service tells it about commits: the server is set once built;
	// changes committed before (none: nothing writes before Start) are in what it loads.
	var dnsSrv atomic.Pointer[dnsserver.Server]
	svc, err := sml.New(st.Repo, cfg.Domains, sml.Options{
		Log:             log,
		Now:             op.now,
		JournalSize:     cfg.DNS.JournalSize,
		MigrationKeyTTL: cfg.Migration.KeyTTL,
		OnChange: func(c zone.Change) {
			if s := dnsSrv.Load(); s != nil {
				s.Apply(c)
			}
		},
		Served: func(z string) (uint32, bool) {
			if s := dnsSrv.Load(); s != nil {
				return s.Serial(z)
			}
			return 0, false
		},
		OnWrite: m.write,
	})
	if err != nil {
		return nil, err
	}
	a.svc = svc
	m.svc = svc
	dcfg, err := dnsConfig(cfg)
	if err != nil {
		return nil, err
	}
	d, err := dnsserver.New(dcfg, svc, log, o.Registry)
	if err != nil {
		return nil, err
	}
	dnsSrv.Store(d)
	a.dns = d
	tok, created, err := admin.EnsureTokenFile(cfg.Admin.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("%w (the file is admin.token_file in the configuration)", err)
	}
	if created {
		log.Info("SML admin token written", "file", cfg.Admin.TokenFile)
	}
	adminH, err := adminHandler(admin.NewHandler(svc, admin.Config{Token: admin.NewToken(tok), Log: log, OnPanic: m.adminPanics.Inc, Backup: st.Backup}),
		console.Options{SML: svc, Store: st.Console, Secondaries: cfg.DNS.Notify, Log: log, Now: op.now})
	if err != nil {
		return nil, err
	}
	a.admin = &lifecycle.HTTP{N: "sml admin", OnFail: a.fail, Server: admin.NewServer(cfg.Admin.Listen, adminH, log)}
	if cfg.Management.TLS.Set() || len(cfg.Management.Proxy.Addresses) > 0 {
		h, err := soap.NewServer(svc, soap.Config{Management: cfg.Management, Log: log, OnFail: a.fail, Registry: o.Registry, Now: op.now})
		if err != nil {
			return nil, err
		}
		a.soap = h
	} else {
		log.Warn("SML management API disabled: neither management.tls nor management.proxy is configured")
	}
	o.AddCheck("sml-store", func(ctx context.Context) error {
		if st.Ping != nil { // the database answers
			if err := st.Ping(ctx); err != nil {
				return fmt.Errorf("the SML's database is unavailable (DNS answers from memory, writes are refused until it is back): %w", err)
			}
			return nil
		}
		_, err := svc.Stats()
		return err
	})
	o.AddCheck("sml-dns", func(context.Context) error { return d.Ready() }) // red until the DNS index is complete
	a.servers = []lifecycle.Server{
		lifecycle.Func{N: "sml serial floor", Up: func(ctx context.Context) error { a.raiseSerials(ctx); return nil }},
		d,
		a.admin,
	}
	if a.soap != nil {
		a.servers = append(a.servers, a.soap)
	}
	if st.Feed != nil {
		// Several nodes on one database: apply what the others commit (after the DNS server has loaded).
		a.servers = append(a.servers, newFollower(svc, st.Feed))
	}
	ok = true
	return a, nil
}

func dnsConfig(cfg *conf.SML) (dnsserver.Config, error) {
	c := dnsserver.Config{
		Listen: cfg.DNS.Listen, Notify: cfg.DNS.Notify, TSIGKeys: map[string]string{},
		TransferKey: cfg.DNS.TransferKey, NotifyKey: cfg.DNS.NotifyKey, UDPSize: cfg.DNS.UDPSize,
		TCPIdleTimeout: cfg.DNS.TCPIdleTimeout, NotifyDelay: cfg.DNS.NotifyDelay,
	}
	for _, a := range cfg.DNS.AllowTransfer {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			ip, err2 := netip.ParseAddr(a)
			if err2 != nil {
				return c, fmt.Errorf("dns.allow_transfer: %q is neither an address nor a prefix", a)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		c.AllowTransfer = append(c.AllowTransfer, p)
	}
	for _, k := range cfg.TSIGKeys {
		c.TSIGKeys[k.Name] = k.Secret
	}
	return c, nil
}

// SetFailureHandler sets where a server failure while serving is reported (lifecycle.Group.Failed()).
func (a *App) SetFailureHandler(fn func(error)) { a.onFail.Store(&fn) }

func (a *App) fail(err error) {
	if fn := a.onFail.Load(); fn != nil {
		(*fn)(err)
		return
	}
	a.log.Error("SML server failed", "err", err)
}

// Servers returns the servers to start, in order: the serial check, the DNS server, the admin API, the management
// API.
func (a *App) Servers() []lifecycle.Server { return a.servers }

// Service returns the SML's use cases.
func (a *App) Service() *sml.Service { return a.svc }

// DNS returns the DNS server (its Addr is the bound address once started).
func (a *App) DNS() *dnsserver.Server { return a.dns }

// Admin returns the admin API's listener (its Addr is the bound address once started).
func (a *App) Admin() *lifecycle.HTTP { return a.admin }

// Management returns the SOAP management listener, or nil when management.tls is not configured.
func (a *App) Management() *lifecycle.HTTP { return a.soap }

// Store returns the store the App runs on (its change feed, for several nodes on one database).
func (a *App) Store() *Store { return a.store }

// Close closes the store. Shut the servers down first.
func (a *App) Close() error {
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	a.store.Close()
	return nil
}

// raiseSerials asks every configured secondary (dns.notify) for the SOA serial of each zone and raises the zone's
// serial above the highest one reported. A store restored from an older backup would otherwise serve serials the
// secondaries consider old, and they would ignore every change until the serial caught up. Secondaries that do
// not answer within a second are skipped (logged).
func (a *App) raiseSerials(ctx context.Context) {
	if len(a.cfg.DNS.Notify) == 0 {
		return
	}
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	for _, d := range a.svc.Domains() {
		var best uint32
		found := false
		for _, target := range a.cfg.DNS.Notify {
			m := new(dns.Msg)
			m.SetQuestion(d.Zone, dns.TypeSOA)
			m.RecursionDesired = false
			r, _, err := c.ExchangeContext(ctx, m, target)
			if err != nil || r.Rcode != dns.RcodeSuccess {
				a.log.Info("secondary did not report a serial at start (fine if it is new or down)", "zone", d.Zone, "secondary", target, "err", errText(err, r))
				continue
			}
			for _, rr := range r.Answer {
				if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, d.Zone) {
					if !found || int32(soa.Serial-best) > 0 {
						best, found = soa.Serial, true
					}
				}
			}
		}
		if !found {
			continue
		}
		before, err := a.svc.Stats()
		if err != nil {
			a.log.Error("serial check", "err", err)
			return
		}
		after, err := a.svc.RaiseSerial(ctx, d.Zone, best)
		if err != nil {
			a.log.Error("could not raise the zone serial above the secondaries'", "zone", d.Zone, "err", err)
			continue
		}
		for _, z := range before {
			if z.Zone == d.Zone && z.Serial != after {
				a.log.Warn("a secondary has a newer serial than the store (restored from a backup?); serial raised",
					"zone", d.Zone, "secondary_serial", best, "was", z.Serial, "now", after)
			}
		}
	}
}

func errText(err error, r *dns.Msg) string {
	if err != nil {
		return err.Error()
	}
	if r != nil {
		return dns.RcodeToString[r.Rcode]
	}
	return "no answer"
}

// metrics are the SML's own metrics (the DNS server registers its own).
type metrics struct {
	writes      *prometheus.CounterVec
	adminPanics prometheus.Counter
	svc         *sml.Service
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{writes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signpost_sml_writes_total", Help: "SML write use cases by operation and result (ok or the error kind).",
	}, []string{"op", "result"}), adminPanics: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "signpost_sml_admin_panics_total", Help: "Panics in the SML admin API's handlers, each answered 500.",
	})}
	participants := prometheus.NewDesc("signpost_sml_participants", "Participants registered, per domain (zone).", []string{"zone"}, nil)
	serial := prometheus.NewDesc("signpost_sml_zone_serial", "Committed SOA serial, per zone.", []string{"zone"}, nil)
	col := collectorFunc{descs: []*prometheus.Desc{participants, serial}, collect: func(ch chan<- prometheus.Metric) {
		if m.svc == nil {
			return
		}
		st, err := m.svc.Stats()
		if err != nil {
			return
		}
		for _, z := range st {
			ch <- prometheus.MustNewConstMetric(participants, prometheus.GaugeValue, float64(z.Participants), z.Zone)
			ch <- prometheus.MustNewConstMetric(serial, prometheus.GaugeValue, float64(z.Serial), z.Zone)
		}
	}}
	for _, c := range []prometheus.Collector{m.writes, m.adminPanics, col} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("sml metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) write(op string, err error) {
	result := "ok"
	if err != nil {
		result = strings.ReplaceAll(sml.KindOf(err).String(), " ", "_")
	}
	m.writes.WithLabelValues(op, result).Inc()
}

type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
