// Package sml is the Service Metadata Locator's business core: domains, SMPs and participants, the DNS records
// they publish, the zone serial and the journal of zone changes. Every use case is one store transaction that
// changes the registry, the owner-name index, the zone serial and the journal together, so the zone served by the
// DNS server (sml/dnsserver) can never drift from the registry. The SOAP API (sml/soap) calls the Service.
package sml

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/sml/zone"
)

// Options tune New. The zero value is usable.
type Options struct {
	// Log receives audit lines (one per change) and internal errors. Default: discard.
	Log *slog.Logger
	// Now is the clock (created/updated times, serials). Default time.Now.
	Now func() time.Time
	// JournalSize is how many zone changes are kept per zone for IXFR (conf dns.journal_size). Default
	// zone.DefaultJournalSize.
	JournalSize int
	// OnChange is called after every committed zone change, in commit order (per zone, the changes chain
	// From -> To), before the write that made it returns. It must not call back into the Service's writes.
	OnChange func(zone.Change)
	// Served, when set, returns the serial at which the consumer of OnChange (the DNS server's index) serves the
	// zone (ok false: not loaded). The follower's poll compares it with the last serial handed over and, when the
	// consumer is behind (its reload failed while the store was unreachable), hands over a change that makes it
	// load the zone afresh.
	Served func(zone string) (serial uint32, ok bool)
	// OnWrite, when set, is called after every write use case with its operation name and result (for metrics).
	OnWrite func(op string, err error)
	// MigrationKeyTTL is how long a key of PrepareToMigrate stays valid (conf migration.key_ttl). Default
	// conf.DefaultMigrationKeyTTL.
	MigrationKeyTTL time.Duration
	// FollowPoll is how often Follow checks every zone for changes of other nodes when no notification came.
	// Default DefaultFollowPoll.
	FollowPoll time.Duration
}

// Service is the SML's use cases. It is safe for concurrent use.
type Service struct {
	repo        Repo
	domains     map[string]*Domain
	zones       []string // configured zones, in configuration order
	log         *slog.Logger
	now         func() time.Time
	journalSize int
	onWrite     func(string, error)
	seq         sequencer
	inflight    atomic.Int32
	keyTTL      time.Duration
	followPoll  time.Duration
	served      func(string) (uint32, bool)
	catchMu     sync.Mutex // one catch-up from the journal at a time (catchUp)
}

// New opens the SML on the repository r with the configured domains (validated conf.Domain values) and synchronises the domains
// into the store: a new domain gets its zone, a domain whose record settings changed gets its name index rebuilt,
// a new serial and an empty journal (secondaries then transfer the whole zone).
func New(r Repo, domains []conf.Domain, opts Options) (*Service, error) {
	s := &Service{repo: r, domains: map[string]*Domain{}, log: opts.Log, now: opts.Now, journalSize: opts.JournalSize,
		onWrite: opts.OnWrite}
	if s.log == nil {
		s.log = logging.Discard()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.journalSize <= 0 {
		s.journalSize = zone.DefaultJournalSize
	}
	s.served = opts.Served
	if s.followPoll = opts.FollowPoll; s.followPoll <= 0 {
		s.followPoll = DefaultFollowPoll
	}
	if s.keyTTL = opts.MigrationKeyTTL; s.keyTTL <= 0 {
		s.keyTTL = conf.DefaultMigrationKeyTTL
	}
	if len(domains) == 0 {
		return nil, fmt.Errorf("sml: no domains configured")
	}
	for _, c := range domains {
		d, err := DomainFromConf(c)
		if err != nil {
			return nil, err
		}
		if _, dup := s.domains[d.Zone]; dup {
			return nil, fmt.Errorf("sml: domain %s is configured twice", d.Zone)
		}
		s.domains[d.Zone] = &d
		s.zones = append(s.zones, d.Zone)
	}
	if err := s.syncDomains(); err != nil {
		return nil, err
	}
	s.seq.init(opts.OnChange, s.log)
	return s, s.repo.View(func(t Tx) error {
		for _, z := range s.zones {
			st, _, err := t.Zone(z)
			if err != nil {
				return err
			}
			s.seq.last[z] = st.Serial
		}
		return nil
	})
}
