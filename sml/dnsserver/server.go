// Package dnsserver is the SML's authoritative DNS server. It answers from an in-memory index of the zones its
// Source provides, kept current by Apply after each commit, transfers the zones to secondaries (AXFR, and IXFR
// from the Source's journal) and notifies them of changes.
//
// Plain UDP queries take a fast path: the server parses only the header and question, copies an answer it
// packed earlier for that owner name and type, patches the ID, flags and the question's case, and sends it.
// Everything else (TCP, transfers, TSIG, unusual EDNS, names without a cached answer) goes through miekg/dns.
//
// A panic never ends the process: on both paths the query that caused it gets SERVFAIL (as coredns answers
// it), a change that panics makes the zone load afresh, and the UDP readers and NOTIFY senders restart with
// backoff. Each panic is logged with its stack and counted in signpost_panics_total (edges sml_dns*).
package dnsserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/internal/recovery"
	"github.com/signpost-project/signpost/sml/zone"
)

// The edge labels of the panics the server contains (signpost_panics_total{edge}).
const (
	EdgeQuery  = "sml_dns"        // answering one query, on the fast or the full path: SERVFAIL
	EdgeApply  = "sml_dns_apply"  // applying a committed change: the zone is loaded afresh
	EdgeLoad   = "sml_dns_load"   // loading a zone: the load fails with an error
	EdgeUDP    = "sml_dns_udp"    // a UDP reader outside any one query: it restarts
	EdgeNotify = "sml_dns_notify" // a NOTIFY sender: it restarts, and sends the NOTIFYs of the failed round
)

// Source is what the server loads and transfers from.
type Source interface {
	// Apexes returns every served zone with its current SOA serial.
	Apexes() ([]zone.Apex, error)
	// Records calls fn with all records (not the apex SOA and NS) of one zone, from one consistent snapshot, and
	// returns that snapshot's serial.
	Records(zoneName string, fn func(zone.Record) error) (serial uint32, err error)
	// Changes returns the committed steps after serial from, in order; ok is false when the journal no longer
	// reaches back to from.
	Changes(zoneName string, from uint32) (steps []zone.Change, ok bool, err error)
}

// ZoneStreamer is what a Source may also do: stream a zone from one snapshot, telling its serial (head) before
// the first record. An AXFR then streams from it, message by message, without a copy of the zone in memory;
// without it, an AXFR copies the zone's records out of the index.
type ZoneStreamer interface {
	StreamRecords(zoneName string, head func(serial uint32) error, fn func(zone.Record) error) error
}

// SizeHinter is what a Source may also do: tell about how many participants a zone holds, so that the compact
// index is sized once instead of growing (and rehashing) while it loads.
type SizeHinter interface {
	ParticipantsHint(zoneName string) int
}

// Config is the server's configuration.
type Config struct {
	Listen        string   // HOST:PORT, UDP and TCP
	Notify        []string // secondaries HOST:PORT; their addresses may transfer
	AllowTransfer []netip.Prefix
	TSIGKeys      map[string]string // key name (FQDN) -> base64 secret, hmac-sha256
	TransferKey   string            // when set, AXFR/IXFR must be TSIG-signed with it
	NotifyKey     string            // when set, NOTIFY is signed with it
	// UDPSize is the largest UDP answer the server sends to EDNS clients. Default zone.DefaultUDPSize.
	UDPSize int
	// TCPIdleTimeout is how long an idle TCP connection stays open. Default zone.DefaultTCPIdleTimeout.
	TCPIdleTimeout time.Duration
	// NotifyDelay is the shortest time between two NOTIFYs of one zone to one secondary. Default
	// zone.DefaultNotifyDelay.
	NotifyDelay time.Duration
}

// Server is the authoritative DNS server.
type Server struct {
	cfg     Config
	src     Source
	log     *slog.Logger
	m       *metrics
	keys    tsigKeys
	xferKey string // lower-case FQDN or ""
	ntfKey  string
	allowed []netip.Prefix
	targets []netip.AddrPort

	mu       sync.RWMutex
	zones    map[string]*zoneIdx // by lower-case FQDN
	zoneList []*zoneIdx          // the same, longest name first

	reloadMu sync.Mutex

	udpConns []*net.UDPConn
	tcp      *dns.Server
	tcpLn    net.Listener
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	notifier *notifier
	started  bool
	ready    atomic.Bool // every zone loaded and the listeners up
	noBatch  bool        // tests: the plain UDP loop instead of recvmmsg/sendmmsg
	// noCompact (tests) keeps every name a node: the reference the compact index is compared with.
	noCompact bool

	// panicHook, when set (tests only, before Start), is called at each edge with the edge and the name being
	// handled (query name, zone or owner name), so that a test can make it panic.
	panicHook func(edge, name string)
}

