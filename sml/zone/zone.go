// Package zone holds the neutral DNS zone data the SML produces and the DNS server serves: apex settings, records
// and committed changes. It has no DNS library types, so the SML's business code never depends on one; only
// sml/dnsserver turns these values into wire format.
package zone

import "net/netip"

// Type is a DNS record type, by its IANA number.
type Type uint16

// The record types the SML publishes.
const (
	TypeA     Type = 1
	TypeNS    Type = 2
	TypeCNAME Type = 5
	TypeSOA   Type = 6
	TypeAAAA  Type = 28
	TypeNAPTR Type = 35
)

// NAPTR is the data of a NAPTR record (RFC 3403).
type NAPTR struct {
	Order, Preference uint16
	Flags             string // "U"
	Service           string // "Meta:SMP"
	Regexp            string // "!^.*$!http://smp.example.org!"
	Replacement       string // "."
}

// Record is one resource record. Name is a lower-case, fully qualified owner name.
type Record struct {
	Name string
	Type Type
	TTL  uint32
	// Target is the data of CNAME and NS records: a fully qualified name.
	Target string
	// Addr is the data of A and AAAA records.
	Addr netip.Addr
	// NAPTR is the data of NAPTR records.
	NAPTR *NAPTR
}

// SOA is the data of a zone's SOA record. Durations are in seconds.
type SOA struct {
	MName, RName                         string
	Serial                               uint32
	Refresh, Retry, Expire, Minimum, TTL uint32
}

// Apex is a zone's name with its SOA (current serial) and name servers.
type Apex struct {
	Zone string // lower-case FQDN
	SOA  SOA
	NS   []string // FQDNs
	TTL  uint32   // TTL of the NS records
}

// Change is one committed step of a zone: from serial From to serial To, the records deleted and added.
type Change struct {
	Zone    string
	From    uint32
	To      uint32
	Deleted []Record
	Added   []Record
}
