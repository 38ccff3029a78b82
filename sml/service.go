// Package sml is the Service Metadata Locator's business core: domains, SMPs and participants, the DNS records
// they publish, the zone serial and the journal of zone changes. Every use case is one store transaction that
// changes the registry, the owner-name index, the zone serial and the journal together, so the zone served by the
// DNS server (sml/dnsserver) can never drift from the registry. The SOAP API (sml/soap) calls the Service.
package sml

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
	"github.com/signpost-project/signpost/sml/zone"
	"github.com/signpost-project/signpost/store"
)

// Options tune New. The zero value is usable.
type Options struct {
	// Log receives audit lines (one per change) and internal errors. Default: discard.
	Log *slog.Logger
	// Now is the clock (created/updated times, serials). Default time.Now.
	Now func() time.Time
	// JournalSize is how many zone changes are kept per zone for IXFR (conf dns.journal_size). Default 100000.
	JournalSize int
	// OnChange is called after every committed zone change, in commit order (per zone, the changes chain
	// From -> To), before the write that made it returns. It must not call back into the Service's writes.
	OnChange func(zone.Change)
	// OnWrite, when set, is called after every write use case with its operation name and result (for metrics).
	OnWrite func(op string, err error)
}

// DefaultJournalSize is the journal length used when Options.JournalSize is zero.
const DefaultJournalSize = 100000

// journalRecordLimit bounds one journal entry: a change of more records (a new logical address of an SMP with
// very many participants) resets the journal instead, and secondaries transfer the whole zone, which is then
// cheaper than an IXFR anyway. A variable for tests.
var journalRecordLimit = 200000

// Service is the SML's use cases. It is safe for concurrent use.
type Service struct {
	repo        repo
	domains     map[string]*Domain
	zones       []string // configured zones, in configuration order
	log         *slog.Logger
	now         func() time.Time
	journalSize int
	onWrite     func(string, error)
	seq         sequencer
	inflight    atomic.Int32
}

// New opens the SML on db with the configured domains (validated conf.Domain values) and synchronises the domains
// into the store: a new domain gets its zone, a domain whose record settings changed gets its name index rebuilt,
// a new serial and an empty journal (secondaries then transfer the whole zone).
func New(db *store.DB, domains []conf.Domain, opts Options) (*Service, error) {
	return newService(storeRepo{db}, domains, opts)
}