// New checks cfg and returns a server that is not yet serving.
func New(cfg Config, src Source, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if src == nil {
		return nil, errors.New("dnsserver: no source")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.UDPSize == 0 {
		cfg.UDPSize = zone.DefaultUDPSize
	}
	if cfg.UDPSize < 512 || cfg.UDPSize > 65535 {
		return nil, fmt.Errorf("dnsserver: udp size %d: want 512..65535", cfg.UDPSize)
	}
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = zone.DefaultTCPIdleTimeout
	}
	if cfg.NotifyDelay == 0 {
		cfg.NotifyDelay = zone.DefaultNotifyDelay
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("dnsserver: listen address %q: %w", cfg.Listen, err)
	}
	s := &Server{cfg: cfg, src: src, log: log, zones: map[string]*zoneIdx{}, keys: tsigKeys{}}
	for name, secret := range cfg.TSIGKeys {
		b, err := base64.StdEncoding.DecodeString(secret)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("dnsserver: TSIG key %q: the secret is not base64", name)
		}
		s.keys[strings.ToLower(dns.Fqdn(name))] = b
	}
	for _, k := range []*string{&cfg.TransferKey, &cfg.NotifyKey} {
		if *k == "" {
			continue
		}
		n := strings.ToLower(dns.Fqdn(*k))
		if _, ok := s.keys[n]; !ok {
			return nil, fmt.Errorf("dnsserver: TSIG key %q is not among the configured keys", *k)
		}
		*k = n
	}
	s.xferKey, s.ntfKey = cfg.TransferKey, cfg.NotifyKey
	s.allowed = append(s.allowed, cfg.AllowTransfer...)
	for _, t := range cfg.Notify {
		ap, err := netip.ParseAddrPort(t)
		if err != nil {
			return nil, fmt.Errorf("dnsserver: notify target %q: want IP:PORT: %w", t, err)
		}
		s.targets = append(s.targets, ap)
		s.allowed = append(s.allowed, netip.PrefixFrom(ap.Addr().Unmap(), ap.Addr().Unmap().BitLen()))
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.m = m
	if reg != nil {
		if err := recovery.Register(reg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Ready is the readiness check: nil once every zone is in the index and the server answers; until then an
// error that says so.
func (s *Server) Ready() error {
	if !s.ready.Load() {
		return errors.New("dns: the zones are still loading into the index")
	}
	return nil
}

// Name says what the server is, for logs.
func (s *Server) Name() string { return "sml dns" }

// Start loads every zone from the source into the index and binds UDP and TCP; it returns when serving.
func (s *Server) Start(ctx context.Context) error {
	apexes, err := s.src.Apexes()
	if err != nil {
		return fmt.Errorf("dnsserver: list zones: %w", err)
	}
	for _, a := range apexes {
		z, err := s.loadZone(a)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.setZone(z.name, z)
		s.mu.Unlock()
		s.gauges(z)
		s.log.Info("dns zone loaded", "zone", z.name, "serial", z.serial(), "records", z.records)
	}
	// Loading leaves much garbage (the source's records); give it back before serving.
	debug.FreeOSMemory()
	if err := s.listen(); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.notifier = newNotifier(s, runCtx)
	for _, c := range s.udpConns {
		s.wg.Add(1)
		go func(c *net.UDPConn) {
			defer s.wg.Done()
			recovery.Loop(runCtx, s.log, EdgeUDP, func(context.Context) { s.udpLoop(c) })
		}(c)
	}
	started := make(chan struct{})
	s.tcp = &dns.Server{
		Listener:          s.tcpLn,
		Net:               "tcp",
		Handler:           dns.HandlerFunc(s.ServeDNS),
		MsgAcceptFunc:     acceptFunc,
		DecorateReader:    func(r dns.Reader) dns.Reader { return strictReader{r} },
		TsigProvider:      s.keys,
		IdleTimeout:       func() time.Duration { return s.cfg.TCPIdleTimeout },
		ReadTimeout:       s.cfg.TCPIdleTimeout,
		WriteTimeout:      30 * time.Second,
		MaxTCPQueries:     -1,
		NotifyStartedFunc: func() { close(started) },
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.tcp.ActivateAndServe(); err != nil {
			s.log.Error("dns tcp server stopped", "err", err)
		}
	}()
	select {
	case <-started:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	s.ready.Store(true)
	udp, tcp := s.Addr()
	s.log.Info("dns serving", "udp", udp.String(), "tcp", tcp.String(), "zones", len(apexes))
	return nil
}

// listen binds one SO_REUSEPORT UDP socket per CPU (at least two) and the TCP listener, all on one port. When
// Listen asks for port 0, the kernel picks the UDP port, and a few ports are tried until TCP gets the same.
func (s *Server) listen() error {
	var err error
	for range 10 {
		if err = s.tryListen(); err == nil {
			return nil
		}
		if _, p, _ := net.SplitHostPort(s.cfg.Listen); p != "0" {
			break
		}
	}
	return err
}

func (s *Server) tryListen() error {
	n := max(runtime.GOMAXPROCS(0), 2)
	addr := s.cfg.Listen
	s.udpConns = nil
	for i := range n {
		c, err := listenUDP(addr)
		if err != nil {
			s.closeConns()
			return fmt.Errorf("dnsserver: listen udp %s: %w", addr, err)
		}
		s.udpConns = append(s.udpConns, c)
		if i == 0 {
			addr = c.LocalAddr().String() // the kernel's port when Listen asked for :0
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.closeConns()
		return fmt.Errorf("dnsserver: listen tcp %s: %w", addr, err)
	}
	s.tcpLn = ln
	return nil
}

func (s *Server) closeConns() {
	for _, c := range s.udpConns {
		c.Close()
	}
}

// Addr returns the bound UDP and TCP addresses.
func (s *Server) Addr() (udp, tcp net.Addr) {
	if len(s.udpConns) > 0 {
		udp = s.udpConns[0].LocalAddr()
	}
	if s.tcpLn != nil {
		tcp = s.tcpLn.Addr()
	}
	return udp, tcp
}

// Shutdown stops serving and waits for the readers and notifiers to end, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	var err error
	if s.tcp != nil {
		err = s.tcp.ShutdownContext(ctx)
	}
	s.closeConns()
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.notifier.wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

// Apply brings the index up to a committed change and schedules a NOTIFY of the zone. Changes come in commit
// order; a change that does not follow the index's serial makes the server reload the zone from the source, and
// so does a change whose application panicked (the zone's index may be half-changed).
func (s *Server) Apply(c zone.Change) {
	name := strings.ToLower(dns.Fqdn(c.Zone))
	var (
		z            *zoneIdx
		reload, seen bool
	)
	if err := recovery.Call(s.log, EdgeApply, func() { z, reload, seen = s.applyStep(name, c) }); err != nil {
		reload, seen = true, false
	}
	if seen {
		return
	}
	if reload {
		if err := s.reload(name); err != nil {
			s.log.Error("dns zone reload failed; answers stay at the old serial", "zone", name, "err", err)
			return
		}
	} else {
		s.gauges(z)
	}
	if s.notifier != nil {
		s.notifier.schedule(name)
	}
}

// Serial returns the serial of the zone in the index; ok is false when the zone is not loaded.
func (s *Server) Serial(zoneName string) (serial uint32, ok bool) {
	name := strings.ToLower(dns.Fqdn(zoneName))
	s.mu.RLock()
	defer s.mu.RUnlock()
	z := s.zones[name]
	if z == nil {
		return 0, false
	}
	return z.serial(), true
}

// applyStep applies c to the zone's index under the write lock, when c follows the index's serial. Otherwise it
// reports that the zone needs a reload, or that c is in the index already (seen: loaded after the commit).
func (s *Server) applyStep(name string, c zone.Change) (z *zoneIdx, reload, seen bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z = s.zones[name]
	if z == nil || c.From != z.serial() {
		if z != nil && !serialLess(z.serial(), c.To) {
			return z, false, true
		}
		return z, true, false
	}
	if s.panicHook != nil {
		s.panicHook(EdgeApply, name)
	}
	z.apply(c)
	return z, false, false
}

// reload replaces one zone's index with a fresh load from the source (or drops it when the source no longer
// has it).
func (s *Server) reload(name string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	apexes, err := s.src.Apexes()
	if err != nil {
		return err
	}
	for _, a := range apexes {
		if strings.ToLower(dns.Fqdn(a.Zone)) != name {
			continue
		}
		z, err := s.loadZone(a)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.setZone(name, z)
		s.mu.Unlock()
		s.gauges(z)
		s.log.Info("dns zone reloaded", "zone", name, "serial", z.serial(), "records", z.records)
		return nil
	}
	s.mu.Lock()
	s.setZone(name, nil)
	s.mu.Unlock()
	s.m.dropZone(name)
	return nil
}

// serialLess is RFC 1982 serial number arithmetic: a < b.
func serialLess(a, b uint32) bool {
	return a != b && ((a < b && b-a < 1<<31) || (a > b && a-b > 1<<31))
}

// setZone puts a zone into the index (nil removes it); under the write lock.
func (s *Server) setZone(name string, z *zoneIdx) {
	if z == nil {
		delete(s.zones, name)
	} else {
		s.zones[name] = z
	}
	s.zoneList = s.zoneList[:0]
	for _, z := range s.zones {
		s.zoneList = append(s.zoneList, z)
	}
	slices.SortFunc(s.zoneList, func(a, b *zoneIdx) int { return len(b.name) - len(a.name) })
}
