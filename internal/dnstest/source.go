package dnstest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/signpost-project/signpost/sml/zone"
)

// Source is an in-memory zone source with a bounded journal, implementing the DNS server's Source interface
// the way the SML service does over its store: every Commit raises the serial by one and journals the step.
// Its method set matches dnsserver.Source.
type Source struct {
	mu    sync.Mutex
	zones map[string]*memZone
	// OnCommit, when set, is called after each commit with the step (the server's Apply).
	OnCommit func(zone.Change)
}

type memZone struct {
	apex    zone.Apex
	records map[string]zone.Record
	journal []zone.Change
	keep    int
}

// NewSource returns an empty source.
func NewSource() *Source { return &Source{zones: map[string]*memZone{}} }

// AddZone adds a zone (lower-case FQDN in a.Zone) keeping up to keep journal steps.
func (s *Source) AddZone(a zone.Apex, keep int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[a.Zone] = &memZone{apex: a, records: map[string]zone.Record{}, keep: keep}
}

// Key identifies a record by owner, type and data (TTL aside).
func Key(r zone.Record) string {
	k := fmt.Sprintf("%s|%d|%s|%s", strings.ToLower(r.Name), r.Type, strings.ToLower(r.Target), r.Addr)
	if r.NAPTR != nil {
		k += fmt.Sprintf("|%+v", *r.NAPTR)
	}
	return k
}

// Load puts records into a zone without a journal step or serial change (an initial load).
func (s *Source) Load(zoneName string, recs []zone.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[zoneName]
	for _, r := range recs {
		z.records[Key(r)] = r
	}
}

// Commit deletes and adds records in one step: serial+1, journaled, then OnCommit.
func (s *Source) Commit(zoneName string, del, add []zone.Record) zone.Change {
	s.mu.Lock()
	z := s.zones[zoneName]
	c := zone.Change{Zone: zoneName, From: z.apex.SOA.Serial, To: z.apex.SOA.Serial + 1}
	for _, r := range del {
		if _, ok := z.records[Key(r)]; ok {
			delete(z.records, Key(r))
			c.Deleted = append(c.Deleted, r)
		}
	}
	for _, r := range add {
		if _, ok := z.records[Key(r)]; !ok {
			z.records[Key(r)] = r
			c.Added = append(c.Added, r)
		}
	}
	z.apex.SOA.Serial = c.To
	z.journal = append(z.journal, c)
	if len(z.journal) > z.keep {
		z.journal = slices.Delete(z.journal, 0, len(z.journal)-z.keep)
	}
	on := s.OnCommit
	s.mu.Unlock()
	if on != nil {
		on(c)
	}
	return c
}

// Apexes implements dnsserver.Source.
func (s *Source) Apexes() ([]zone.Apex, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []zone.Apex
	for _, z := range s.zones {
		out = append(out, z.apex)
	}
	return out, nil
}

// StreamRecords implements dnsserver.ZoneStreamer: Records with the serial told first.
func (s *Source) StreamRecords(zoneName string, head func(serial uint32) error, fn func(zone.Record) error) error {
	s.mu.Lock()
	z, ok := s.zones[zoneName]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("no zone %s", zoneName)
	}
	recs := make([]zone.Record, 0, len(z.records))
	for _, r := range z.records {
		recs = append(recs, r)
	}
	serial := z.apex.SOA.Serial
	s.mu.Unlock()
	if err := head(serial); err != nil {
		return err
	}
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Records implements dnsserver.Source.
func (s *Source) Records(zoneName string, fn func(zone.Record) error) (uint32, error) {
	s.mu.Lock()
	z, ok := s.zones[zoneName]
	if !ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("no zone %s", zoneName)
	}
	recs := make([]zone.Record, 0, len(z.records))
	for _, r := range z.records {
		recs = append(recs, r)
	}
	serial := z.apex.SOA.Serial
	s.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return 0, err
		}
	}
	return serial, nil
}

// Changes implements dnsserver.Source.
func (s *Source) Changes(zoneName string, from uint32) ([]zone.Change, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[zoneName]
	if !ok {
		return nil, false, nil
	}
	for i, c := range z.journal {
		if c.From == from {
			return slices.Clone(z.journal[i:]), true, nil
		}
	}
	return nil, false, nil
}