func newService(r repo, domains []conf.Domain, opts Options) (*Service, error) {
	s := &Service{repo: r, domains: map[string]*Domain{}, log: opts.Log, now: opts.Now, journalSize: opts.JournalSize,
		onWrite: opts.OnWrite}
	if s.log == nil {
		s.log = logging.Discard()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.journalSize <= 0 {
		s.journalSize = DefaultJournalSize
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
	s.seq.init(opts.OnChange)
	return s, s.repo.View(func(t txn) error {
		for _, z := range s.zones {
			st, _, err := t.zone(z)
			if err != nil {
				return err
			}
			s.seq.last[z] = st.Serial
		}
		return nil
	})
}

// settings is the fingerprint of what a domain's records depend on.
func (d *Domain) settings() string {
	glue := ""
	for _, r := range d.Glue {
		glue += " " + r.Name + "=" + r.Addr.String()
	}
	return fmt.Sprintf("v1 naptr=%t cname=%t hashing=%s ttl=%d glue=%s", d.NAPTR, d.CNAME, d.Hashing, d.TTL, glue)
}

func (s *Service) syncDomains() error {
	return s.repo.Update(func(t txn) error {
		for _, z := range s.zones {
			d := s.domains[z]
			st, found, err := t.zone(z)
			if err != nil {
				return err
			}
			old, _ := t.domainSettings(z)
			if found && old == d.settings() {
				continue
			}
			if !found {
				st = zoneState{FirstSeq: 1, NextSeq: 1}
				s.log.Info("sml: new zone", "zone", z)
			} else {
				s.log.Warn("sml: domain record settings changed; rebuilding the zone's name index and resetting its journal (secondaries will transfer the whole zone)",
					"zone", z, "was", old, "now", d.settings())
			}
			if err := s.rebuildNames(t, d); err != nil {
				return err
			}
			if err := t.deleteJournals(z); err != nil {
				return err
			}
			st.FirstSeq = st.NextSeq
			st.Serial = nextSerial(st.Serial, s.now())
			st.Settings = d.settings()
			if err := t.putZone(z, st); err != nil {
				return err
			}
			if err := t.putDomainSettings(z, d.settings()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) rebuildNames(t txn, d *Domain) error {
	if err := t.deleteNames(d.Zone); err != nil {
		return err
	}
	if err := t.eachSMP(func(smp SMP) error {
		if smp.Domain != d.Zone || !d.CNAME {
			return nil
		}
		return t.putName(PublisherName(smp.ID, d.Zone), "s"+smp.ID)
	}); err != nil {
		return err
	}
	var names []string
	if err := t.eachParticipant(d.Zone, func(p Participant) error {
		names = append(names, d.indexName(p.ID))
		return nil
	}); err != nil {
		return err
	}
	for _, n := range names {
		if err := t.putName(n, nameParticipant); err != nil {
			return err
		}
	}
	return nil
}

// Domains returns the configured domains, in configuration order.
func (s *Service) Domains() []Domain {
	out := make([]Domain, 0, len(s.zones))
	for _, z := range s.zones {
		out = append(out, *s.domains[z])
	}
	return out
}

// Domain returns the configured domain of zone (FQDN, any case, with or without the final dot).
func (s *Service) Domain(zoneName string) (Domain, bool) {
	d, ok := s.domains[fqdn(zoneName)]
	if !ok {
		return Domain{}, false
	}
	return *d, true
}

// nextSerial is max(prev+1, unix seconds of now) in RFC 1982 serial arithmetic.
func nextSerial(prev uint32, now time.Time) uint32 {
	t := uint32(now.Unix())
	if serialLess(prev, t) {
		return t
	}
	return prev + 1
}

// serialLess reports a < b in RFC 1982 serial number arithmetic.
func serialLess(a, b uint32) bool { return a != b && int32(b-a) > 0 }

// ---- transactions ----

// change collects one use case's zone change inside its transaction.
type change struct {
	zone         string
	del, add     []zone.Record
	participants int64 // change in the zone's participant count
	forceSerial  uint32
	// audit logs the use case's audit line; called once, after the commit (fn may run more than once).
	audit func()
	// resetJournal drops the zone's journal instead of appending the change (bulk import): secondaries then
	// transfer the whole zone.
	resetJournal bool
}

// write runs fn as one transaction of a write use case and applies the zone change it collects: new serial,
// journal entry (trimmed), zone state. Then it hands the change to OnChange in commit order.
func (s *Service) write(ctx context.Context, op string, fn func(t txn, c *change) error) error {
	return s.writeTx(ctx, op, false, fn)
}

// writeTx is write; solo runs the transaction alone (large transactions), never in a shared batch.
func (s *Service) writeTx(ctx context.Context, op string, solo bool, fn func(t txn, c *change) error) error {
	err := s.doWrite(ctx, op, solo, fn)
	if s.onWrite != nil {
		s.onWrite(op, err)
	}
	return err
}

func (s *Service) doWrite(ctx context.Context, op string, solo bool, fn func(t txn, c *change) error) error {
	if err := ctx.Err(); err != nil {
		return &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	var out zone.Change
	var changed bool
	var audit func()
	run := func(t txn) error {
		changed, audit = false, nil
		c := &change{}
		if err := fn(t, c); err != nil {
			return err
		}
		audit = c.audit
		if c.zone == "" || (len(c.del) == 0 && len(c.add) == 0 && c.participants == 0 && c.forceSerial == 0) {
			return nil
		}
		st, _, err := t.zone(c.zone)
		if err != nil {
			return err
		}
		next := nextSerial(st.Serial, s.now())
		if c.forceSerial != 0 && serialLess(next, c.forceSerial) {
			next = c.forceSerial
		}
		out = zone.Change{Zone: c.zone, From: st.Serial, To: next, Deleted: c.del, Added: c.add}
		if c.resetJournal || len(c.del)+len(c.add) > journalRecordLimit {
			if err := t.deleteJournals(c.zone); err != nil {
				return err
			}
			st.FirstSeq = st.NextSeq
		} else {
			if err := t.putJournal(c.zone, st.NextSeq, out); err != nil {
				return err
			}
			st.NextSeq++
		}
		for st.NextSeq-st.FirstSeq > uint64(s.journalSize) {
			if err := t.deleteJournal(c.zone, st.FirstSeq); err != nil {
				return err
			}
			st.FirstSeq++
		}
		st.Serial = next
		st.Participants += c.participants
		if err := t.putZone(c.zone, st); err != nil {
			return err
		}
		changed = true
		return nil
	}
	var err error
	if s.inflight.Add(1) > 1 && !solo {
		// Concurrent writers share a commit (one fsync). A refused call would roll the shared transaction back
		// and make every other call in it run again, so refusals are found first in a read-only dry run: a
		// refusal on that snapshot is a correct answer (as if the call had come at that moment).
		err = s.repo.View(func(t txn) error { return fn(dryTxn{t}, &change{}) })
		if e, ok := err.(*Error); !ok || e.Kind == KindInternal {
			err = s.repo.Batch(run)
		}
	} else {
		err = s.repo.Update(run)
	}
	s.inflight.Add(-1)
	if err != nil {
		return s.fail(op, err)
	}
	if changed {
		s.seq.deliver(out)
	}
	if audit != nil {
		audit()
	}
	return nil
}

// audit logs the audit line of one committed change: msg "sml change", audit=true, the operation, the caller's
// certificate identity, the domain (zone), the SMP ID and args (the identifier and other details). It is the only
// place that writes audit lines of SOAP changes: one per SMP change and one per participant created or removed.
func (s *Service) audit(op string, c Caller, d *Domain, smpID string, args ...any) {
	s.log.Info("sml change", append([]any{logging.Audit, "op", op, "caller", c.Identity, "domain", d.Zone, "smp", smpID}, args...)...)
}

// fail logs internal errors with their cause and returns err as an *Error.
func (s *Service) fail(op string, err error) error {
	if e, ok := err.(*Error); ok {
		if e.Kind == KindInternal {
			s.log.Error("sml: "+op+" failed", "err", e.Err)
		}
		return e
	}
	s.log.Error("sml: "+op+" failed", "err", err)
	return internal(op, err)
}

// sequencer hands committed changes to OnChange in commit order: per zone, change N+1 (From == N.To) only after
// change N. Writers sharing a batch commit return from the store in any order; each waits until its own change
// (and every earlier one) has been handed over.
type sequencer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	fn      func(zone.Change)
	last    map[string]uint32
	pending map[string]map[uint32]zone.Change
}

func (q *sequencer) init(fn func(zone.Change)) {
	q.cond = sync.NewCond(&q.mu)
	q.fn = fn
	q.last = map[string]uint32{}
	q.pending = map[string]map[uint32]zone.Change{}
}

func (q *sequencer) deliver(c zone.Change) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pending[c.Zone]
	if p == nil {
		p = map[uint32]zone.Change{}
		q.pending[c.Zone] = p
	}
	p[c.From] = c
	for {
		n, ok := p[q.last[c.Zone]]
		if !ok {
			break
		}
		delete(p, n.From)
		if q.fn != nil {
			q.fn(n)
		}
		q.last[c.Zone] = n.To
	}
	q.cond.Broadcast()
	for serialLess(q.last[c.Zone], c.To) {
		q.cond.Wait()
	}
}

// Values of the name index: a participant ("p"), or "s" + the SMP ID of a publisher name.
const nameParticipant = "p"

// ---- checks ----

// callerDomain returns the domain of the caller's certificate.
func (s *Service) callerDomain(c Caller) (*Domain, error) {
	d, ok := s.domains[fqdn(c.Domain)]
	if !ok {
		return nil, errorf(KindUnauthorized, "your certificate does not belong to a domain of this SML; ask the SML operator which certificate issuer is trusted")
	}
	if c.Identity == "" {
		return nil, errorf(KindUnauthorized, "no client certificate identity; call with your SMP certificate")
	}
	return d, nil
}

// ownedSMP reads the SMP and checks that the caller owns it.
func (s *Service) ownedSMP(t txn, c Caller, id string) (SMP, *Domain, error) {
	if err := checkSMPID(id); err != nil {
		return SMP{}, nil, err
	}
	smp, ok, err := t.smp(id)
	if err != nil {
		return SMP{}, nil, err
	}
	if !ok {
		return SMP{}, nil, errorf(KindNotFound, "[ERR-100] the SMP '%s' does not exist; create it first (CreateServiceMetadataPublisherService)", id)
	}
	if smp.Owner != c.Identity {
		return SMP{}, nil, errorf(KindUnauthorized, "the SMP '%s' belongs to another certificate; call with the certificate that created it", id)
	}
	d, ok := s.domains[smp.Domain]
	if !ok || smp.Domain != fqdn(c.Domain) {
		return SMP{}, nil, errorf(KindUnauthorized, "the SMP '%s' is not in the SML domain of your certificate", id)
	}
	return smp, d, nil
}

// checkSMPID checks that id can form a DNS label: 1..63 letters, digits, '-' or '_', not beginning or ending with '-'.
func checkSMPID(id string) error {
	if id == "" {
		return errorf(KindBadRequest, "the SMP ID is empty; give the ID agreed for your SMP")
	}
	if len(id) > 63 {
		return errorf(KindBadRequest, "the SMP ID '%s' is longer than 63 characters (it must form a DNS label)", shorten(id))
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-'
		if !ok {
			return errorf(KindBadRequest, "the SMP ID '%s' has the character %q at position %d; use letters, digits, '-' and '_' (it must form a DNS label)", shorten(id), rune(ch), i+1)
		}
	}
	if id[0] == '-' || id[len(id)-1] == '-' {
		return errorf(KindBadRequest, "the SMP ID '%s' begins or ends with '-'; it must form a DNS label", id)
	}
	return nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// MaxAddressLength bounds the logical address: it goes into a NAPTR character-string (255 bytes with "!^.*$!...!").
const MaxAddressLength = 240

func checkAddresses(smp *SMP) error {
	smp.LogicalAddress = strings.TrimSpace(smp.LogicalAddress)
	smp.PhysicalAddress = strings.TrimSpace(smp.PhysicalAddress)
	la := smp.LogicalAddress
	u, err := url.Parse(la)
	if la == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errorf(KindBadRequest, "the logical address '%s' is not an absolute http or https URL; give the SMP's base URL, e.g. https://smp.example.org", shorten(la))
	}
	if len(la) > MaxAddressLength {
		return errorf(KindBadRequest, "the logical address is %d characters long; at most %d fit into a NAPTR record", len(la), MaxAddressLength)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(la, "!\\\" ") {
		return errorf(KindBadRequest, "the logical address '%s' has a query, fragment, space, quote, '!' or '\\'; give the SMP's base URL only", shorten(la))
	}
	for _, r := range la {
		if r > unicode.MaxASCII || unicode.IsControl(r) {
			return errorf(KindBadRequest, "the logical address '%s' has a non-ASCII or control character; encode it (punycode host, percent-encoded path)", shorten(la))
		}
	}
	if smp.PhysicalAddress != "" {
		a, err := netip.ParseAddr(smp.PhysicalAddress)
		if err != nil || a.Zone() != "" {
			return errorf(KindBadRequest, "the physical address '%s' is not an IP address; give the SMP's IPv4 address, e.g. 192.0.2.10", shorten(smp.PhysicalAddress))
		}
	}
	return nil
}

// ---- SMP use cases ----

// CreateSMP registers a new SMP in the caller's domain, owned by the caller's certificate.
func (s *Service) CreateSMP(ctx context.Context, c Caller, smp SMP) error {
	return s.write(ctx, "create-smp", func(t txn, ch *change) error {
		d, err := s.callerDomain(c)
		if err != nil {
			return err
		}
		if smp.Domain != "" && fqdn(smp.Domain) != d.Zone {
			return errorf(KindUnauthorized, "the SMP '%s' would be in domain %s but your certificate belongs to %s", smp.ID, fqdn(smp.Domain), d.Zone)
		}
		if err := checkSMPID(smp.ID); err != nil {
			return err
		}
		if err := checkAddresses(&smp); err != nil {
			return err
		}
		if _, exists, err := t.smp(smp.ID); err != nil {
			return err
		} else if exists {
			return errorf(KindAlreadyExists, "[ERR-106] the SMP '%s' already exists", smp.ID)
		}
		now := s.now().UTC()
		smp.Owner, smp.Domain, smp.Created, smp.Updated = c.Identity, d.Zone, now, now
		if err := s.putPublisher(t, d, smp); err != nil {
			return err
		}
		if err := t.putSMP(smp); err != nil {
			return err
		}
		ch.zone, ch.add = d.Zone, d.smpRecords(smp)
		ch.audit = func() {
			s.audit("create-smp", c, d, smp.ID, "logical_address", smp.LogicalAddress, "physical_address", smp.PhysicalAddress)
		}
		return nil
	})
}

func (s *Service) putPublisher(t txn, d *Domain, smp SMP) error {
	if !d.CNAME {
		return nil
	}
	name := PublisherName(smp.ID, d.Zone)
	if what, ok := t.name(name); ok && what != "s"+smp.ID {
		return errorf(KindBadRequest, "the DNS name %s is taken; choose another SMP ID", name)
	}
	return t.putName(name, "s"+smp.ID)
}

// ReadSMP returns the caller's SMP.
func (s *Service) ReadSMP(ctx context.Context, c Caller, id string) (SMP, error) {
	if err := ctx.Err(); err != nil {
		return SMP{}, &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	if _, err := s.callerDomain(c); err != nil {
		return SMP{}, err
	}
	var out SMP
	err := s.repo.View(func(t txn) error {
		smp, _, err := s.ownedSMP(t, c, id)
		out = smp
		return err
	})
	if err != nil {
		return SMP{}, s.fail("read-smp", err)
	}
	return out, nil
}

// UpdateSMP changes the addresses of the caller's SMP. A new logical address changes the NAPTR records of all
// its participants, and the publisher record, in the same transaction.
func (s *Service) UpdateSMP(ctx context.Context, c Caller, smp SMP) error {
	return s.writeTx(ctx, "update-smp", true, func(t txn, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		old, d, err := s.ownedSMP(t, c, smp.ID)
		if err != nil {
			return err
		}
		if err := checkAddresses(&smp); err != nil {
			return err
		}
		nu := old
		nu.LogicalAddress, nu.PhysicalAddress, nu.Updated = smp.LogicalAddress, smp.PhysicalAddress, s.now().UTC()
		if err := t.putSMP(nu); err != nil {
			return err
		}
		ch.zone = d.Zone
		if err := d.addressChange(t, old, nu, ch); err != nil {
			return err
		}
		ch.audit = func() {
			s.audit("update-smp", c, d, nu.ID, "logical_address", nu.LogicalAddress, "physical_address", nu.PhysicalAddress,
				"records_changed", len(ch.add))
		}
		return nil
	})
}

// addressChange adds to ch the records that change when an SMP's addresses change from old to nu: its publisher
// record and, for a new logical address, the NAPTR records of all its participants.
func (d *Domain) addressChange(t txn, old, nu SMP, ch *change) error {
	od, na := diff(d.smpRecords(old), d.smpRecords(nu))
	ch.del, ch.add = append(ch.del, od...), append(ch.add, na...)
	if old.LogicalAddress == nu.LogicalAddress || !d.NAPTR {
		return nil
	}
	return t.eachOfSMP(old.ID, "", func(p Participant, _ string) error {
		od, na := diff(d.participantRecords(p, old), d.participantRecords(p, nu))
		ch.del, ch.add = append(ch.del, od...), append(ch.add, na...)
		return nil
	})
}

// diff returns the records of a not in b and of b not in a.
func diff(a, b []zone.Record) (del, add []zone.Record) {
	eq := func(x, y zone.Record) bool {
		if x.Name != y.Name || x.Type != y.Type || x.TTL != y.TTL || x.Target != y.Target || x.Addr != y.Addr {
			return false
		}
		if (x.NAPTR == nil) != (y.NAPTR == nil) {
			return false
		}
		return x.NAPTR == nil || *x.NAPTR == *y.NAPTR
	}
	in := func(r zone.Record, set []zone.Record) bool {
		for _, o := range set {
			if eq(r, o) {
				return true
			}
		}
		return false
	}
	for _, r := range a {
		if !in(r, b) {
			del = append(del, r)
		}
	}
	for _, r := range b {
		if !in(r, a) {
			add = append(add, r)
		}
	}
	return del, add
}

// DeleteSMP removes the caller's SMP and, in the same transaction, all its participants. It returns the
// identifiers removed.
func (s *Service) DeleteSMP(ctx context.Context, c Caller, id string) (removed []identifier.ID, err error) {
	err = s.writeTx(ctx, "delete-smp", true, func(t txn, ch *change) error {
		removed = nil
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, id)
		if err != nil {
			return err
		}
		var ps []Participant
		if err := t.eachOfSMP(smp.ID, "", func(p Participant, _ string) error {
			ps = append(ps, p)
			return nil
		}); err != nil {
			return err
		}
		ch.zone = d.Zone
		for _, p := range ps {
			if err := s.removeParticipant(t, d, p, smp, ch); err != nil {
				return err
			}
			removed = append(removed, p.ID)
		}
		if d.CNAME {
			if err := t.deleteName(PublisherName(smp.ID, d.Zone)); err != nil {
				return err
			}
		}
		ch.del = append(ch.del, d.smpRecords(smp)...)
		if err := t.deleteSMP(smp.ID); err != nil {
			return err
		}
		ch.audit = func() {
			for _, p := range ps {
				s.audit("delete-participant", c, d, smp.ID, "participant", p.ID.String(), "cause", "delete-smp")
			}
			s.audit("delete-smp", c, d, smp.ID, "participants_removed", len(ps))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

func (s *Service) removeParticipant(t txn, d *Domain, p Participant, smp SMP, ch *change) error {
	if err := t.deleteParticipant(p); err != nil {
		return err
	}
	if err := t.deleteName(d.indexName(p.ID)); err != nil {
		return err
	}
	ch.del = d.appendParticipantRecords(ch.del, p, smp)
	ch.participants--
	return nil
}

// ---- participant use cases ----

// canonical validates a received identifier with the domain's policy and scheme pattern. wildcard allows "*".
func (d *Domain) canonical(raw identifier.ID, wildcard bool) (identifier.ID, error) {
	var id identifier.ID
	if raw.Value == Wildcard {
		if !wildcard {
			return id, errorf(KindUnauthorized, "registering the wildcard participant '*' of scheme '%s' needs a certificate allowed to; ask the SML operator", raw.Scheme)
		}
		if d.Hashing != identifier.SchemeLabel {
			return id, errorf(KindBadRequest, "the wildcard participant '*' needs a domain with a scheme label (hashing scheme-label)")
		}
		probe, err := d.Policy.New(identifier.Participant, raw.Scheme, "wildcard")
		if err != nil && !d.Policy.Lax && strings.EqualFold(raw.Scheme, identifier.SchemeISO6523) {
			probe, err = identifier.ID{Scheme: identifier.SchemeISO6523}, nil
		}
		if err != nil {
			return id, &Error{Kind: KindBadRequest, Msg: err.Error()}
		}
		id = identifier.ID{Scheme: probe.Scheme, Value: Wildcard}
	} else {
		var err error
		id, err = d.Policy.New(identifier.Participant, strings.TrimSpace(raw.Scheme), strings.TrimSpace(raw.Value))
		if err != nil {
			return id, &Error{Kind: KindBadRequest, Msg: err.Error() + "; correct the participant identifier"}
		}
	}
	if d.schemes != nil && !d.schemes.MatchString(id.Scheme) {
		return id, errorf(KindBadRequest, "the participant scheme '%s' is not accepted in domain %s (allowed: %s)", id.Scheme, d.Zone, d.SchemePattern)
	}
	return id, nil
}

func checkService(svc string) (string, error) {
	if svc == "" {
		return DefaultService, nil
	}
	if len(svc) > 100 {
		return "", errorf(KindBadRequest, "the NAPTR service '%s' is longer than 100 characters", shorten(svc))
	}
	for _, r := range svc {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' {
			return "", errorf(KindBadRequest, "the NAPTR service '%s' has a space, quote, backslash or non-ASCII character; use e.g. Meta:SMP", shorten(svc))
		}
	}
	return svc, nil
}

func checkBatch(n int) error {
	if n < 1 || n > MaxBatch {
		return errorf(KindBadRequest, "%d participants in one call; give 1 to %d", n, MaxBatch)
	}
	return nil
}

// CreateParticipants registers 1..MaxBatch participants for the caller's SMP: all of them, or none when any is
// refused.
func (s *Service) CreateParticipants(ctx context.Context, c Caller, smpID string, ps []ParticipantSpec) error {
	if err := checkBatch(len(ps)); err != nil {
		return s.reject("create-participants", err)
	}
	return s.write(ctx, "create-participants", func(t txn, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, smpID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		seen := make(map[identifier.ID]bool, len(ps))
		created := make([]Participant, 0, len(ps))
		ch.zone = d.Zone
		for _, spec := range ps {
			id, err := d.canonical(spec.ID, c.Wildcard)
			if err != nil {
				return err
			}
			if seen[id] {
				return errorf(KindBadRequest, "the participant '%s' is listed twice; list each participant once", id)
			}
			seen[id] = true
			svc, err := checkService(spec.Service)
			if err != nil {
				return err
			}
			if _, exists, err := t.participant(d.Zone, id); err != nil {
				return err
			} else if exists {
				return errorf(KindAlreadyExists, "[ERR-106] the participant '%s' already exists", id)
			}
			p := Participant{ID: id, SMPID: smp.ID, Service: svc, Domain: d.Zone, Created: now, Updated: now}
			if err := s.addParticipant(t, d, p, smp, ch); err != nil {
				return err
			}
			created = append(created, p)
		}
		ch.audit = func() {
			for _, p := range created {
				s.audit("create-participant", c, d, smp.ID, "participant", p.ID.String(), "service", p.Service)
			}
		}
		return nil
	})
}

func (s *Service) addParticipant(t txn, d *Domain, p Participant, smp SMP, ch *change) error {
	// Callers add only participants that are not registered (or were just removed): any entry at the name is
	// another participant (a case variant of a case-sensitive scheme) or an SMP's publisher name.
	n := d.indexName(p.ID)
	if _, taken := t.name(n); taken {
		return errorf(KindBadRequest, "the DNS name %s of participant '%s' is taken by another entry (a participant differing only in case?)", n, p.ID)
	}
	if err := t.putName(n, nameParticipant); err != nil {
		return err
	}
	if err := t.putParticipant(p); err != nil {
		return err
	}
	ch.add = d.appendParticipantRecords(ch.add, p, smp)
	ch.participants++
	return nil
}

// reject reports an error found before any transaction.
func (s *Service) reject(op string, err error) error {
	if s.onWrite != nil {
		s.onWrite(op, err)
	}
	return err
}

// DeleteParticipants removes 1..MaxBatch participants of the caller's SMP: all of them, or none when any is
// refused.
func (s *Service) DeleteParticipants(ctx context.Context, c Caller, smpID string, ids []identifier.ID) error {
	if err := checkBatch(len(ids)); err != nil {
		return s.reject("delete-participants", err)
	}
	return s.write(ctx, "delete-participants", func(t txn, ch *change) error {
		if _, err := s.callerDomain(c); err != nil {
			return err
		}
		smp, d, err := s.ownedSMP(t, c, smpID)
		if err != nil {
			return err
		}
		ch.zone = d.Zone
		seen := make(map[identifier.ID]bool, len(ids))
		deleted := make([]identifier.ID, 0, len(ids))
		for _, raw := range ids {
			id, err := d.canonical(raw, true)
			if err != nil {
				return err
			}
			if seen[id] {
				return errorf(KindBadRequest, "the participant '%s' is listed twice; list each participant once", id)
			}
			seen[id] = true
			p, ok, err := t.participant(d.Zone, id)
			if err != nil {
				return err
			}
			if !ok || !strings.EqualFold(p.SMPID, smp.ID) {
				return errorf(KindNotFound, "[ERR-110] the participant '%s' is not registered for the SMP '%s'", id, smp.ID)
			}
			if err := s.removeParticipant(t, d, p, smp, ch); err != nil {
				return err
			}
			deleted = append(deleted, p.ID)
		}
		ch.audit = func() {
			for _, id := range deleted {
				s.audit("delete-participant", c, d, smp.ID, "participant", id.String())
			}
		}
		return nil
	})
}

// DefaultPageSize and MaxPageSize bound ListParticipants pages.
const (
	DefaultPageSize = 100
	MaxPageSize     = 10000
)

// ListParticipants returns one page of the caller's SMP's participants, in a stable order. next is "" on the
// last page; otherwise pass it as pageToken for the next page. The token is the last key seen, so paging stays
// correct while others write (pages are not one snapshot: a participant added behind the cursor appears later).
func (s *Service) ListParticipants(ctx context.Context, c Caller, smpID, pageToken string, pageSize int) (ids []identifier.ID, next string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, "", &Error{Kind: KindInternal, Msg: "the request was cancelled", Err: err}
	}
	if _, err := s.callerDomain(c); err != nil {
		return nil, "", err
	}
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	after := ""
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || len(b) == 0 {
			return nil, "", errorf(KindBadRequest, "the page token '%s' is not one this SML gave; start again without a token", shorten(pageToken))
		}
		after = string(b)
	}
	err = s.repo.View(func(t txn) error {
		ids, next = nil, ""
		if _, _, err := s.ownedSMP(t, c, smpID); err != nil {
			return err
		}
		last := ""
		err := t.eachOfSMP(smpID, after, func(p Participant, cursor string) error {
			if len(ids) == pageSize {
				next = base64.RawURLEncoding.EncodeToString([]byte(last))
				return errStop
			}
			ids = append(ids, p.ID)
			last = cursor
			return nil
		})
		return err
	})
	if err != nil {
		return nil, "", s.fail("list-participants", err)
	}
	return ids, next, nil
}
