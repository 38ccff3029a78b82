package sml

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/zone"
)

// This file computes the DNS records of participants and SMPs from the domain settings (DESIGN.md 1.3). It is
// the only place that knows their shape.

// Wildcard is the participant value that registers a whole scheme: *.<scheme>.<zone>.
const Wildcard = "*"

// PublisherName returns <smp-id>.publisher.<zone>, lower case.
func PublisherName(smpID, zoneName string) string {
	return strings.ToLower(smpID) + ".publisher." + zoneName
}

// naptrOwner and cnameOwner return the owner names of a participant; a wildcard participant lives at
// *.<scheme>.<zone>.
func (d *Domain) naptrOwner(id identifier.ID) string {
	if id.Value == Wildcard {
		return wildcardOwner(id, d.Zone)
	}
	return identifier.NAPTRName(id, d.Zone, d.Hashing)
}

func (d *Domain) cnameOwner(id identifier.ID) string {
	if id.Value == Wildcard {
		return wildcardOwner(id, d.Zone)
	}
	return identifier.CNAMEName(id, d.Zone, d.Hashing)
}

func wildcardOwner(id identifier.ID, zoneName string) string {
	if id.Scheme == "" {
		return "*." + zoneName
	}
	return "*." + strings.ToLower(id.Scheme) + "." + zoneName
}

// participantRecords returns the records of p, whose SMP is smp.
func (d *Domain) participantRecords(p Participant, smp SMP) []zone.Record {
	out := make([]zone.Record, 0, 2)
	return d.appendParticipantRecords(out, p, smp)
}

func (d *Domain) appendParticipantRecords(out []zone.Record, p Participant, smp SMP) []zone.Record {
	if d.NAPTR {
		out = append(out, zone.Record{Name: d.naptrOwner(p.ID), Type: zone.TypeNAPTR, TTL: d.TTL, NAPTR: &zone.NAPTR{
			Order: 100, Preference: 10, Flags: "U", Service: p.Service,
			Regexp: "!^.*$!" + smp.LogicalAddress + "!", Replacement: ".",
		}})
	}
	if d.cnameFor(p.ID) {
		out = append(out, zone.Record{Name: d.cnameOwner(p.ID), Type: zone.TypeCNAME, TTL: d.TTL,
			Target: PublisherName(smp.ID, d.Zone)})
	}
	return out
}

// indexName returns the owner name under which participant id is kept in the name index. Both of its names
// (NAPTR and B- CNAME) are functions of the scheme and the lower-cased value, so two participants that collide
// on one collide on the other: indexing one name (the NAPTR's where published) is enough to refuse a second
// participant at a name, e.g. "ABC" and "abc" of a case-sensitive scheme.
func (d *Domain) indexName(id identifier.ID) string {
	if d.NAPTR {
		return d.naptrOwner(id)
	}
	return d.cnameOwner(id)
}

// cnameFor reports whether participant id has a B- CNAME. A wildcard participant lives at one name,
// *.<scheme>.<zone>, where a CNAME cannot coexist with the NAPTR: in a domain publishing both kinds it gets only
// the NAPTR.
func (d *Domain) cnameFor(id identifier.ID) bool {
	return d.CNAME && !(id.Value == Wildcard && d.NAPTR)
}

// smpRecords returns the publisher record of smp: an A (AAAA) record of its physical address when that is an IP
// address, else a CNAME to the host of its logical address (an A record when that host is an IP literal).
// Only domains that publish CNAMEs have publisher names.
func (d *Domain) smpRecords(smp SMP) []zone.Record {
	if !d.CNAME {
		return nil
	}
	name := PublisherName(smp.ID, d.Zone)
	if r, ok := addrRecord(name, smp.PhysicalAddress, d.TTL); ok {
		return []zone.Record{r}
	}
	u, err := url.Parse(smp.LogicalAddress)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	if r, ok := addrRecord(name, u.Hostname(), d.TTL); ok {
		return []zone.Record{r}
	}
	return []zone.Record{{Name: name, Type: zone.TypeCNAME, TTL: d.TTL, Target: fqdn(u.Hostname())}}
}

func addrRecord(name, s string, ttl uint32) (zone.Record, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return zone.Record{}, false
	}
	a = a.Unmap()
	t := zone.TypeA
	if a.Is6() {
		t = zone.TypeAAAA
	}
	return zone.Record{Name: name, Type: t, TTL: ttl, Addr: a}, true
}

func fqdn(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}
